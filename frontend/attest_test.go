package frontend

import (
	"strings"
	"testing"

	"edp.buildth.ing/devfw-cicd/stagex/llb"
	"edp.buildth.ing/devfw-cicd/stagex/spec"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestSBOMNamesTheCanonicalReference: a package pulled from a mirror
// (STAGEX_REGISTRY) is named in the SBOM by the lock's registry, like in
// the image's history; the manifest digest is the one resolved.
func TestSBOMNamesTheCanonicalReference(t *testing.T) {
	s, err := spec.ParseSpec("stagex.yaml", []byte("version: 1\nname: app\nbase: scratch\npackages: [core-musl]\n"))
	if err != nil {
		t.Fatal(err)
	}
	d := "sha256:" + strings.Repeat("2", 64)
	l, err := spec.ParseLock("stagex.lock.yaml", []byte("version: 1\nrelease: test\nregistry: registry.test/stagex\npackages:\n  core-musl:\n    version: 1.2.5\n    license: MIT\n    digests: {linux/amd64: \""+d+"\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := spec.Resolve(s, l, spec.ResolveOptions{Platform: "linux/amd64", Registry: "127.0.0.1:5999/mirror/stagex"})
	if err != nil {
		t.Fatal(err)
	}
	pkg := r.Packages[0]
	out := &llb.Result{Parts: []llb.Part{{Package: pkg, Mode: llb.ModeWhole}}}
	images := map[string]llb.ImageInfo{pkg.Ref: {Digest: digest.Digest(d)}}
	img := sbomImage(s, Options{}, ocispecs.Platform{OS: "linux", Architecture: "amd64"}, out, images)
	got := img.Packages[0]
	if got.Ref != "registry.test/stagex/core-musl@"+d || got.Repository != "registry.test/stagex/core-musl" || got.Digest != d {
		t.Errorf("SBOM package = ref %q repository %q digest %q; want the lock's registry", got.Ref, got.Repository, got.Digest)
	}
}
