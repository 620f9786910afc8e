package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"edp.buildth.ing/devfw-cicd/stagex/lock"
	"edp.buildth.ing/devfw-cicd/stagex/lock/locktest"
	"edp.buildth.ing/devfw-cicd/stagex/spec"
)

// runCmd runs the command line and returns stdout, stderr and the error.
func runCmd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestLockCommand drives stagex lock, lock verify and lock update end to
// end: an in-process registry, generated keys, a lookaside over loopback
// HTTP.
func TestLockCommand(t *testing.T) {
	dir := t.TempDir()
	reg := locktest.Registry(t)
	musl := locktest.PushPackage(t, reg, "core-musl", "1.2.5", "linux/amd64", "linux/arm64")
	fsys := locktest.PushPackage(t, reg, "core-filesystem", "2026.03.0", "linux/amd64")
	a, b := locktest.NewKey(t, "a", false), locktest.NewKey(t, "b", false)
	keyring := locktest.WriteKeyring(t, dir, a, b)
	side := locktest.NewLookaside(t)
	for _, d := range musl {
		side.SignBy("stagex/core-musl:1.2.5", d, a, b)
	}
	side.SignBy("stagex/core-filesystem:2026.03.0", fsys["linux/amd64"], a, b)
	url := side.Serve()
	list := writeFile(t, filepath.Join(dir, "release.tsv"), "# StageX release 2026.03.0\n"+
		"image\tversion\tlicense\tsource_package\tdigest\n"+
		"core-musl\t1.2.5\tMIT\tcore/musl\t"+musl["linux/amd64"]+"\n"+
		"core-filesystem\t2026.03.0\tMIT\tcore/filesystem\t\n")
	out := filepath.Join(dir, "stagex.lock.yaml")
	// The products file beside the lock gives each package its CPE and purl.
	writeFile(t, filepath.Join(dir, spec.DefaultProductsFile), "version: 1\npackages:\n"+
		"  core-musl: {cpe: musl-libc:musl, purl: pkg:generic/musl}\n"+
		"  core-filesystem: {none: no upstream product}\n")
	common := []string{"--keyring", keyring, "--lookaside", url, "--signed-identity", "docker.io/stagex"}

	// Without a keyring: a clear error saying where the keys come from,
	// and no lock.
	_, _, err := runCmd(t, "lock", "--release-list", list, "--lookaside", url, "--registry", reg, "-o", out, "core-musl")
	locktest.WantErr(t, err, "no keyring given", "MAINTAINERS")
	if _, statErr := os.Stat(out); statErr == nil {
		t.Fatal("a lock was written without a keyring")
	}

	args := append([]string{"lock", "--release-list", list, "--registry", reg, "--platform", "linux/amd64,linux/arm64", "-o", out}, common...)
	stdout, stderr, err := runCmd(t, append(args, "core-musl", "core-filesystem")...)
	if err != nil {
		t.Fatalf("lock: %v\n%s%s", err, stdout, stderr)
	}
	fa, fb := lock.Fingerprint(a), lock.Fingerprint(b)
	if fb < fa {
		fa, fb = fb, fa
	}
	for _, want := range []string{
		"ok  core-musl (linux/amd64) " + musl["linux/amd64"] + ": signed by " + fa + ", " + fb,
		"ok  core-musl (linux/arm64) " + musl["linux/arm64"],
		"ok  core-filesystem (linux/amd64) " + fsys["linux/amd64"],
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "core-filesystem:2026.03.0: not published for linux/arm64") {
		t.Errorf("stderr = %q", stderr)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	l, err := spec.ParseLock(out, data)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), lock.Header("2026.03.0")) || l.Release != "2026.03.0" || l.Registry != reg ||
		l.Packages["core-musl"].Digests["linux/arm64"] != musl["linux/arm64"] ||
		strings.Join(l.Packages["core-filesystem"].Signers["linux/amd64"], ",") != fa+","+fb ||
		l.Packages["core-musl"].PURL != "pkg:generic/musl@1.2.5" || l.Packages["core-filesystem"].CPE != "" {
		t.Errorf("lock written:\n%s", data)
	}

	stdout, stderr, err = runCmd(t, append([]string{"lock", "verify", "--lock", out}, common...)...)
	if err != nil || !strings.Contains(stdout, "verified: "+out+", 3 digests") {
		t.Fatalf("lock verify: %v\n%s%s", err, stdout, stderr)
	}

	// update: core-musl moves to 1.2.6; the diff is printed and the lock
	// replaced.
	next := locktest.PushPackage(t, reg, "core-musl", "1.2.6", "linux/amd64", "linux/arm64")
	for _, d := range next {
		side.SignBy("stagex/core-musl:1.2.6", d, a, b)
	}
	list2 := writeFile(t, filepath.Join(dir, "next.tsv"), "# StageX release 2026.04.0\n"+
		"image\tversion\tlicense\tsource_package\tdigest\n"+
		"core-musl\t1.2.6\tMIT\tcore/musl\t\n"+
		"core-filesystem\t2026.03.0\tMIT\tcore/filesystem\t\n")
	stdout, stderr, err = runCmd(t, append([]string{"lock", "update", "--lock", out, "--release-list", list2}, common...)...)
	if err != nil {
		t.Fatalf("lock update: %v\n%s%s", err, stdout, stderr)
	}
	if want := "release 2026.03.0 -> 2026.04.0\n~ core-musl 1.2.5 -> 1.2.6\n"; stdout != want {
		t.Errorf("update printed %q, want %q", stdout, want)
	}
	updated, _ := os.ReadFile(out)
	if l2, err := spec.ParseLock(out, updated); err != nil || l2.Packages["core-musl"].Digests["linux/amd64"] != next["linux/amd64"] ||
		l2.Packages["core-musl"].Digests["linux/arm64"] != next["linux/arm64"] ||
		l2.Packages["core-musl"].CPE != "cpe:2.3:a:musl-libc:musl:1.2.6:*:*:*:*:*:*:*" {
		t.Errorf("updated lock (%v):\n%s", err, updated)
	}

	// A failed update leaves the lock as it was.
	list3 := writeFile(t, filepath.Join(dir, "broken.tsv"), "# StageX release 2026.05.0\n"+
		"image\tversion\tlicense\tsource_package\tdigest\n"+
		"core-musl\t9.9.9\tMIT\tcore/musl\t\n"+
		"core-filesystem\t2026.03.0\tMIT\tcore/filesystem\t\n")
	_, _, err = runCmd(t, append([]string{"lock", "update", "--lock", out, "--release-list", list3}, common...)...)
	locktest.WantErr(t, err, "update failed", "left as it was", "core-musl:9.9.9")
	if again, _ := os.ReadFile(out); !bytes.Equal(again, updated) {
		t.Error("a failed update changed the lock")
	}

	// A signature gone from the lookaside fails verify, naming the digest.
	gone := filepath.Join(side.Dir, filepath.FromSlash(lock.SignaturePath("stagex/core-filesystem", fsys["linux/amd64"], 2)))
	if err := os.Remove(gone); err != nil {
		t.Fatal(err)
	}
	_, _, err = runCmd(t, append([]string{"lock", "verify", "--lock", out}, common...)...)
	locktest.WantErr(t, err, "does not verify", "core-filesystem (linux/amd64) "+fsys["linux/amd64"], "1 distinct keyring key(s) signed, the quorum is 2")
}

