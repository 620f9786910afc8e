package imageset

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/spec"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// bakeBlocks splits docker-bake.hcl into its top-level blocks, by
// "<kind> \"<name>\"", with each block's body. The file is simple enough
// (no nested blocks) for that to be exact.
func bakeBlocks(t *testing.T) map[string]string {
	t.Helper()
	src := readFile(t, filepath.Join(repoRoot(t), BakeFile))
	re := regexp.MustCompile(`(?m)^(target|group|variable) "([^"]+)" \{\n((?:.*\n)*?)\}\n`)
	out := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(src, -1) {
		out[m[1]+" "+m[2]] = m[3]
	}
	if len(out) == 0 {
		t.Fatal("no blocks found in " + BakeFile)
	}
	return out
}

func attr(body, name string) string {
	m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(name) + `\s*=\s*(.*)$`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return strings.TrimSpace(m[1])
}

// TestBakeFileMatchesSpecs: one target per spec in images/, named after it,
// the default group holds them all and the frontend, and every image target
// shares the settings of _image.
func TestBakeFileMatchesSpecs(t *testing.T) {
	blocks := bakeBlocks(t)
	specs, err := filepath.Glob(filepath.Join(repoRoot(t), SpecDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range specs {
		if !spec.IsCompanionFile(s) {
			names = append(names, strings.TrimSuffix(filepath.Base(s), ".yaml"))
		}
	}
	want := slices.Clone(Images)
	sort.Strings(want)
	sort.Strings(names)
	if !slices.Equal(names, want) {
		t.Fatalf("specs in images/ = %v, Images = %v", names, want)
	}
	for _, img := range Images {
		body, ok := blocks["target "+img]
		if !ok {
			t.Errorf("no target %q", img)
			continue
		}
		if got := attr(body, "dockerfile"); got != `"`+img+`.yaml"` {
			t.Errorf("target %s: dockerfile = %s", img, got)
		}
		if got := attr(body, "inherits"); got != `["_image"]` {
			t.Errorf("target %s: inherits = %s, want [\"_image\"]", img, got)
		}
		if got := attr(body, "tags"); got != `["${REGISTRY}/`+Repo(img)+`:${TAG}"]` {
			t.Errorf("target %s: tags = %s", img, got)
		}
	}
	group := attr(blocks["group default"], "targets")
	var inGroup []string
	for _, m := range regexp.MustCompile(`"([^"]+)"`).FindAllStringSubmatch(group, -1) {
		inGroup = append(inGroup, m[1])
	}
	all := AllTargets()
	sort.Strings(all)
	sort.Strings(inGroup)
	if !slices.Equal(inGroup, all) {
		t.Errorf("group default = %v, want %v", inGroup, all)
	}

	common := blocks["target _image"]
	for name, want := range map[string]string{
		"context":   `"images"`,
		"platforms": `["linux/amd64"]`,
		"attest":    `["type=provenance,mode=max", "type=sbom"]`,
		"output":    `["type=image,oci-mediatypes=true"]`,
	} {
		if got := attr(common, name); got != want {
			t.Errorf("_image: %s = %s, want %s", name, got, want)
		}
	}
	if got := attr(common, `"`+FrontendSyntax+`"`); got != `FRONTEND_IMAGE == "" ? "target:frontend" : "docker-image://${FRONTEND_IMAGE}"` {
		t.Errorf("_image: the named context over the syntax image = %s", got)
	}
	for _, arg := range []string{"SOURCE_DATE_EPOCH", "STAGEX_REGISTRY", "STAGEX_LOCK", "STAGEX_VCS_LABELS", "STAGEX_CHECK"} {
		if got := attr(common, arg); got != arg {
			t.Errorf("_image: build arg %s = %q, want the variable", arg, got)
		}
	}
	for _, v := range []string{"REGISTRY", "TAG", "SOURCE_DATE_EPOCH", "STAGEX_REGISTRY", "STAGEX_LOCK", "STAGEX_VCS_LABELS", "STAGEX_CHECK"} {
		if _, ok := blocks["variable "+v]; !ok {
			t.Errorf("no variable %s", v)
		}
	}
	// Every image is checked, strictly, unless the caller says otherwise.
	if got := attr(blocks["variable STAGEX_CHECK"], "default"); got != `"strict"` {
		t.Errorf("variable STAGEX_CHECK defaults to %s, want \"strict\"", got)
	}
	if got := attr(blocks["variable SOURCE_DATE_EPOCH"], "default"); got != `"0"` {
		t.Errorf("SOURCE_DATE_EPOCH default = %s, want a fixed \"0\"", got)
	}
	if got := attr(blocks["variable REGISTRY"], "default"); got != `"edp.buildth.ing/devfw-cicd"` {
		t.Errorf("REGISTRY default = %s", got)
	}
}

// The syntax line of every spec names the frontend the bake file replaces.
func TestSpecsNameTheReplacedFrontend(t *testing.T) {
	for _, img := range Images {
		first, _, _ := strings.Cut(readFile(t, filepath.Join(repoRoot(t), SpecDir, img+".yaml")), "\n")
		if first != "# syntax="+FrontendSyntax {
			t.Errorf("%s.yaml starts with %q, want the syntax line naming %s", img, first, FrontendSyntax)
		}
	}
}

// PALLET_GO_DIGEST repeats the Dockerfile's GO_IMAGE digest for mirrors;
// the two must not drift apart.
func TestPalletGoDigestMatchesDockerfile(t *testing.T) {
	m := regexp.MustCompile(`(?m)^ARG GO_IMAGE=docker\.io/stagex/pallet-go@(sha256:[0-9a-f]{64})$`).FindStringSubmatch(readFile(t, filepath.Join(repoRoot(t), "Dockerfile")))
	if m == nil {
		t.Fatal("no ARG GO_IMAGE=docker.io/stagex/pallet-go@sha256:… in the Dockerfile")
	}
	if got := attr(bakeBlocks(t)["variable PALLET_GO_DIGEST"], "default"); got != `"`+m[1]+`"` {
		t.Errorf("PALLET_GO_DIGEST = %s, Dockerfile has %s", got, m[1])
	}
}

type tarEntry struct {
	name     string
	mode     int64
	uid      int
	modTime  time.Time
	contents string
}

func untar(t *testing.T, gz []byte) []tarEntry {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var out []tarEntry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out = append(out, tarEntry{h.Name, h.Mode, h.Uid, h.ModTime, string(b)})
	}
}

func TestFixtureArchive(t *testing.T) {
	a, err := BuildFixtureArchive("temurin-jre", 1)
	if err != nil {
		t.Fatal(err)
	}
	again, err := BuildFixtureArchive("temurin-jre", 1)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Data, again.Data) {
		t.Fatal("two builds of the fixture archive differ")
	}
	sum := sha256.Sum256(a.Data)
	if a.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("SHA256 = %s, not the data's", a.SHA256)
	}
	var names []string
	for _, e := range untar(t, a.Data) {
		names = append(names, e.name)
		if e.uid != fixtureOwner || !e.modTime.Equal(fixtureTime) {
			t.Errorf("%s: uid %d, time %v; want %d and %v, so that the archive layer has to rewrite both", e.name, e.uid, e.modTime, fixtureOwner, fixtureTime)
		}
		if e.name == "temurin-jre-fixture-0/bin/java" && (e.mode != 0o755 || !strings.HasPrefix(e.contents, "#!/bin/sh\n")) {
			t.Errorf("bin/java: mode %o, content %q", e.mode, e.contents)
		}
	}
	want := []string{
		"temurin-jre-fixture-0/", "temurin-jre-fixture-0/README", "temurin-jre-fixture-0/bin/",
		"temurin-jre-fixture-0/bin/java", "temurin-jre-fixture-0/lib/", "temurin-jre-fixture-0/lib/libjli.so",
		"temurin-jre-fixture-0/release",
	}
	if !slices.Equal(names, want) {
		t.Errorf("entries = %v, want %v", names, want)
	}

	// Another strip-components, another depth; another name, a README only.
	b, err := BuildFixtureArchive("other", 2)
	if err != nil {
		t.Fatal(err)
	}
	names = nil
	for _, e := range untar(t, b.Data) {
		names = append(names, e.name)
	}
	if want := []string{"other-fixture-0/", "other-fixture-0/other-fixture-1/", "other-fixture-0/other-fixture-1/README"}; !slices.Equal(names, want) {
		t.Errorf("entries = %v, want %v", names, want)
	}
}

