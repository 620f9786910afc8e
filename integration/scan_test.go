package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"edp.buildth.ing/devfw-cicd/stagex/hack/imageset"
	"edp.buildth.ing/devfw-cicd/stagex/internal/solve"

	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx/v2/common"
	spdx "github.com/spdx/tools-golang/spdx/v2/v2_3"

	"edp.buildth.ing/devfw-cicd/stagex/spec"
)

// The offline scan fixtures: advisory records in vunnel's NVD format, from
// which grype-mkdb builds a Grype database with Grype's own build code, and
// a VEX document accepting the one that matches.
//
//   - CVE-2099-0001: busybox:busybox before 1.36.2, HIGH. The fixture
//     core-busybox declares 1.36.1: it must be found.
//   - CVE-2099-0002: musl-libc:musl before 1.2.5, CRITICAL. The fixture
//     core-musl declares 1.2.5, outside the range: it must not be.
const (
	scanRecords   = "testdata/scan/records"
	scanVEX       = "testdata/scan/accept-CVE-2099-0001.openvex.json"
	repoVEX       = "../policy/vex.openvex.json"
	seededCVE     = "CVE-2099-0001"
	outOfRangeCVE = "CVE-2099-0002"
	// scanTarget is the image scanned: it holds core-busybox and core-musl.
	scanTarget = "base"
)

// bakedSBOM returns the SPDX SBOM attested to one image of the baked set.
func bakedSBOM(t *testing.T, s *bakedSet, target string) []byte {
	t.Helper()
	_, atts, err := attestations(s.images[target].Ref)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range atts {
		if a.PredicateType == predicateSPDX {
			return a.Predicate
		}
	}
	t.Fatalf("%s: no SPDX attestation among %d", target, len(atts))
	return nil
}

// TestBakeSBOMsNameEveryStageXProduct: in the SBOM of every image of the
// set, each StageX package carries its upstream product's CPE, then the
// product's purl, then its pkg:oci purl, all with the (fixture) lock's
// version, exactly as images/stagex.products.yaml gives them; a package the
// products file marks none carries no CPE. A scanner matches on these.
func TestBakeSBOMsNameEveryStageXProduct(t *testing.T) {
	s := bakeAll(t)
	products, err := imageset.ReadProducts(s.root)
	if err != nil {
		t.Fatal(err)
	}
	withCPE, without := 0, 0
	for _, tg := range imageset.Images {
		doc, err := spdxjson.Read(bytes.NewReader(bakedSBOM(t, s, tg)))
		if err != nil {
			t.Fatalf("%s: SBOM does not parse: %v", tg, err)
		}
		for _, p := range doc.Packages {
			if p.PackageSupplier == nil || p.PackageSupplier.Supplier != "StageX" {
				continue
			}
			e, ok := products.Packages[p.PackageName]
			if !ok {
				t.Errorf("%s: StageX package %s has no entry in the products file", tg, p.PackageName)
				continue
			}
			refs := refStrings(p)
			if e.None != "" {
				without++
				if len(refs) != 1 || !strings.HasPrefix(refs[0], "PACKAGE-MANAGER purl pkg:oci/") {
					t.Errorf("%s: %s is none (%s), yet its refs are %q", tg, p.PackageName, e.None, refs)
				}
				continue
			}
			withCPE++
			vendor, product, _ := strings.Cut(e.CPE, ":")
			want := []string{
				common.CategorySecurity + " " + common.TypeSecurityCPE23Type + " " + spec.FormatCPE(vendor, product, p.PackageVersion),
				common.CategoryPackageManager + " purl " + e.PURL + "@" + p.PackageVersion,
			}
			if len(refs) != 3 || refs[0] != want[0] || refs[1] != want[1] || !strings.HasPrefix(refs[2], "PACKAGE-MANAGER purl pkg:oci/"+p.PackageName+"@") {
				t.Errorf("%s: %s refs =\n  %s\nwant\n  %s\n  PACKAGE-MANAGER purl pkg:oci/%s@…", tg, p.PackageName,
					strings.Join(refs, "\n  "), strings.Join(want, "\n  "), p.PackageName)
			}
		}
	}
	if withCPE == 0 {
		t.Fatal("no StageX package with a CPE in any SBOM")
	}
	t.Logf("StageX packages across %d SBOMs: %d with CPE and purl, %d marked none", len(imageset.Images), withCPE, without)
}

