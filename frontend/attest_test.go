package frontend

import (
	"bytes"
	"strings"
	"testing"

	"edp.buildth.ing/devfw-cicd/stagex/llb"
	"edp.buildth.ing/devfw-cicd/stagex/sbom"
	"edp.buildth.ing/devfw-cicd/stagex/spec"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	spdxjson "github.com/spdx/tools-golang/json"
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
	images := map[string]llb.ImageInfo{pkg.Ref: {Digest: digest.Digest(d)}}
	parts, err := llb.Plan(r, images)
	if err != nil {
		t.Fatal(err)
	}
	img := sbomImage(s, Options{}, ocispecs.Platform{OS: "linux", Architecture: "amd64"}, &llb.Result{Parts: parts})
	dt, err := sbom.SPDX(img)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := spdxjson.Read(bytes.NewReader(dt))
	if err != nil {
		t.Fatal(err)
	}
	got := doc.Packages[1]
	wantPURL := "pkg:oci/core-musl@sha256%3A" + strings.Repeat("2", 64) + "?arch=amd64&repository_url=registry.test%2Fstagex%2Fcore-musl"
	if got.PackageDownloadLocation != "registry.test/stagex/core-musl@"+d || got.PackageChecksums[0].Value != strings.Repeat("2", 64) ||
		got.PackageExternalReferences[0].Locator != wantPURL {
		t.Errorf("SBOM package = location %q checksum %q purl %q; want the lock's registry", got.PackageDownloadLocation, got.PackageChecksums[0].Value, got.PackageExternalReferences[0].Locator)
	}
}
