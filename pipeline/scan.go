package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/signing"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
)

// SPDXType is the predicate type of the SPDX SBOM BuildKit attaches.
const SPDXType = "https://spdx.dev/Document"

// VulnType is cosign's vulnerability-scan predicate (`cosign attest --type
// vuln`).
const VulnType = "https://cosign.sigstore.dev/attestation/vuln/v1"

// Severities, lowest first, as the scanners spell them upper-cased.
var Severities = []string{"LOW", "MEDIUM", "HIGH", "CRITICAL"}

// The scanners the scan step runs.
const (
	Grype = "grype"
	Trivy = "trivy"
)

// ScanOptions say how to scan.
type ScanOptions struct {
	// Scanners are grype and/or trivy, each found on PATH.
	Scanners []string
	// FailSeverity is the lowest severity that fails the scan (LOW …
	// CRITICAL, any case).
	FailSeverity string
	// VEX is the OpenVEX document both scanners apply.
	VEX string
	// Out is the folder for the reports, the predicates and the summary.
	Out string
	// AttestKeys sign each scanner's results as a vuln attestation of the
	// image, whether the scan passed or not; none attests nothing.
	AttestKeys []Key
	Format     signing.Format
	// RunURI names the run in the predicate (the forge's run URL).
	RunURI string
	// Log receives the scanners' tables; Summary the Markdown summary.
	Log, Summary io.Writer
}

// threshold returns the severities at or above s.
func threshold(s string) ([]string, error) {
	i := slices.Index(Severities, strings.ToUpper(s))
	if i < 0 {
		return nil, fmt.Errorf("fail severity %q: want low, medium, high or critical", s)
	}
	return Severities[i:], nil
}

func (o *ScanOptions) check() error {
	if _, err := threshold(o.FailSeverity); err != nil {
		return err
	}
	if len(o.Scanners) == 0 {
		return errors.New("scan: no scanner\nhint: SCANNERS=grype trivy")
	}
	for _, s := range o.Scanners {
		if s != Grype && s != Trivy {
			return fmt.Errorf("scanner %q: want grype or trivy", s)
		}
		if _, err := exec.LookPath(s); err != nil {
			return fmt.Errorf("scanner %s: %w\nhint: hack/tools.sh %s builds the pinned one", s, err, s)
		}
	}
	if _, err := os.Stat(o.VEX); err != nil {
		return fmt.Errorf("VEX document: %w", err)
	}
	return os.MkdirAll(o.Out, 0o755)
}

// Scan scans every image: each SPDX SBOM attached to it (the StageX
// packages by CPE and purl, which only the SBOM knows) and the image itself
// (what the scanners' own catalogers find in its files), with every
// scanner; a finding at or above the fail severity that the VEX document
// does not accept fails the image.
func Scan(ctx context.Context, s *State, o ScanOptions, opts ...remote.Option) error {
	if err := o.check(); err != nil {
		return err
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Summary == nil {
		o.Summary = io.Discard
	}
	return s.Run(StepScan, func(img *Image) (string, error) {
		return scanImage(ctx, img, o, opts)
	})
}

// scanInput is one thing a scanner reads: an SBOM file or the image.
type scanInput struct {
	name string // "sbom-1", "image"
	sbom string // the SBOM file, or "" for the image
}

func scanImage(ctx context.Context, img *Image, o ScanOptions, opts []remote.Option) (string, error) {
	d, err := img.Ref()
	if err != nil {
		return "", err
	}
	sev, _ := threshold(o.FailSeverity)
	sboms, _, err := signing.Attached(ctx, d, SPDXType, opts...)
	if err != nil {
		return "", err
	}
	var inputs []scanInput
	for i, sb := range sboms {
		data, err := protojson.Marshal(sb.Predicate)
		if err != nil {
			return "", err
		}
		f := filepath.Join(o.Out, fmt.Sprintf("%s.sbom-%d.spdx.json", img.Target, i+1))
		if err := os.WriteFile(f, data, 0o644); err != nil {
			return "", err
		}
		inputs = append(inputs, scanInput{name: fmt.Sprintf("sbom-%d", i+1), sbom: f})
	}
	inputs = append(inputs, scanInput{name: "image"})

	fmt.Fprintf(o.Summary, "### %s\n\n| input | scanner | findings | at or above %s | accepted (VEX) |\n|---|---|---|---|---|\n",
		img.Target, strings.ToLower(sev[0]))
	started := time.Now().UTC()
	reports := map[string]map[string]json.RawMessage{} // scanner → input → report
	over := 0
	for _, in := range inputs {
		for _, sc := range o.Scanners {
			file := filepath.Join(o.Out, fmt.Sprintf("%s.%s.%s.json", img.Target, in.name, sc))
			c, err := runScanner(ctx, sc, in, d, file, o)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(o.Summary, "| %s | %s | %d | %d | %d |\n", in.name, sc, c.findings, c.overIn(sev), c.accepted)
			over += c.overIn(sev)
			if reports[sc] == nil {
				reports[sc] = map[string]json.RawMessage{}
			}
			reports[sc][in.name] = c.raw
		}
	}
	fmt.Fprintln(o.Summary)
	finished := time.Now().UTC()
	for _, sc := range o.Scanners {
		pred, err := vulnPredicate(ctx, sc, reports[sc], o, started, finished)
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(o.Out, img.Target+".vuln."+sc+".json"), pred, 0o644); err != nil {
			return "", err
		}
		for _, k := range o.AttestKeys {
			if err := attestVuln(ctx, d, k, o.Format, pred, opts); err != nil {
				return "", fmt.Errorf("attesting the %s results with %s: %w", sc, k.Name, err)
			}
		}
	}
	if over > 0 {
		return "", fmt.Errorf("%d finding(s) at or above %s (reports in %s); accept one only through %s", over, strings.ToLower(sev[0]), o.Out, o.VEX)
	}
	return fmt.Sprintf("no finding at or above %s", strings.ToLower(sev[0])), nil
}

