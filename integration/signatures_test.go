package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/internal/fixtures"
	"edp.buildth.ing/devfw-cicd/stagex/internal/solve"
	"edp.buildth.ing/devfw-cicd/stagex/lock"
	"edp.buildth.ing/devfw-cicd/stagex/lock/locktest"
	"edp.buildth.ing/devfw-cicd/stagex/spec"
)

// TestVerifySignaturesAtBuild writes the lock with the stagex CLI from the
// bed's registry (the fixture packages, signed by two generated keys), then
// builds with STAGEX_VERIFY_SIGNATURES=1 through the syntax line: the
// keyring and the signatures come as named contexts (air-gapped) or the
// signatures over HTTP (llb.HTTP from the daemon to a loopback lookaside).
// A missing signature, or a missing keyring, stops the build before
// anything is composed or pushed, and fails stagex lock verify.
func TestVerifySignaturesAtBuild(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b := requireBed(t)
	fx := pushedFixtures(t)
	dir := specDir(t, frontendImage(t), "version: 1\npackages:\n  - core-busybox\n")
	c := client1(ctx, t)

	a, k2 := locktest.NewKey(t, "a", false), locktest.NewKey(t, "b", true)
	keys := t.TempDir() // the keyring context: a folder with one key file
	locktest.WriteKeyring(t, keys, a, k2)
	side := locktest.NewLookaside(t)
	registry := b.RegistryAddr + "/" + fixtures.RepoPrefix
	// core-filesystem is the default base: it is checked too.
	for _, pkg := range []string{"core-busybox", "core-filesystem"} {
		side.SignBy(registry+"/"+pkg+":"+fx[pkg].Version, fx[pkg].Digest, a, k2)
	}

	// stagex lock, against the bed's registry, replaces the fixture lock.
	list := filepath.Join(t.TempDir(), "release.tsv")
	rows := "# StageX release fixture\nimage\tversion\tlicense\tsource_package\tdigest\n"
	for _, pkg := range []string{"core-busybox", "core-filesystem"} {
		rows += pkg + "\t" + fx[pkg].Version + "\t" + fx[pkg].License + "\t\t" + fx[pkg].Digest + "\n"
	}
	if err := os.WriteFile(list, []byte(rows), 0o644); err != nil {
		t.Fatal(err)
	}
	lockFile := filepath.Join(dir, "stagex.lock.yaml")
	trust := []string{"--keyring", keys, "--lookaside", side.Dir}
	runCLI := func(args ...string) (string, error) {
		out, err := exec.CommandContext(ctx, stagexCLI(t), args...).CombinedOutput()
		return string(out), err
	}
	out, err := runCLI(append([]string{"lock", "--release-list", list, "--registry", registry, "-o", lockFile,
		"core-busybox", "core-filesystem"}, trust...)...)
	if err != nil {
		t.Fatalf("stagex lock: %v\n%s", err, out)
	}
	data, err := os.ReadFile(lockFile)
	if err != nil {
		t.Fatal(err)
	}
	written, err := spec.ParseLock(lockFile, data)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{lock.Fingerprint(a), lock.Fingerprint(k2)}
	slices.Sort(want)
	if got := written.Packages["core-busybox"].Signers["linux/amd64"]; !slices.Equal(got, want) ||
		written.Packages["core-busybox"].Digests["linux/amd64"] != fx["core-busybox"].Digest {
		t.Fatalf("stagex lock wrote:\n%s", data)
	}

	verify := map[string]string{"STAGEX_VERIFY_SIGNATURES": "1"}
	build := func(push string, args map[string]string, locals map[string]string) (*solve.Result, error) {
		attrs := map[string]string{}
		for name := range locals {
			attrs["context:"+name] = "local:" + name
		}
		return solve.Dockerfile(ctx, c, solve.DockerfileBuild{
			DockerfileDir: dir, ContextDir: dir, Filename: "stagex.yaml",
			BuildArgs: args, Attrs: attrs, Locals: locals, Push: push,
		})
	}
	both := map[string]string{"stagex-keyring": keys, "stagex-signatures": side.Dir}

	ref := b.Ref("it/verified:1")
	if _, err := build(ref, verify, both); err != nil {
		t.Fatalf("signed packages did not build: %v", err)
	}

	// Over HTTP: the daemon fetches from the loopback lookaside.
	url := side.Serve()
	args := map[string]string{"STAGEX_VERIFY_SIGNATURES": "1", "STAGEX_LOOKASIDE": url}
	if _, err := build(b.Ref("it/verified:http"), args, map[string]string{"stagex-keyring": keys}); err != nil {
		t.Fatalf("signed packages did not build with the HTTP lookaside: %v", err)
	}

	// No keyring: refused, saying where it goes.
	_, err = build(b.Ref("it/verified:nokeys"), verify, map[string]string{"stagex-signatures": side.Dir})
	wantBuildError(t, err, "needs the maintainers' keyring as build context stagex-keyring")

	// A lock entry whose version is not the one its digest was signed as
	// (a version bumped without its digests, or an older digest kept): the
	// build refuses it at the lock's line, and so does stagex lock verify.
	lines := strings.Split(string(data), "\n")
	vline := written.Pos("packages.core-busybox.version").Line
	lines[vline-1] = "    version: 9.9.9"
	if err := os.WriteFile(lockFile, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	dpos := written.Pos("packages.core-busybox.digests.linux/amd64")
	mixed := []string{"core-busybox (linux/amd64) " + fx["core-busybox"].Digest + " is signed as version " + fx["core-busybox"].Version +
		" of " + registry + "/core-busybox, not as 9.9.9, the version locked",
		"hint: every platform of core-busybox must be a digest of version 9.9.9; run stagex lock update"}
	_, err = build(b.Ref("it/verified:mixed"), verify, both)
	wantBuildError(t, err, append([]string{fmt.Sprintf("stagex.lock.yaml:%d:%d: ", dpos.Line, dpos.Column)}, mixed...)...)
	out, err = runCLI(append([]string{"lock", "verify", "--lock", lockFile}, trust...)...)
	if err == nil || !strings.Contains(out, fmt.Sprintf("%s:%d:%d: ", lockFile, dpos.Line, dpos.Column)+mixed[0]) || !strings.Contains(out, mixed[1]) {
		t.Errorf("stagex lock verify of a version the digest is not signed as: %v\n%s", err, out)
	}
	if err := os.WriteFile(lockFile, data, 0o644); err != nil {
		t.Fatal(err)
	}

	// One signature gone: the quorum fails, naming the package and digest.
	gone := filepath.Join(side.Dir, filepath.FromSlash(lock.SignaturePath("stagex/core-busybox", fx["core-busybox"].Digest, 2)))
	if err := os.Remove(gone); err != nil {
		t.Fatal(err)
	}
	failed := b.Ref("it/verified:unsigned")
	_, err = build(failed, verify, both)
	wantBuildError(t, err, "signature check failed", "core-busybox (linux/amd64) "+fx["core-busybox"].Digest, "the quorum is 2")
	_, err = build(b.Ref("it/verified:unsigned-http"), args, map[string]string{"stagex-keyring": keys})
	wantBuildError(t, err, "core-busybox (linux/amd64) "+fx["core-busybox"].Digest, "the quorum is 2")
	if _, err := descriptorOf(failed); err == nil {
		t.Fatal("a build that failed the signature check pushed an image")
	}
	out, err = runCLI(append([]string{"lock", "verify", "--lock", lockFile}, trust...)...)
	if err == nil || !strings.Contains(out, "core-busybox (linux/amd64) "+fx["core-busybox"].Digest) {
		t.Errorf("stagex lock verify after a signature was removed: %v\n%s", err, out)
	}

	// Without the build arg the same spec builds as before.
	if _, err := build(b.Ref("it/verified:off"), nil, nil); err != nil {
		t.Fatalf("build without the check: %v", err)
	}
}

func wantBuildError(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("the build passed; want an error containing %q", parts)
	}
	msg, _, _ := strings.Cut(err.Error(), "--- build log ---")
	t.Logf("build error (as expected): %s", msg)
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error lacks %q:\n%v", p, err)
		}
	}
}