func TestCompare(t *testing.T) {
	img := func(target, d string) *Image { return &Image{Target: target, Digest: d} }
	a := []*Image{img("base", "sha256:1"), img("base-java", "sha256:2"), img("frontend", "sha256:3")}
	if d := Compare(a, []*Image{img("base", "sha256:1"), img("base-java", "sha256:2"), img("frontend", "sha256:3")}); len(d) != 0 {
		t.Errorf("equal builds: differ = %v", d)
	}
	d := Compare(a, []*Image{img("base", "sha256:1"), img("base-java", "sha256:9"), img("base-go", "sha256:4")})
	if want := []string{"base-java", "frontend", "base-go"}; !slices.Equal(d, want) {
		t.Errorf("differ = %v, want %v", d, want)
	}
	if d := Compare([]*Image{img("base", "")}, []*Image{img("base", "")}); !slices.Equal(d, []string{"base"}) {
		t.Errorf("an empty digest must never count as reproducible: %v", d)
	}
}

func TestDigestsAndTable(t *testing.T) {
	imgs := []*Image{
		{Target: "base", Digest: "sha256:" + strings.Repeat("a", 64), Size: 1536, Layers: 5, Predicates: []string{"https://slsa.dev/provenance/v1", "https://spdx.dev/Document"}},
		{Target: "frontend", Digest: "sha256:" + strings.Repeat("b", 64), Size: 7 << 20, Layers: 1},
	}
	md := string(Digests(DigestsInfo{Command: "make demo", Notes: []string{"fixtures"}, Lock: "l", Epoch: "0", Revision: "r", Builder: "b"}, imgs))
	for _, want := range []string{
		"<!-- Generated by `make demo`",
		"> fixtures\n",
		"| stagex-base | `sha256:" + strings.Repeat("a", 64) + "` | 1.5 KiB | 5 | provenance, sbom |\n",
		"| stagex-frontend | `sha256:" + strings.Repeat("b", 64) + "` | 7.0 MiB | 1 | none |\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("DIGESTS.md lacks %q:\n%s", want, md)
		}
	}
	var tab bytes.Buffer
	if err := WriteTable(&tab, imgs); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(tab.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "IMAGE") || !strings.Contains(lines[1], "provenance,sbom") || !strings.Contains(lines[2], "7.0 MiB") {
		t.Errorf("table =\n%s", tab.String())
	}
}