// counts are what one scanner found in one input.
type counts struct {
	findings   int
	severities []string // of each finding, upper case
	accepted   int      // suppressed by the VEX document
	raw        json.RawMessage
}

func (c counts) overIn(sev []string) int {
	n := 0
	for _, s := range c.severities {
		if slices.Contains(sev, s) {
			n++
		}
	}
	return n
}

// runScanner runs one scanner on one input, writes its JSON report to file
// and counts its findings. The verdict is ours, from the report: a
// scanner's own exit code only says whether it ran.
func runScanner(ctx context.Context, scanner string, in scanInput, d name.Digest, file string, o ScanOptions) (counts, error) {
	var args []string
	switch {
	case scanner == Grype && in.sbom != "":
		args = []string{"sbom:" + in.sbom}
	case scanner == Grype:
		args = []string{"registry:" + d.String()}
	case in.sbom != "":
		args = []string{"sbom", in.sbom}
	default:
		args = []string{"image", d.String()}
	}
	if scanner == Grype {
		args = append(args, "--vex", o.VEX, "-o", "table", "-o", "json="+file)
	} else {
		args = append(args, "--vex", o.VEX, "--show-suppressed", "--format", "json", "--output", file)
	}
	// A registry on loopback speaks plain HTTP (go-containerregistry's
	// rule, which stagex and buildx follow); the scanners must be told.
	var env []string
	if in.sbom == "" && d.Registry.Scheme() == "http" {
		if scanner == Grype {
			env = append(env, "GRYPE_REGISTRY_INSECURE_USE_HTTP=true")
		} else {
			args = append(args, "--insecure")
		}
	}
	// A report an earlier run left must not stand in for this one.
	if err := os.Remove(file); err != nil && !errors.Is(err, os.ErrNotExist) {
		return counts{}, err
	}
	fmt.Fprintf(o.Log, "== %s %s: %s %s\n", filepath.Base(file), in.name, scanner, strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, scanner, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = o.Log, io.MultiWriter(o.Log, &stderr)
	if err := cmd.Run(); err != nil {
		return counts{}, fmt.Errorf("%s %s: %w\n%s", scanner, strings.Join(args, " "), err, tail(stderr.String(), 20))
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return counts{}, fmt.Errorf("%s wrote no report: %w", scanner, err)
	}
	c, err := countFindings(scanner, raw)
	if err != nil {
		return counts{}, fmt.Errorf("%s report %s: %w", scanner, file, err)
	}
	c.raw = raw
	return c, nil
}

// countFindings reads a Grype or Trivy JSON report.
func countFindings(scanner string, raw []byte) (counts, error) {
	var c counts
	if scanner == Grype {
		var r struct {
			Matches []struct {
				Vulnerability struct {
					Severity string `json:"severity"`
				} `json:"vulnerability"`
			} `json:"matches"`
			Ignored []struct {
				Rules []struct {
					VEXStatus string `json:"vex-status"`
				} `json:"appliedIgnoreRules"`
			} `json:"ignoredMatches"`
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			return c, err
		}
		if r.Matches == nil && !bytes.Contains(raw, []byte(`"matches"`)) {
			return c, errors.New("no matches list: not a Grype report")
		}
		for _, m := range r.Matches {
			c.severities = append(c.severities, strings.ToUpper(m.Vulnerability.Severity))
		}
		for _, m := range r.Ignored {
			if slices.ContainsFunc(m.Rules, func(r struct {
				VEXStatus string `json:"vex-status"`
			}) bool {
				return r.VEXStatus != ""
			}) {
				c.accepted++
			}
		}
	} else {
		var r struct {
			SchemaVersion int `json:"SchemaVersion"`
			Results       []struct {
				Vulnerabilities []struct {
					Severity string `json:"Severity"`
				} `json:"Vulnerabilities"`
				Modified []json.RawMessage `json:"ExperimentalModifiedFindings"`
			} `json:"Results"`
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			return c, err
		}
		if r.SchemaVersion == 0 {
			return c, errors.New("no SchemaVersion: not a Trivy report")
		}
		for _, res := range r.Results {
			for _, v := range res.Vulnerabilities {
				c.severities = append(c.severities, strings.ToUpper(v.Severity))
			}
			c.accepted += len(res.Modified)
		}
	}
	c.findings = len(c.severities)
	return c, nil
}

// vulnPredicate is cosign's vuln predicate for one scanner's reports.
func vulnPredicate(ctx context.Context, scanner string, reports map[string]json.RawMessage, o ScanOptions, started, finished time.Time) ([]byte, error) {
	version, err := scannerVersion(ctx, scanner)
	if err != nil {
		return nil, err
	}
	module := map[string]string{Grype: "github.com/anchore/grype", Trivy: "github.com/aquasecurity/trivy"}[scanner]
	sev, _ := threshold(o.FailSeverity)
	p := map[string]any{
		"invocation": map[string]any{
			"parameters": map[string]string{"fail_severity": strings.ToLower(sev[0]), "vex": o.VEX},
			"uri":        o.RunURI,
			"builder.id": "stagex pipeline scan",
		},
		"scanner": map[string]any{
			"uri":     "pkg:golang/" + module + "@v" + strings.TrimPrefix(version, "v"),
			"version": version,
			"db":      map[string]string{"uri": "", "version": ""},
			"result":  reports,
		},
		"metadata": map[string]string{
			"scanStartedOn":  started.Format(time.RFC3339),
			"scanFinishedOn": finished.Format(time.RFC3339),
		},
	}
	return json.MarshalIndent(p, "", "  ")
}

func scannerVersion(ctx context.Context, scanner string) (string, error) {
	args := []string{"version", "-o", "json"}
	if scanner == Trivy {
		args = []string{"version", "--format", "json"}
	}
	out, err := exec.CommandContext(ctx, scanner, args...).Output()
	if err != nil {
		return "", fmt.Errorf("%s version: %w", scanner, err)
	}
	var v struct {
		Grype string `json:"version"`
		Trivy string `json:"Version"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		return "", fmt.Errorf("%s version: %w", scanner, err)
	}
	if v.Grype+v.Trivy == "" {
		return "", fmt.Errorf("%s version: no version in %s", scanner, out)
	}
	return v.Grype + v.Trivy, nil
}

// attestVuln signs pred as a vuln attestation of d.
func attestVuln(ctx context.Context, d name.Digest, k Key, f signing.Format, pred []byte, opts []remote.Option) error {
	var st structpb.Struct
	if err := protojson.Unmarshal(pred, &st); err != nil {
		return err
	}
	statement, err := signing.Statement(d, VulnType, &st)
	if err != nil {
		return err
	}
	_, err = signing.Attest(ctx, d, k.Key, f, VulnType, statement, opts...)
	return err
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
