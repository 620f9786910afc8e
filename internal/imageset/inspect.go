package imageset

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"text/tabwriter"

	"edp.buildth.ing/devfw-cicd/stagex/bake"
	"edp.buildth.ing/devfw-cicd/stagex/frontend"
	"edp.buildth.ing/devfw-cicd/stagex/rebuild"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Image is one built image as the tables show it.
type Image struct {
	Target string
	Ref    string // where it was read: <registry>/<repo>@<index digest>
	Index  string // the exported digest: the index (image + attestations)
	// Digest is the platform manifest's digest, the one two builds of the
	// same inputs agree on (the index also holds the provenance, whose
	// times differ from build to build).
	Digest      string
	Platform    string
	Size        int64    // compressed layers, what a pull downloads
	Layers      int      // number of layers
	Predicates  []string // in-toto predicate types attested for it, sorted
	Config      *v1.ConfigFile
	LayerDescrs []v1.Descriptor
	// Check is the build-time check's attestation (STAGEX_CHECK), nil
	// when the image carries none.
	Check *frontend.CheckPredicate
}

// Inspect reads an image index from a registry and picks the platform's
// manifest and its attestations. Loopback registries are spoken to over
// plain HTTP; others with the credentials of the Docker config.
func Inspect(ctx context.Context, target, ref string) (*Image, error) {
	var opts []name.Option
	if isLoopback(RegistryHost(ref)) {
		opts = append(opts, name.Insecure)
	}
	r, err := name.ParseReference(ref, opts...)
	if err != nil {
		return nil, err
	}
	ro := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}
	desc, err := remote.Get(r, ro...)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", ref, err)
	}
	if !desc.MediaType.IsIndex() {
		return nil, fmt.Errorf("%s is a single manifest (%s), not an index with attestations", ref, desc.MediaType)
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, err
	}
	return inspectIndex(target, ref, desc.Digest.String(), idx)
}

// InspectLayout reads the image a bake target exported as an OCI layout
// folder (output type=oci,tar=false).
func InspectLayout(target, dir string) (*Image, error) {
	outer, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, err
	}
	om, err := outer.IndexManifest()
	if err != nil {
		return nil, err
	}
	if len(om.Manifests) != 1 || !om.Manifests[0].MediaType.IsIndex() {
		return nil, fmt.Errorf("%s: want one image index in the layout, got %d entries", dir, len(om.Manifests))
	}
	d := om.Manifests[0].Digest
	idx, err := outer.ImageIndex(d)
	if err != nil {
		return nil, err
	}
	return inspectIndex(target, dir, d.String(), idx)
}

// inspectIndex picks the platform's manifest out of an image index, and the
// attestations made for it.
func inspectIndex(target, ref, index string, idx v1.ImageIndex) (*Image, error) {
	img := &Image{Target: target, Ref: ref, Index: index, Platform: Platform}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	ms := rebuild.ImageManifests(im, Platform)
	switch {
	case len(ms) > 1:
		return nil, fmt.Errorf("%s has two %s manifests", ref, Platform)
	case len(ms) == 0:
		return nil, fmt.Errorf("%s has no %s manifest", ref, Platform)
	}
	manifest := ms[0]
	img.Digest = manifest.Digest.String()
	pm, err := idx.Image(manifest.Digest)
	if err != nil {
		return nil, err
	}
	m, err := pm.Manifest()
	if err != nil {
		return nil, err
	}
	img.Layers = len(m.Layers)
	img.LayerDescrs = m.Layers
	for _, l := range m.Layers {
		img.Size += l.Size
	}
	if img.Config, err = pm.ConfigFile(); err != nil {
		return nil, err
	}
	for _, m := range rebuild.AttestationManifests(im, manifest.Digest) {
		att, err := idx.Image(m.Digest)
		if err != nil {
			return nil, err
		}
		am, err := att.Manifest()
		if err != nil {
			return nil, err
		}
		for _, l := range am.Layers {
			p := l.Annotations[rebuild.AnnotationPredicate]
			if p != "" {
				img.Predicates = append(img.Predicates, p)
			}
			if p == frontend.CheckPredicateType {
				if img.Check, err = readCheckPredicate(att, l.Digest); err != nil {
					return nil, fmt.Errorf("%s: the check attestation: %w", ref, err)
				}
			}
		}
	}
	sort.Strings(img.Predicates)
	return img, nil
}

// InspectAll reads every result of a bake run, in the order of targets.
func InspectAll(ctx context.Context, targets []string, results map[string]bake.Result) ([]*Image, error) {
	var out []*Image
	for _, t := range targets {
		r, ok := results[t]
		if !ok || len(r.Names) == 0 {
			return nil, fmt.Errorf("bake reported no pushed image for target %s", t)
		}
		repo, _, _ := strings.Cut(r.Names[0], "@")
		if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
			repo = repo[:i]
		}
		img, err := Inspect(ctx, t, repo+"@"+r.Digest)
		if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	return out, nil
}