func TestLockCommandUsage(t *testing.T) {
	for _, args := range [][]string{
		{"lock"},
		{"lock", "--release-list", "x.tsv", "-o", "y"},                       // no package selection
		{"lock", "--release-list", "x.tsv", "-o", "y", "--all", "core-musl"}, // two selections
		{"lock", "verify", "stray"},
		{"lock", "update"},
	} {
		_, _, err := runCmd(t, args...)
		if ee, ok := err.(*exitError); !ok || ee.code != 2 {
			t.Errorf("%q: err = %v, want a usage error (exit 2)", args, err)
		}
	}
}

func TestApplyProductsWithoutFile(t *testing.T) {
	dir := t.TempDir()
	l := &spec.Lock{Version: 1, Registry: "docker.io/stagex", Packages: map[string]spec.LockPackage{
		"core-musl": {Version: "1.2.5", Digests: map[string]string{"linux/amd64": "sha256:" + strings.Repeat("a", 64)}},
	}}
	var stderr bytes.Buffer
	if err := applyProducts(&stderr, "", filepath.Join(dir, "stagex.lock.yaml"), l); err != nil || !strings.Contains(stderr.String(), "the lock carries no CPE or purl") {
		t.Errorf("no products file: err %v, stderr %q", err, stderr.String())
	}
	// Named but missing is an error, not a note.
	err := applyProducts(&stderr, filepath.Join(dir, "missing.yaml"), "-", l)
	locktest.WantErr(t, err, "missing.yaml", "the products file")
}

