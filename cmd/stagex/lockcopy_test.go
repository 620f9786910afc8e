package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"edp.buildth.ing/devfw-cicd/stagex/lock/locktest"
	"edp.buildth.ing/devfw-cicd/stagex/spec"
)

const (
	copyDigestA = "sha256:4a756058c3e1afd5104ff86a2c57f71c36fce07b3110dbaf2591371cfc47c799"
	copyDigestB = "sha256:da6089dd9f39559d0fa323d0687aae495914fd2c6a01f7c260823202732cadf9"
	copyDigestC = "sha256:cd3a66471ce1f630fa77d5c9bd9829f9f9fab6302a1aaa64d67b74f1f069b750"
)

// TestLockCopyFromSpecs: stagex lock copy locks the packages the specs
// name plus the default base, with the list's digests and the products'
// CPEs and purls, the same bytes every run; an uncovered package and a
// name the release lacks are errors.
func TestLockCopyFromSpecs(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, filepath.Join(dir, "list.tsv"), locktest.ReleaseList(
		"core-musl\t1.2.5\tMIT\tcore/musl\t"+copyDigestA,
		"core-busybox\t1.37.0\tGPL-2.0-only\tcore/busybox\t"+copyDigestB,
		"core-filesystem\tlatest\tISC\tcore/filesystem\t"+copyDigestC,
	))
	specs := filepath.Join(dir, "images")
	if err := os.Mkdir(specs, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(specs, "a.yaml"), "# syntax=x\nversion: 1\nname: a\npackages: [core-musl]\n")
	writeFile(t, filepath.Join(specs, "b.yaml"), "version: 1\nname: b\nbase: scratch\npackages: [core-musl, \"docker.io/stagex/core-go@"+copyDigestA+"\"]\n")
	// The lock beside the specs is not read as a spec, even when stale;
	// neither is the products file, which is applied.
	writeFile(t, filepath.Join(specs, "stagex.lock.yaml"), "version: 1\nregistry: x/stagex\npackages: {}\n")
	writeFile(t, filepath.Join(specs, spec.DefaultProductsFile), "version: 1\npackages:\n"+
		"  core-musl: {cpe: musl-libc:musl, purl: pkg:generic/musl}\n"+
		"  core-filesystem: {none: no upstream product}\n")

	args := []string{"lock", "copy", "--release-list", in, "--from-specs", specs, "-o", "-"}
	data, stderr, err := runCmd(t, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.HasPrefix(data, "# Copied by stagex lock copy from the StageX 2026.03.0 release list (list.tsv)") {
		t.Errorf("header:\n%s", data)
	}
	l, err := spec.ParseLock("out", []byte(data))
	if err != nil {
		t.Fatalf("output does not parse as a lock: %v\n%s", err, data)
	}
	if l.Release != "2026.03.0" || l.Registry != "docker.io/stagex" || l.Version != 1 {
		t.Errorf("lock header = %d %q %q", l.Version, l.Release, l.Registry)
	}
	if len(l.Packages) != 2 || l.Packages["core-musl"].Digests["linux/amd64"] != copyDigestA ||
		l.Packages["core-filesystem"].Digests["linux/amd64"] != copyDigestC {
		t.Errorf("packages = %+v, want core-musl and core-filesystem", l.Packages)
	}
	if m := l.Packages["core-musl"]; m.CPE != "cpe:2.3:a:musl-libc:musl:1.2.5:*:*:*:*:*:*:*" || m.PURL != "pkg:generic/musl@1.2.5" {
		t.Errorf("core-musl: cpe %q purl %q, want its product's with the lock's version", m.CPE, m.PURL)
	}
	if fs := l.Packages["core-filesystem"]; fs.CPE != "" || fs.PURL != "" {
		t.Errorf("core-filesystem is none, yet cpe %q purl %q", fs.CPE, fs.PURL)
	}
	if again, _, err := runCmd(t, args...); err != nil || again != data {
		t.Errorf("second run differs (err %v)", err)
	}
	// Written to a file: the same bytes.
	out := filepath.Join(specs, "stagex.lock.yaml")
	if _, stderr, err := runCmd(t, "lock", "copy", "--release-list", in, "--from-specs", specs, "-o", out); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if got, err := os.ReadFile(out); err != nil || string(got) != data {
		t.Errorf("-o %s wrote other bytes than -o - (err %v)", out, err)
	}

	// A package the products file does not cover is an error, located in
	// the products file, naming the package.
	writeFile(t, filepath.Join(specs, "d.yaml"), "version: 1\nname: d\npackages: [core-busybox]\n")
	if _, _, err := runCmd(t, args...); err == nil || !strings.Contains(err.Error(), "locked package core-busybox has no entry in the products file") ||
		!strings.Contains(err.Error(), spec.DefaultProductsFile+":2:") {
		t.Errorf("uncovered package: err = %v", err)
	}
	if err := os.Remove(filepath.Join(specs, "d.yaml")); err != nil {
		t.Fatal(err)
	}
	// A name the release lacks is an error, not a silent omission.
	writeFile(t, filepath.Join(specs, "c.yaml"), "version: 1\nname: c\npackages: [core-pythn]\n")
	if _, _, err := runCmd(t, args...); err == nil || !strings.Contains(err.Error(), "has no image core-pythn") {
		t.Errorf("unknown package: err = %v", err)
	}
}

func TestLockCopyRefuses(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, filepath.Join(dir, "list.tsv"), locktest.ReleaseList("core-musl\t1.2.5\tMIT\tcore/musl\t"))
	writeFile(t, filepath.Join(dir, spec.DefaultProductsFile), "version: 1\npackages:\n  core-musl: {none: test}\n")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-o", "x", "--all"}, "needs --release-list and -o"},
		{[]string{"--release-list", in, "--all"}, "needs --release-list and -o"},
		{[]string{"--release-list", in, "-o", "-", "--all", "core-musl"}, "exactly one of them"},
		{[]string{"--release-list", in, "-o", "-", "--all", "--from-specs", dir}, "exactly one of them"},
		{[]string{"--release-list", in, "-o", "-"}, "exactly one of them"},
		{[]string{"--release-list", in, "--release", "2025.01.0", "-o", "-", "--all"}, "is the list of release 2026.03.0"},
		// The row has no digest: copy never invents one.
		{[]string{"--release-list", in, "--products", filepath.Join(dir, spec.DefaultProductsFile), "-o", "-", "--all"}, "image core-musl has no digest"},
	} {
		_, _, err := runCmd(t, append([]string{"lock", "copy"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("lock copy %q: err = %v, want %q", c.args, err, c.want)
		}
	}
}