func TestPrebuiltFrontend(t *testing.T) {
	set, err := PrebuiltFrontend("/repo", "/repo/.cache/imageset/demo/frontend")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"frontend.target=frontend-prebuilt", "frontend.context=.cache/imageset/demo/frontend", "frontend.dockerfile=/repo/Dockerfile"}
	if !slices.Equal(set, want) {
		t.Errorf("set = %v, want %v", set, want)
	}
	if _, err := PrebuiltFrontend("/repo", "/tmp/frontend"); err == nil {
		t.Error("a folder outside the repository must be refused: bake would need an entitlement to read it")
	}
}

func TestRegistryHelpers(t *testing.T) {
	for in, want := range map[string]string{
		"docker.io/stagex":        "registry-1.docker.io",
		"quay.io/stagex":          "quay.io",
		"127.0.0.1:5000/stagex":   "127.0.0.1:5000",
		"mirror.example:443/a/b/": "mirror.example:443",
	} {
		if got := registryEndpoint(in); got != want {
			t.Errorf("registryEndpoint(%q) = %q, want %q", in, got, want)
		}
	}
	for host, want := range map[string]bool{"127.0.0.1:5000": true, "localhost": true, "[::1]:80": true, "10.0.0.1:5000": false, "docker.io": false} {
		if got := isLoopback(host); got != want {
			t.Errorf("isLoopback(%q) = %v", host, got)
		}
	}
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := HumanSize(n); got != want {
			t.Errorf("HumanSize(%d) = %q, want %q", n, got, want)
		}
	}
}