// TestLockReleaseListAfterRenovate is the Renovate flow of renovate.json and
// hack/renovate-lock: Renovate moves a package's version and linux/amd64
// digest (and the release) in the lock text; `lock release-list` turns that
// lock into a release list and `lock update` re-locks every platform and
// verifies the signatures. A digest the registry does not serve for the
// version fails the update and leaves the lock.
func TestLockReleaseListAfterRenovate(t *testing.T) {
	dir := t.TempDir()
	reg := locktest.Registry(t)
	old := locktest.PushPackage(t, reg, "core-musl", "1.2.5", "linux/amd64", "linux/arm64")
	next := locktest.PushPackage(t, reg, "core-musl", "1.2.6", "linux/amd64", "linux/arm64")
	a, b := locktest.NewKey(t, "a", false), locktest.NewKey(t, "b", false)
	keyring := locktest.WriteKeyring(t, dir, a, b)
	side := locktest.NewLookaside(t)
	for _, d := range old {
		side.SignBy("stagex/core-musl:1.2.5", d, a, b)
	}
	for _, d := range next {
		side.SignBy("stagex/core-musl:1.2.6", d, a, b)
	}
	common := []string{"--keyring", keyring, "--lookaside", side.Serve(), "--signed-identity", "docker.io/stagex"}
	list := writeFile(t, filepath.Join(dir, "release.tsv"), "# StageX release 2026.03.0\n"+
		"image\tversion\tlicense\tsource_package\tdigest\n"+
		"core-musl\t1.2.5\tMIT\tcore/musl\t\n")
	out := filepath.Join(dir, "stagex.lock.yaml")
	if _, stderr, err := runCmd(t, append([]string{"lock", "--release-list", list, "--registry", reg, "--platform", "linux/amd64,linux/arm64", "-o", out, "core-musl"}, common...)...); err != nil {
		t.Fatalf("lock: %v\n%s", err, stderr)
	}
	locked, _ := os.ReadFile(out)

	// What Renovate's regex managers change: release, version, amd64 digest.
	renovate := func(amd64 string) {
		t.Helper()
		text := strings.NewReplacer("release: 2026.03.0", "release: 2026.04.0", "version: 1.2.5", "version: 1.2.6",
			"linux/amd64: "+old["linux/amd64"], "linux/amd64: "+amd64).Replace(string(locked))
		if text == string(locked) {
			t.Fatal("the lock text has none of what Renovate replaces")
		}
		writeFile(t, out, text)
	}
	relist := func() string {
		t.Helper()
		p := filepath.Join(dir, "renovated.tsv")
		if _, stderr, err := runCmd(t, "lock", "release-list", "--lock", out, "-o", p); err != nil {
			t.Fatalf("lock release-list: %v\n%s", err, stderr)
		}
		return p
	}

	renovate(next["linux/amd64"])
	// What a hosted Renovate leaves (no post-upgrade task): 1.2.6 with the
	// 1.2.5 arm64 digest, whose recorded signers still verify. verify
	// refuses it at the arm64 digest's line, with the hint to re-lock.
	edited, _ := os.ReadFile(out)
	line := strings.Count(string(edited[:bytes.Index(edited, []byte("linux/arm64: "+old["linux/arm64"]))]), "\n") + 1
	_, _, err := runCmd(t, append([]string{"lock", "verify", "--lock", out}, common...)...)
	locktest.WantErr(t, err, out+" does not verify",
		fmt.Sprintf("%s:%d:20: core-musl (linux/arm64) %s is signed as version 1.2.5 of docker.io/stagex/core-musl, not as 1.2.6, the version locked", out, line, old["linux/arm64"]),
		"hint: every platform of core-musl must be a digest of version 1.2.6; run stagex lock update (after Renovate: hack/renovate-lock)")
	if err != nil && strings.Contains(err.Error(), next["linux/amd64"]) {
		t.Errorf("verify reports the amd64 digest Renovate wrote, which is 1.2.6's: %v", err)
	}
	stdout, stderr, err := runCmd(t, append([]string{"lock", "update", "--lock", out, "--release-list", relist()}, common...)...)
	if err != nil {
		t.Fatalf("lock update: %v\n%s%s", err, stdout, stderr)
	}
	data, _ := os.ReadFile(out)
	l, err := spec.ParseLock(out, data)
	if err != nil {
		t.Fatal(err)
	}
	musl := l.Packages["core-musl"]
	if l.Release != "2026.04.0" || musl.Version != "1.2.6" || musl.Digests["linux/amd64"] != next["linux/amd64"] ||
		musl.Digests["linux/arm64"] != next["linux/arm64"] || len(musl.Signers["linux/arm64"]) != 2 {
		t.Errorf("lock after Renovate and update:\n%s", data)
	}
	if _, _, err := runCmd(t, append([]string{"lock", "verify", "--lock", out}, common...)...); err != nil {
		t.Errorf("lock verify after update: %v", err)
	}

	// A digest that is not the version's (here the old one) is refused.
	locked = data
	writeFile(t, out, strings.Replace(string(locked), "linux/amd64: "+next["linux/amd64"], "linux/amd64: "+old["linux/amd64"], 1))
	_, _, err = runCmd(t, append([]string{"lock", "update", "--lock", out, "--release-list", relist()}, common...)...)
	locktest.WantErr(t, err, "update failed", "left as it was")
}
