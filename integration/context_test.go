package integration

import (
	"context"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/internal/bed"
	"edp.buildth.ing/devfw-cicd/stagex/internal/solve"
)

// gitServer makes dir a git repository on branch main and serves it over
// smart HTTP on loopback (git http-backend behind net/http/cgi), where the
// host-network daemon can clone it. It returns the repository's URL.
func gitServer(t *testing.T, dir string) string {
	t.Helper()
	git := func(wd string, args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=it", "-c", "user.email=it@example.test", "-c", "init.defaultBranch=main"}, args...)...)
		cmd.Dir = wd
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git(dir, "init", "-q")
	git(dir, "add", ".")
	git(dir, "commit", "-q", "-m", "spec")
	root := t.TempDir()
	git(root, "clone", "-q", "--bare", dir, "repo.git")
	gitBin, err := exec.LookPath("git")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(&cgi.Handler{
		Path: gitBin,
		Args: []string{"http-backend"},
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"},
	})
	t.Cleanup(srv.Close)
	return srv.URL + "/repo.git"
}

// buildctlSpec builds a spec with buildctl through the Dockerfile frontend
// (which forwards to this frontend through the syntax line), pushes it to
// ref and returns the image digest. source is either a local folder or a
// context URL (--opt context=...).
func buildctlSpec(t *testing.T, source, ref string) string {
	t.Helper()
	b := requireBed(t)
	buildctl, err := bed.Tool("buildctl")
	if err != nil {
		t.Fatal(err)
	}
	meta := filepath.Join(t.TempDir(), "metadata.json")
	args := []string{"--addr", b.BuildkitAddr, "build", "--frontend", "dockerfile.v0",
		"--opt", "filename=stagex.yaml", "--opt", "build-arg:SOURCE_DATE_EPOCH=1700000000",
		"--output", "type=image,name=" + ref + ",push=true,oci-mediatypes=true", "--metadata-file", meta}
	if strings.Contains(source, "://") {
		args = append(args, "--opt", "context="+source)
	} else {
		args = append(args, "--local", "context="+source, "--local", "dockerfile="+source)
	}
	out, err := exec.Command(buildctl, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("buildctl: %v\n%s", err, out)
	}
	return metadataDigest(t, meta)
}

// TestSpecFromGitContext builds a spec whose spec, lock and copied file are
// in a git repository served over HTTP, as `buildx build <git URL>` does:
// the lock is read from the git context, and the image is the one the same
// files give from a local folder.
func TestSpecFromGitContext(t *testing.T) {
	b := requireBed(t)
	dir := specDir(t, frontendImage(t), "version: 1\nname: gitctx\npackages: [core-musl, core-busybox]\ncopy:\n  - {src: dist/app, dst: /usr/bin/app, mode: \"0755\"}\n")
	url := gitServer(t, dir)
	fromGit := buildctlSpec(t, url+"#main", b.Ref("it/gitctx:git"))
	fromLocal := buildctlSpec(t, dir, b.Ref("it/gitctx:local"))
	if fromGit != fromLocal {
		t.Fatalf("from git %s, from the local folder %s: the same files gave two images", fromGit, fromLocal)
	}
	layers, err := layerDigests(b.Ref("it/gitctx@" + fromGit))
	if err != nil {
		t.Fatal(err)
	}
	fx := pushedFixtures(t)
	if len(layers) != 4 || layers[0] != fx["core-filesystem"].Layers[0] || layers[1] != fx["core-musl"].Layers[1] {
		t.Fatalf("layers = %v, want the fixtures' then the generated one", layers)
	}
}

// TestLockLocations: the frontend reads the lock with the spec in one
// transfer when it is where the spec's lock lives by default, or where
// STAGEX_LOCK names it, and with a second read when the spec's lock field
// names another file. All three give the image the default place gives.
func TestLockLocations(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	b := requireBed(t)
	c := client1(ctx, t)
	const body = "version: 1\nname: lockloc\npackages: [core-musl, core-busybox]\n"
	epoch := map[string]string{"SOURCE_DATE_EPOCH": "1700000000"}
	build := func(dir, tag string, args map[string]string) string {
		t.Helper()
		res, err := buildSpec(ctx, t, c, dir, b.Ref("it/lockloc:"+tag), args)
		if err != nil {
			t.Fatalf("%s: %v", tag, err)
		}
		return res.Digest
	}
	dir := specDir(t, frontendImage(t), body)
	want := build(dir, "default", epoch)

	// The same lock under another name: STAGEX_LOCK names it.
	moved := specDir(t, frontendImage(t), body)
	if err := os.Rename(filepath.Join(moved, "stagex.lock.yaml"), filepath.Join(moved, "other.lock.yaml")); err != nil {
		t.Fatal(err)
	}
	if got := build(moved, "arg", map[string]string{"SOURCE_DATE_EPOCH": "1700000000", "STAGEX_LOCK": "other.lock.yaml"}); got != want {
		t.Errorf("with STAGEX_LOCK: %s, want %s", got, want)
	}
	// Without the arg the default lock is missing: the build fails at the
	// spec, not with another image.
	if _, err := buildSpec(ctx, t, c, moved, "", epoch); err == nil || !strings.Contains(err.Error(), "cannot read the lock file") {
		t.Errorf("without the default lock: err = %v, want cannot read the lock file", err)
	}
	// The spec's lock field names it: read in a second transfer.
	named := specDir(t, frontendImage(t), body+"lock: other.lock.yaml\n")
	if err := os.Rename(filepath.Join(named, "stagex.lock.yaml"), filepath.Join(named, "other.lock.yaml")); err != nil {
		t.Fatal(err)
	}
	if got := build(named, "field", epoch); got != want {
		t.Errorf("with the lock field: %s, want %s", got, want)
	}
}

// TestLintWarningsInBuildOutput: a duplicated package builds, and the
// build output carries the DuplicatePackage warning with its line, without
// --check.
func TestLintWarningsInBuildOutput(t *testing.T) {
	b := requireBed(t)
	dir := specDir(t, frontendImage(t), "version: 1\nname: dup\npackages:\n  - core-busybox\n  - core-busybox\n")
	out, err := runBuildx(t, "build", "--progress=plain", "-f", filepath.Join(dir, "stagex.yaml"),
		"--output", "type=image,name="+b.Ref("it/dup:1")+",push=true,registry.insecure=true", dir)
	if err != nil {
		t.Fatalf("a spec with a duplicated package does not build: %v\n%s", err, out)
	}
	for _, want := range []string{"DuplicatePackage", `package "core-busybox" is already layered at line 5`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("build output lacks %q:\n%s", want, out)
		}
	}
}

// TestMissingCopySourceIsLocated: a copy whose source the build context
// does not hold fails at the spec's src line with a hint, not with
// BuildKit's bare "not found", and pushes nothing.
func TestMissingCopySourceIsLocated(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b := requireBed(t)
	dir := specDir(t, frontendImage(t), "version: 1\npackages: [core-musl]\ncopy:\n  - src: dist/app\n    dst: /usr/bin/app\n  - src: dist/nope\n    dst: /usr/bin/nope\n")
	build := solve.DockerfileBuild{DockerfileDir: dir, ContextDir: dir, Filename: "stagex.yaml", Push: b.Ref("it/nosrc:1")}
	requireBuildFails(ctx, t, client1(ctx, t), build,
		"stagex.yaml:7:10", "copy source dist/nope is not in the build context", "hint: src is relative to the build context's root")
}
