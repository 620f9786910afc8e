package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"edp.buildth.ing/devfw-cicd/stagex/internal/bed"
)

// TestBuildxBuild builds a spec the way application teams do, with
// `buildx build -f` and both attestations, and reads them back with
// `buildx imagetools inspect`, as the README shows.
func TestBuildxBuild(t *testing.T) {
	b := requireBed(t)
	dir := specDir(t, frontendImage(t), appSpec)
	meta := filepath.Join(t.TempDir(), "metadata.json")
	ref := b.Ref("it/buildx:1")
	out, err := runBuildx(t, "build", "-f", filepath.Join(dir, "stagex.yaml"),
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
		out, err := runBuildx(t, "imagetools", "inspect", "--format", format, b.Ref("it/buildx@"+dgst))
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
	requireBed(t)
	dir := specDir(t, frontendImage(t), "version: 1\nname: base-static\npackages:\n  - core-busybox\n  - core-busybox\n")
	out, err := runBuildx(t, "build", "--check", "-f", filepath.Join(dir, "stagex.yaml"), dir)
	if err == nil {
		t.Fatalf("--check passed a spec with warnings:\n%s", out)
	}
	for _, want := range []string{"DuplicatePackage", "ShellInStaticImage", "stagex.yaml:6"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("--check output lacks %q:\n%s", want, out)
		}
	}
}

// TestVCSLabels: buildx passes the checkout's git origin and commit; they
// reach the image as labels only with STAGEX_VCS_LABELS=1, the origin
// without its credentials, and a local-path origin is refused.
func TestVCSLabels(t *testing.T) {
	b := requireBed(t)
	dir := specDir(t, frontendImage(t), "version: 1\nname: vcs\npackages: [core-musl]\n")
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.test"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q")
	git("add", ".")
	git("commit", "-q", "-m", "spec")
	commit := git("rev-parse", "HEAD")
	git("remote", "add", "origin", "https://builder:s3cret@git.example.test/org/app.git")

	build := func(tag string, args ...string) (map[string]string, []byte, error) {
		t.Helper()
		meta := filepath.Join(t.TempDir(), "metadata.json")
		ref := b.Ref("it/vcs:" + tag)
		cmd := append([]string{"build", "-f", filepath.Join(dir, "stagex.yaml"),
			"--output", "type=image,name=" + ref + ",push=true,oci-mediatypes=true,registry.insecure=true",
			"--metadata-file", meta}, args...)
		out, err := runBuildx(t, append(cmd, dir)...)
		if err != nil {
			return nil, out, err
		}
		cfg, err := imageConfig(b.Ref("it/vcs@" + metadataDigest(t, meta)))
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Config.Labels, out, nil
	}
	labels, out, err := build("default")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, k := range []string{"org.opencontainers.image.source", "org.opencontainers.image.revision"} {
		if v, ok := labels[k]; ok {
			t.Errorf("label %s = %q without %s=1: the clone would change the digest", k, v, "STAGEX_VCS_LABELS")
		}
	}
	labels, out, err = build("labels", "--build-arg", "STAGEX_VCS_LABELS=1")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got := labels["org.opencontainers.image.source"]; got != "https://git.example.test/org/app.git" {
		t.Errorf("source label = %q, want the origin without credentials", got)
	}
	if got := labels["org.opencontainers.image.revision"]; got != commit {
		t.Errorf("revision label = %q, want %s", got, commit)
	}
	git("remote", "set-url", "origin", "/home/someone/src/app")
	if _, out, err = build("local", "--build-arg", "STAGEX_VCS_LABELS=1"); err == nil || !strings.Contains(string(out), "local path") {
		t.Errorf("a local-path origin with STAGEX_VCS_LABELS=1: err %v\n%s", err, out)
	}
}

// runBuildx runs the pinned buildx on the bed's own builder (a remote-driver
// builder in the bed's state: BUILDX_CONFIG and BUILDX_BUILDER, which
// `hack/bed env` exports) and returns its combined output.
func runBuildx(t testing.TB, args ...string) ([]byte, error) {
	t.Helper()
	requireBed(t)
	if os.Getenv(bed.EnvBuildxConfig) == "" || os.Getenv(bed.EnvBuildxBuilder) == "" {
		msg := fmt.Sprintf("%s and %s are not set: eval \"$(hack/bed env NAME)\" (hack/test-integration does)", bed.EnvBuildxConfig, bed.EnvBuildxBuilder)
		if bed.InCI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	bin, err := bed.Tool("buildx")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("buildx %s: %w", strings.Join(args, " "), err)
	}
	return out, nil
}
