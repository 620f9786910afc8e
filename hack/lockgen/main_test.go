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
	digestA = "sha256:4a756058c3e1afd5104ff86a2c57f71c36fce07b3110dbaf2591371cfc47c799"
	digestB = "sha256:da6089dd9f39559d0fa323d0687aae495914fd2c6a01f7c260823202732cadf9"
	digestC = "sha256:cd3a66471ce1f630fa77d5c9bd9829f9f9fab6302a1aaa64d67b74f1f069b750"
)

func writeTemp(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGenerateFromSpecs(t *testing.T) {
	dir := t.TempDir()
	in := writeTemp(t, dir, "list.tsv", locktest.ReleaseList(
		"core-musl\t1.2.5\tMIT\tcore/musl\t"+digestA,
		"core-busybox\t1.37.0\tGPL-2.0-only\tcore/busybox\t"+digestB,
		"core-filesystem\tlatest\tISC\tcore/filesystem\t"+digestC,
	))
	specs := filepath.Join(dir, "images")
	if err := os.Mkdir(specs, 0o755); err != nil {
		t.Fatal(err)
	}
	writeTemp(t, specs, "a.yaml", "# syntax=x\nversion: 1\nname: a\npackages: [core-musl]\n")
	writeTemp(t, specs, "b.yaml", "version: 1\nname: b\nbase: scratch\npackages: [core-musl, \"docker.io/stagex/core-go@"+digestA+"\"]\n")
	// The lock beside the specs is not read as a spec, even when stale;
	// neither is the products file, which is applied.
	writeTemp(t, specs, "stagex.lock.yaml", "version: 1\nregistry: x/stagex\npackages: {}\n")
	writeTemp(t, specs, spec.DefaultProductsFile, "version: 1\npackages:\n"+
		"  core-musl: {cpe: musl-libc:musl, purl: pkg:generic/musl}\n"+
		"  core-filesystem: {none: no upstream product}\n")

	out := filepath.Join(specs, "stagex.lock.yaml")
	o, err := parseFlags([]string{"-in", in, "-out", out, "-from-specs", specs})
	if err != nil {
		t.Fatal(err)
	}
	data, err := generate(o)
	if err != nil {
		t.Fatal(err)
	}
	lock, err := spec.ParseLock("out", data)
	if err != nil {
		t.Fatalf("output does not parse as a lock: %v\n%s", err, data)
	}
	if lock.Release != "2026.03.0" || lock.Registry != "docker.io/stagex" || lock.Version != 1 {
		t.Errorf("lock header = %d %q %q", lock.Version, lock.Release, lock.Registry)
	}
	if len(lock.Packages) != 2 || lock.Packages["core-musl"].Digests["linux/amd64"] != digestA ||
		lock.Packages["core-filesystem"].Digests["linux/amd64"] != digestC {
		t.Errorf("packages = %+v, want core-musl and core-filesystem", lock.Packages)
	}
	if m := lock.Packages["core-musl"]; m.CPE != "cpe:2.3:a:musl-libc:musl:1.2.5:*:*:*:*:*:*:*" || m.PURL != "pkg:generic/musl@1.2.5" {
		t.Errorf("core-musl: cpe %q purl %q, want its product's with the lock's version", m.CPE, m.PURL)
	}
	if fs := lock.Packages["core-filesystem"]; fs.CPE != "" || fs.PURL != "" {
		t.Errorf("core-filesystem is none, yet cpe %q purl %q", fs.CPE, fs.PURL)
	}
	again, err := generate(o)
	if err != nil || string(again) != string(data) {
		t.Errorf("second run differs (err %v)", err)
	}

	// A package the products file does not cover is an error, located
	// in the products file, naming the package.
	writeTemp(t, specs, "d.yaml", "version: 1\nname: d\npackages: [core-busybox]\n")
	if _, err := generate(o); err == nil || !strings.Contains(err.Error(), "locked package core-busybox has no entry in the products file") ||
		!strings.Contains(err.Error(), spec.DefaultProductsFile+":2:") {
		t.Errorf("uncovered package: err = %v", err)
	}
	if err := os.Remove(filepath.Join(specs, "d.yaml")); err != nil {
		t.Fatal(err)
	}

	// A name the release lacks is an error, not a silent omission.
	writeTemp(t, specs, "c.yaml", "version: 1\nname: c\npackages: [core-pythn]\n")
	if _, err := generate(o); err == nil || !strings.Contains(err.Error(), "has no image core-pythn") {
		t.Errorf("unknown package: err = %v", err)
	}
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-out", "x"},
		{"-in", "x"},
		{"-in", "x", "-out", "y", "-all", "-only", "core-musl"},
		{"-in", "x", "-out", "y", "-all", "-from-specs", "images"},
		{"-in", "x", "-out", "y", "-only", " , "},
		{"-in", "x", "-out", "y", "stray"},
	} {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
	o, err := parseFlags([]string{"-in", "x", "-out", "y", "-only", "core-musl, core-zlib"})
	if err != nil || strings.Join(o.only, ",") != "core-musl,core-zlib" || o.fromSpecs != "" {
		t.Errorf("-only: %+v, %v", o, err)
	}
}

func TestReleaseMismatch(t *testing.T) {
	dir := t.TempDir()
	in := writeTemp(t, dir, "list.tsv", locktest.ReleaseList("core-musl\t1.2.5\tMIT\tcore/musl\t"+digestA))
	o, err := parseFlags([]string{"-release", "2025.01.0", "-in", in, "-out", "-", "-all"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := generate(o); err == nil || !strings.Contains(err.Error(), "is the list of release 2026.03.0") {
		t.Errorf("err = %v", err)
	}
}

func TestRowWithoutDigestIsRefused(t *testing.T) {
	dir := t.TempDir()
	in := writeTemp(t, dir, "list.tsv", locktest.ReleaseList("core-musl\t1.2.5\tMIT\tcore/musl\t"))
	o, err := parseFlags([]string{"-in", in, "-out", "-", "-all"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := generate(o); err == nil || !strings.Contains(err.Error(), "image core-musl has no digest") {
		t.Errorf("err = %v", err)
	}
}
