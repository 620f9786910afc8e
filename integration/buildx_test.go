package integration

import (
	"path/filepath"
	"strings"
	"testing"

	"edp.buildth.ing/devfw-cicd/stagex/integration/testbed"
)

// TestBuildxBuild builds a spec the way application teams do, with
// `buildx build -f` and both attestations, and reads them back with
// `buildx imagetools inspect`, as the README shows.
func TestBuildxBuild(t *testing.T) {
	b := bed(t)
	dir := specDir(t, frontendImage(t), appSpec)
	bx := testbed.NewBuildx(t, b.BuildkitAddr)
	meta := filepath.Join(t.TempDir(), "metadata.json")
	ref := b.Ref("it/buildx:1")
	out, err := bx.Run("build", "-f", filepath.Join(dir, "stagex.yaml"),
		"--attest", "type=sbom", "--attest", "type=provenance,mode=max",
		"--build-arg", "SOURCE_DATE_EPOCH=1700000000",
		"--output", "type=image,name="+ref+",push=true,oci-mediatypes=true,registry.insecure=true",
		"--metadata-file", meta, dir)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	dgst := metadataDigest(t, meta)

	for format, want := range map[string]string{
		"{{json .SBOM}}":       `"Tool: stagex-frontend"`,
		"{{json .Provenance}}": `"resolvedDependencies"`,
	} {
		out, err := bx.Run("imagetools", "inspect", "--format", format, b.Ref("it/buildx@"+dgst))
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if !strings.Contains(string(out), want) {
			t.Errorf("imagetools inspect --format '%s' lacks %s:\n%.600s", format, want, out)
		}
	}
}

// TestBuildxCheck runs the spec checks through `buildx build --check`: the
// warnings come back with their rule names and lines, and the command fails.
func TestBuildxCheck(t *testing.T) {
	b := bed(t)
	dir := specDir(t, frontendImage(t), "version: 1\nname: base-static\npackages:\n  - core-busybox\n  - core-busybox\n")
	bx := testbed.NewBuildx(t, b.BuildkitAddr)
	out, err := bx.Run("build", "--check", "-f", filepath.Join(dir, "stagex.yaml"), dir)
	if err == nil {
		t.Fatalf("--check passed a spec with warnings:\n%s", out)
	}
	for _, want := range []string{"DuplicatePackage", "ShellInStaticImage", "stagex.yaml:6"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("--check output lacks %q:\n%s", want, out)
		}
	}
}