func isLoopback(host string) bool {
	h, _, err := net.SplitHostPort(host)
	if err != nil {
		h = host
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// readCheckPredicate reads the check attestation's predicate from its
// layer (an in-toto statement, stored uncompressed).
func readCheckPredicate(att v1.Image, d v1.Hash) (*frontend.CheckPredicate, error) {
	l, err := att.LayerByDigest(d)
	if err != nil {
		return nil, err
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var st struct {
		Predicate frontend.CheckPredicate `json:"predicate"`
	}
	if err := json.NewDecoder(rc).Decode(&st); err != nil {
		return nil, err
	}
	return &st.Predicate, nil
}

// WriteCheckTable prints what the build-time check and the smoke tests
// found in each image, from the images' check attestations. A test that
// did not run says why; it is never counted as passed.
func WriteCheckTable(w io.Writer, imgs []*Image) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "IMAGE\tCHECK\tEFFICIENCY\tFINDINGS (error/warning/accepted)\tSMOKE TESTS\n")
	for _, img := range imgs {
		c := img.Check
		if c == nil || c.Report == nil {
			fmt.Fprintf(tw, "%s\tnot checked\t-\t-\t-\n", Repo(img.Target))
			continue
		}
		verdict := "passed"
		if !c.Report.Passed {
			verdict = "FAILED"
		}
		eff := "-"
		if e := c.Report.Efficiency; e != nil {
			eff = fmt.Sprintf("%.1f %% (%s wasted)", e.Percent, HumanSize(e.WastedBytes))
		}
		sum := c.Report.Summary
		fmt.Fprintf(tw, "%s\t%s (%s)\t%s\t%d/%d/%d\t%s\n", Repo(img.Target), verdict, c.Mode, eff,
			sum["error"], sum["warning"], sum["accepted"], testSummary(c.Tests))
	}
	return tw.Flush()
}

// testSummary counts the tests by outcome: "2 passed, 3 not run: fixture".
func testSummary(tests []frontend.TestResult) string {
	if len(tests) == 0 {
		return "none"
	}
	counts := map[string]int{}
	var order []string
	for _, t := range tests {
		k := string(t.Status)
		if t.Reason != "" {
			k += ": " + t.Reason
		}
		if counts[k] == 0 {
			order = append(order, k)
		}
		counts[k]++
	}
	parts := make([]string, len(order))
	for i, k := range order {
		parts[i] = fmt.Sprintf("%d %s", counts[k], k)
	}
	return strings.Join(parts, ", ")
}

// PredicateNames maps the in-toto predicate types to short names.
func PredicateNames(types []string) []string {
	var out []string
	for _, p := range types {
		switch {
		case strings.HasPrefix(p, "https://slsa.dev/provenance/"):
			out = append(out, "provenance")
		case p == "https://spdx.dev/Document" || strings.Contains(p, "cyclonedx"):
			out = append(out, "sbom")
		case p == frontend.CheckPredicateType:
			out = append(out, "check")
		default:
			out = append(out, p)
		}
	}
	return out
}

// HumanSize prints a byte count in binary units, as registries' UIs do.
func HumanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, exp := float64(n), 0
	for v >= unit && exp < 4 {
		v /= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGT"[exp-1])
}

// WriteTable prints image, platform manifest digest, size, layers and
// attestations, one image a line.
func WriteTable(w io.Writer, imgs []*Image) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "IMAGE\tPLATFORM MANIFEST (%s)\tSIZE\tLAYERS\tATTESTATIONS\n", Platform)
	for _, img := range imgs {
		att := strings.Join(PredicateNames(img.Predicates), ",")
		if att == "" {
			att = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", Repo(img.Target), img.Digest, HumanSize(img.Size), img.Layers, att)
	}
	return tw.Flush()
}

// Compare returns the targets whose platform manifest digests differ
// between two builds of the same targets (or that either build lacks).
func Compare(a, b []*Image) []string {
	byTarget := map[string]string{}
	for _, img := range b {
		byTarget[img.Target] = img.Digest
	}
	var differ []string
	seen := map[string]bool{}
	for _, img := range a {
		seen[img.Target] = true
		if d, ok := byTarget[img.Target]; !ok || img.Digest == "" || d != img.Digest {
			differ = append(differ, img.Target)
		}
	}
	for _, img := range b {
		if !seen[img.Target] {
			differ = append(differ, img.Target)
		}
	}
	return differ
}