func refStrings(p *spdx.Package) []string {
	var out []string
	for _, r := range p.PackageExternalReferences {
		out = append(out, r.Category+" "+r.RefType+" "+r.Locator)
	}
	return out
}

// grypeReport is the part of Grype's JSON report the test reads.
type grypeReport struct {
	Matches        []grypeMatch `json:"matches"`
	IgnoredMatches []struct {
		grypeMatch
		AppliedIgnoreRules []struct {
			VexStatus string `json:"vex-status"`
		} `json:"appliedIgnoreRules"`
	} `json:"ignoredMatches"`
}

type grypeMatch struct {
	Vulnerability struct {
		ID       string `json:"id"`
		Severity string `json:"severity"`
	} `json:"vulnerability"`
	MatchDetails []struct {
		Type    string `json:"type"`
		Matcher string `json:"matcher"`
	} `json:"matchDetails"`
	Artifact struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	} `json:"artifact"`
}

// TestGrypeFindsTheSeededAdvisoryOffline runs the pinned Grype on the
// SBOM the frontend attested to a fixture image, against a database built
// offline from the fixture records: Grype reports the seeded advisory on
// core-busybox by its CPE and exits 2 at --fail-on high; the VEX document
// accepting it moves it to the ignored matches and the scan passes; the
// advisory whose range excludes the fixture's musl is reported by no run;
// and without the CPEs (the SBOM as it was before they were added) Grype
// finds nothing, which is what made the old scan pass by construction.
func TestGrypeFindsTheSeededAdvisoryOffline(t *testing.T) {
	grype := signTool(t, "grype")
	mkdb := signTool(t, "grype-mkdb")
	s := bakeAll(t)
	work := t.TempDir()

	dbRoot := filepath.Join(work, "db")
	if out, err := exec.Command(mkdb, "-in", scanRecords, "-out", dbRoot).CombinedOutput(); err != nil {
		t.Fatalf("grype-mkdb: %v\n%s", err, out)
	}
	sbomFile := filepath.Join(work, scanTarget+".spdx.json")
	sbom := bakedSBOM(t, s, scanTarget)
	if err := os.WriteFile(sbomFile, sbom, 0o644); err != nil {
		t.Fatal(err)
	}
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}

	// scan runs `grype sbom:<file> -o json --fail-on high [flags…]` offline
	// and returns its report and exit code.
	scan := func(file string, flags ...string) (grypeReport, int) {
		t.Helper()
		args := append([]string{"sbom:" + file, "-o", "json", "--fail-on", "high"}, flags...)
		cmd := exec.Command(grype, args...)
		cmd.Dir = work // no .grype.yaml of ours or the user's
		cmd.Env = append(os.Environ(),
			"XDG_CONFIG_HOME="+filepath.Join(work, "config"),
			"GRYPE_DB_CACHE_DIR="+dbRoot,
			"GRYPE_DB_AUTO_UPDATE=false",
			"GRYPE_DB_VALIDATE_AGE=false",
			"GRYPE_DB_VALIDATE_BY_HASH_ON_START=true",
			"GRYPE_DB_REQUIRE_UPDATE_CHECK=false",
			"GRYPE_CHECK_FOR_APP_UPDATE=false",
		)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		var exit *exec.ExitError
		switch {
		case errors.As(err, &exit):
			code = exit.ExitCode()
		case err != nil:
			t.Fatalf("grype %s: %v", strings.Join(args, " "), err)
		}
		var r grypeReport
		if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
			t.Fatalf("grype %s (exit %d): report does not parse: %v\nstderr:\n%s", strings.Join(args, " "), code, err, solve.TailLines(stderr.String(), 30))
		}
		t.Logf("grype %s: exit %d, %d matches, %d ignored", strings.Join(args, " "), code, len(r.Matches), len(r.IgnoredMatches))
		return r, code
	}

	// 1. No VEX: the seeded advisory is found on core-busybox 1.36.1 by the
	// CPE the SBOM carries, and the scan fails at high.
	r, code := scan(sbomFile)
	if code != 2 {
		t.Errorf("exit %d, want 2 (a finding at or above --fail-on high)", code)
	}
	found := false
	for _, m := range r.Matches {
		if m.Vulnerability.ID == outOfRangeCVE {
			t.Errorf("%s reported on %s %s, whose version is outside its range", outOfRangeCVE, m.Artifact.Name, m.Artifact.Version)
		}
		if m.Vulnerability.ID != seededCVE {
			continue
		}
		found = true
		if m.Artifact.Name != "core-busybox" || m.Artifact.Version != "1.36.1" || m.Vulnerability.Severity != "High" {
			t.Errorf("%s on %s %s severity %s, want core-busybox 1.36.1 High", seededCVE, m.Artifact.Name, m.Artifact.Version, m.Vulnerability.Severity)
		}
		if len(m.MatchDetails) == 0 || m.MatchDetails[0].Type != "cpe-match" {
			t.Errorf("%s matched by %+v, want a cpe-match", seededCVE, m.MatchDetails)
		}
	}
	if !found {
		t.Fatalf("%s not reported; matches: %+v", seededCVE, r.Matches)
	}

	// 2. The repository's VEX document accepts nothing of the kind: the
	// scan still fails, and Grype reads the document without complaint.
	if _, code := scan(sbomFile, "--vex", abs(repoVEX)); code != 2 {
		t.Errorf("with %s: exit %d, want 2", repoVEX, code)
	}

	// 3. A VEX statement not_affected for the advisory suppresses it: not
	// among the matches, listed as ignored by its VEX status, scan passes.
	r, code = scan(sbomFile, "--vex", abs(scanVEX))
	if code != 0 {
		t.Errorf("with %s: exit %d, want 0", scanVEX, code)
	}
	for _, m := range r.Matches {
		if m.Vulnerability.ID == seededCVE {
			t.Errorf("%s still reported with the VEX document that accepts it", seededCVE)
		}
	}
	ignored := false
	for _, m := range r.IgnoredMatches {
		if m.Vulnerability.ID == seededCVE && len(m.AppliedIgnoreRules) > 0 && m.AppliedIgnoreRules[0].VexStatus == "not_affected" {
			ignored = true
		}
		if m.Vulnerability.ID == outOfRangeCVE {
			t.Errorf("%s among the ignored matches: it must not match at all", outOfRangeCVE)
		}
	}
	if !ignored {
		t.Errorf("%s is not among the ignored matches as not_affected: %+v", seededCVE, r.IgnoredMatches)
	}

	// 4. The control: the same SBOM without its CPEs and product purls
	// finds nothing.
	var doc map[string]any
	if err := json.Unmarshal(sbom, &doc); err != nil {
		t.Fatal(err)
	}
	for _, p := range doc["packages"].([]any) {
		pkg := p.(map[string]any)
		refs, _ := pkg["externalRefs"].([]any)
		var kept []any
		for _, ref := range refs {
			if loc, _ := ref.(map[string]any)["referenceLocator"].(string); strings.HasPrefix(loc, "pkg:oci/") {
				kept = append(kept, ref)
			}
		}
		if refs != nil {
			pkg["externalRefs"] = kept
		}
	}
	bare, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	bareFile := filepath.Join(work, scanTarget+"-oci-purls-only.spdx.json")
	if err := os.WriteFile(bareFile, bare, 0o644); err != nil {
		t.Fatal(err)
	}
	if r, code := scan(bareFile); code != 0 || len(r.Matches) != 0 {
		t.Errorf("with pkg:oci purls only: exit %d, %d matches; want 0 and none", code, len(r.Matches))
	}
}
