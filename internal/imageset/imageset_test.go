package imageset

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"edp.buildth.ing/devfw-cicd/stagex/bake"
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

// loadSet reads the set from the repository's bake file with the pinned
// buildx (hack/tools.sh builds it the first time).
func loadSet(t *testing.T, vars map[string]string, targets ...string) (*Set, *bake.Definition) {
	t.Helper()
	ctx := context.Background()
	bin, err := Buildx(ctx, repoRoot(t), io.Discard)
	if err != nil {
		t.Fatalf("the pinned buildx: %v", err)
	}
	b := &bake.Builder{Command: []string{bin}, Env: []string{"BUILDX_CONFIG=" + t.TempDir()}}
	if len(targets) == 0 {
		targets = []string{DefaultGroup}
	}
	def, err := b.Print(ctx, bake.Bake{Root: repoRoot(t), File: BakeFile, Vars: vars, Targets: targets})
	if err != nil {
		t.Fatal(err)
	}
	set, err := FromDefinition(def)
	if err != nil && slices.Equal(targets, []string{DefaultGroup}) {
		t.Fatal(err)
	}
	return set, def
}

// TestBakeFileMatchesSpecs: the default group's images, as bake resolves
// them, are the specs in images/ (one target per spec, named after it),
// with the settings every image shares.
func TestBakeFileMatchesSpecs(t *testing.T) {
	set, _ := loadSet(t, nil)
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
	sort.Strings(names)
	if !slices.Equal(names, set.Images) {
		t.Fatalf("specs in images/ = %v, image targets of the bake file = %v", names, set.Images)
	}
	if want := append(slices.Clone(names), FrontendTarget); !slices.Equal(set.All(), want) {
		t.Errorf("All() = %v, want %v", set.All(), want)
	}
	str := func(s string) *string { return &s }
	for _, img := range set.Images {
		tg := set.Targets[img]
		if tg.Dockerfile != img+".yaml" || set.SpecFile(img) != filepath.Join(SpecDir, img+".yaml") {
			t.Errorf("target %s: dockerfile = %s", img, tg.Dockerfile)
		}
		if want := []string{"edp.buildth.ing/devfw-cicd/" + Repo(img) + ":latest"}; !slices.Equal(tg.Tags, want) {
			t.Errorf("target %s: tags = %v, want %v (REGISTRY and TAG defaults)", img, tg.Tags, want)
		}
		if !slices.Equal(tg.Platforms, []string{Platform}) {
			t.Errorf("target %s: platforms = %v", img, tg.Platforms)
		}
		if want := []map[string]string{{"type": "provenance", "mode": "max"}, {"type": "sbom"}}; !reflect.DeepEqual(tg.Attest, want) {
			t.Errorf("target %s: attest = %v, want %v", img, tg.Attest, want)
		}
		if want := []map[string]string{{"type": "image", "oci-mediatypes": "true"}}; !reflect.DeepEqual(tg.Output, want) {
			t.Errorf("target %s: output = %v, want %v", img, tg.Output, want)
		}
		if got := tg.Contexts[FrontendSyntax]; got != "target:"+FrontendTarget {
			t.Errorf("target %s: the named context over the syntax image = %q, want target:%s", img, got, FrontendTarget)
		}
		// Fixed epoch (reproducible), every image checked strictly unless
		// the caller says otherwise; the other arguments are passed through.
		want := map[string]*string{"SOURCE_DATE_EPOCH": str("0"), "STAGEX_CHECK": str("strict"),
			"STAGEX_LOCK": str(""), "STAGEX_REGISTRY": str(""), "STAGEX_VCS_LABELS": str("")}
		if !reflect.DeepEqual(tg.Args, want) {
			t.Errorf("target %s: args = %v", img, tg.Args)
		}
	}
	// FRONTEND_IMAGE replaces the frontend target with a published image.
	pub, _ := loadSet(t, map[string]string{"FRONTEND_IMAGE": "reg.test/f@sha256:1"})
	if got := pub.Targets[set.Images[0]].Contexts[FrontendSyntax]; got != "docker-image://reg.test/f@sha256:1" {
		t.Errorf("with FRONTEND_IMAGE, the syntax image's context = %q", got)
	}
}

// FromDefinition refuses a default group that is not the frontend plus
// images.
func TestFromDefinition(t *testing.T) {
	img := bake.Target{Context: SpecDir, Dockerfile: "a.yaml"}
	fe := bake.Target{Context: ".", Dockerfile: "Dockerfile"}
	for name, c := range map[string]struct {
		def  bake.Definition
		want string
	}{
		"no group":    {bake.Definition{Targets: map[string]bake.Target{"a": img}}, `no group "default"`},
		"no frontend": {bake.Definition{Groups: map[string]bake.Group{"default": {Targets: []string{"a"}}}, Targets: map[string]bake.Target{"a": img}}, `lacks the "frontend" target`},
		"no image":    {bake.Definition{Groups: map[string]bake.Group{"default": {Targets: []string{"frontend"}}}, Targets: map[string]bake.Target{"frontend": fe}}, "holds no image target"},
		"stray target": {bake.Definition{Groups: map[string]bake.Group{"default": {Targets: []string{"a", "frontend", "x"}}},
			Targets: map[string]bake.Target{"a": img, "frontend": fe, "x": {Context: "examples", Dockerfile: "Dockerfile"}}}, `target x of group "default" is neither`},
		"unresolved": {bake.Definition{Groups: map[string]bake.Group{"default": {Targets: []string{"a", "frontend"}}}, Targets: map[string]bake.Target{"frontend": fe}}, "names a, which bake did not resolve"},
	} {
		if _, err := FromDefinition(&c.def); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one saying %q", name, err, c.want)
		}
	}
	set, err := FromDefinition(&bake.Definition{Groups: map[string]bake.Group{"default": {Targets: []string{"frontend", "b", "a"}}},
		Targets: map[string]bake.Target{"a": img, "b": {Context: SpecDir, Dockerfile: "b.yaml"}, "frontend": fe}})
	if err != nil || !slices.Equal(set.Images, []string{"a", "b"}) || !set.IsImage("a") || set.IsImage(FrontendTarget) {
		t.Errorf("set = %+v, %v", set, err)
	}
}

// The syntax line of every spec names the frontend the bake file replaces.
func TestSpecsNameTheReplacedFrontend(t *testing.T) {
	set, _ := loadSet(t, nil)
	for _, img := range set.Images {
		first, _, _ := strings.Cut(readFile(t, filepath.Join(repoRoot(t), set.SpecFile(img))), "\n")
		if first != "# syntax="+FrontendSyntax {
			t.Errorf("%s starts with %q, want the syntax line naming %s", set.SpecFile(img), first, FrontendSyntax)
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
	_, def := loadSet(t, map[string]string{"STAGEX_REGISTRY": "mirror.test/stagex"}, FrontendTarget)
	got := def.Targets[FrontendTarget].Args["GO_IMAGE"]
	if want := "mirror.test/stagex/pallet-go@" + m[1]; got == nil || *got != want {
		t.Errorf("with STAGEX_REGISTRY, the frontend's GO_IMAGE = %v, want %s (the Dockerfile's digest)", got, want)
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
