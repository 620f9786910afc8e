package spec

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func resolveFull(t *testing.T, o ResolveOptions) (*Spec, *Resolved) {
	t.Helper()
	s, err := ParseSpec("stagex.yaml", readTestdata(t, "full.stagex.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Resolve(s, mustParseLock(t, readTestdata(t, "stagex.lock.yaml")), o)
	if err != nil {
		t.Fatal(err)
	}
	return s, r
}

func TestResolveFullExample(t *testing.T) {
	_, r := resolveFull(t, ResolveOptions{Platform: "linux/amd64"})
	want := &Resolved{
		Base: &Package{Name: "core-filesystem", Ref: "registry.example.com/stagex/core-filesystem@" + digestC, Canonical: "registry.example.com/stagex/core-filesystem@" + digestC, Digest: digestC,
			Version: "2025.01", License: "MIT", FromLock: true, Pos: Pos{6, 7}},
		Packages: []Package{
			{Name: "core-musl", Ref: "registry.example.com/stagex/core-musl@" + digestA, Canonical: "registry.example.com/stagex/core-musl@" + digestA, Digest: digestA,
				Version: "1.2.5", License: "MIT", FromLock: true, Pos: Pos{8, 5}},
			{Name: "core-busybox", Ref: "registry.example.com/stagex/core-busybox@" + digestB, Canonical: "registry.example.com/stagex/core-busybox@" + digestB, Digest: digestB,
				Version: "1.36.1", License: "GPL-2.0-only", FromLock: true, Pos: Pos{9, 5}},
			// A full reference at a digest the lock records takes the
			// lock's version and license; its tag is kept in Ref.
			{Name: "core-go", Ref: "registry.example.com/stagex/core-go:1.26.0@" + digestG, Canonical: "registry.example.com/stagex/core-go:1.26.0@" + digestG, Digest: digestG,
				Version: "1.26.0", License: "BSD-3-Clause", FromLock: true, Pos: Pos{10, 5}},
		},
	}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("Resolve =\n%+v\nwant\n%+v", r, want)
	}
}

func TestResolveRegistryOverride(t *testing.T) {
	_, r := resolveFull(t, ResolveOptions{Platform: "linux/amd64", Registry: "mirror.example.com:5000/stagex/"})
	if got := r.Packages[0].Ref; got != "mirror.example.com:5000/stagex/core-musl@"+digestA {
		t.Errorf("short name with override = %q", got)
	}
	if got := r.Base.Ref; got != "mirror.example.com:5000/stagex/core-filesystem@"+digestC {
		t.Errorf("base with override = %q", got)
	}
	// Full references name their registry themselves.
	if got := r.Packages[2].Ref; got != "registry.example.com/stagex/core-go:1.26.0@"+digestG {
		t.Errorf("full ref with override = %q", got)
	}
	// The image names every package by the lock's registry: a mirror
	// serves the same digests and must not show in the image.
	for _, p := range append([]Package{*r.Base}, r.Packages...) {
		if !strings.HasPrefix(p.Canonical, "registry.example.com/stagex/") || !strings.HasSuffix(p.Canonical, p.Digest) {
			t.Errorf("%s: canonical reference %q, want the lock's registry", p.Name, p.Canonical)
		}
	}
}

func TestResolveNormalizedPlatform(t *testing.T) {
	s := mustParseSpec(t, "version: 1\nbase: scratch\npackages: [core-musl]\n")
	r, err := Resolve(s, mustParseLock(t, readTestdata(t, "stagex.lock.yaml")), ResolveOptions{Platform: "linux/arm64"})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Packages[0].Digest; got != "sha256:"+strings.Repeat("1", 64) {
		t.Errorf("linux/arm64 digest = %q (the lock spells it linux/arm64/v8)", got)
	}
}

func TestResolveBase(t *testing.T) {
	lock := mustParseLock(t, readTestdata(t, "stagex.lock.yaml"))
	for _, c := range []struct {
		name, src string
		want      *Package
	}{
		{"scratch", "version: 1\nbase: scratch\npackages: [core-musl]\n", nil},
		{"default", "version: 1\npackages: [core-musl]\n", &Package{Name: "core-filesystem",
			Ref: "registry.example.com/stagex/core-filesystem@" + digestC, Canonical: "registry.example.com/stagex/core-filesystem@" + digestC, Digest: digestC, Version: "2025.01",
			License: "MIT", FromLock: true, Pos: Pos{1, 1}}},
		{"full reference", "version: 1\nbase: registry.example.com/stagex/core-filesystem@" + digestC + "\npackages: [core-musl]\n",
			&Package{Name: "core-filesystem", Ref: "registry.example.com/stagex/core-filesystem@" + digestC, Canonical: "registry.example.com/stagex/core-filesystem@" + digestC, Digest: digestC,
				Version: "2025.01", License: "MIT", FromLock: true, Pos: Pos{2, 7}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := Resolve(mustParseSpec(t, c.src), lock, ResolveOptions{Platform: "linux/amd64"})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(r.Base, c.want) {
				t.Errorf("Base = %+v, want %+v", r.Base, c.want)
			}
		})
	}
}

func TestResolveFullReferences(t *testing.T) {
	lock := mustParseLock(t, readTestdata(t, "stagex.lock.yaml"))
	other := "sha256:" + strings.Repeat("e", 64)
	s := mustParseSpec(t, lines(
		"version: 1",
		"base: scratch",
		"packages:",
		"  - registry.example.com/tools/jq:1.7@"+other,   // not in the lock
		"  - registry.example.com/stagex/core-go@"+other, // in the lock by name, but another build
		"  - stagex/core-go@"+digestG,                    // no registry host: the default one is implied
	))
	r, err := Resolve(s, lock, ResolveOptions{Platform: "linux/amd64"})
	if err != nil {
		t.Fatal(err)
	}
	jq := r.Packages[0]
	if jq.Name != "jq" || jq.Version != "1.7" || jq.License != NoAssertion || jq.FromLock || jq.Digest != other {
		t.Errorf("jq = %+v", jq)
	}
	if goOther := r.Packages[1]; goOther.FromLock || goOther.Version != "" || goOther.License != NoAssertion {
		t.Errorf("core-go at another digest = %+v", goOther)
	}
	if g := r.Packages[2]; g.Name != "core-go" || !g.FromLock || !strings.HasSuffix(g.Ref, "/stagex/core-go@"+digestG) {
		t.Errorf("core-go without host = %+v", g)
	}
}

func TestResolveLicenseDefault(t *testing.T) {
	lock := &Lock{Version: 1, Registry: "registry.example.com/stagex", Packages: map[string]LockPackage{
		"core-x": {Digests: map[string]string{"linux/amd64": digestA}},
	}}
	s := mustParseSpec(t, "version: 1\nbase: scratch\npackages: [core-x]\n")
	r, err := Resolve(s, lock, ResolveOptions{Platform: "linux/amd64"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Packages[0].License != NoAssertion {
		t.Errorf("license = %q", r.Packages[0].License)
	}
}

func TestResolveErrors(t *testing.T) {
	lock := mustParseLock(t, readTestdata(t, "stagex.lock.yaml"))
	cases := []struct {
		name string
		src  string
		opts ResolveOptions
		want wantError
	}{
		{"unknown package with suggestion", "version: 1\npackages: [core-musl, core-busybx]\n", ResolveOptions{},
			wantError{"spec.yaml:2:23", "unknown package \"core-busybx\": it is not in the lock", "did you mean \"core-busybox\"?"}},
		{"unknown package without suggestion", "version: 1\npackages:\n  - zlib\n", ResolveOptions{},
			wantError{"spec.yaml:3:5", "unknown package \"zlib\"", "add it to the lock (stagex.lock.yaml), or use a full reference"}},
		{"unknown base", "version: 1\nbase: core-filesys\npackages: [core-musl]\n", ResolveOptions{},
			wantError{"spec.yaml:2:7", "base: unknown package \"core-filesys\"", "did you mean \"core-filesystem\"?"}},
		{"no digest for platform", "version: 1\nbase: scratch\npackages: [core-musl, core-busybox]\n", ResolveOptions{Platform: "linux/arm64"},
			wantError{"spec.yaml:3:23", "package \"core-busybox\" has no digest for platform linux/arm64 in the lock", "the lock has linux/amd64; regenerate the lock for linux/arm64"}},
		{"unpinned reference", "version: 1\npackages:\n  - core-musl\n  - registry.example.com/stagex/core-go:1.26.0\n", ResolveOptions{},
			wantError{"spec.yaml:4:5", "image reference \"registry.example.com/stagex/core-go:1.26.0\" has no digest", "STAGEX_ALLOW_UNPINNED=1"}},
		{"another platform's digest", "version: 1\nbase: scratch\npackages:\n  - stagex/core-musl@sha256:1111111111111111111111111111111111111111111111111111111111111111\n", ResolveOptions{},
			wantError{"spec.yaml:4:5", "is the lock's linux/arm64/v8 image of core-musl, not its linux/amd64 image", "write the package name alone (core-musl)"}},
		{"unpinned base", "version: 1\nbase: registry.example.com/stagex/core-filesystem\npackages: [core-musl]\n", ResolveOptions{},
			wantError{"spec.yaml:2:7", "base: image reference", "STAGEX_ALLOW_UNPINNED=1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.opts.Platform == "" {
				c.opts.Platform = "linux/amd64"
			}
			_, err := Resolve(mustParseSpec(t, c.src), lock, c.opts)
			requireError(t, err, c.want)
		})
	}
}

func TestResolveReportsEveryEntry(t *testing.T) {
	lock := mustParseLock(t, readTestdata(t, "stagex.lock.yaml"))
	_, err := Resolve(mustParseSpec(t, "version: 1\npackages: [nope1, nope2, registry.example.com/x/y]\n"), lock, ResolveOptions{Platform: "linux/amd64"})
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 3 {
		t.Errorf("want 3 errors, got %v", err)
	}
}

func TestResolveMalformedReference(t *testing.T) {
	// ParseSpec rejects malformed references; a Spec built in code gets the
	// same check from Resolve.
	s := &Spec{Version: 1, File: "built.yaml", Base: Scratch, Packages: []PackageRef{
		{Ref: "registry.example.com/Stagex/core-go@" + digestG, Pos: Pos{4, 5}},
		{Ref: "core-go:1.26", Pos: Pos{5, 5}},
	}}
	_, err := Resolve(s, mustParseLock(t, readTestdata(t, "stagex.lock.yaml")), ResolveOptions{Platform: "linux/amd64"})
	requireError(t, err, wantError{"built.yaml:4:5", "invalid image reference", "lowercase"})
	requireError(t, err, wantError{"built.yaml:5:5", "cannot carry a tag", "\"core-go\""})
}

func TestResolveUnpinnedAllowed(t *testing.T) {
	s := mustParseSpec(t, "version: 1\nbase: scratch\npackages:\n  - registry.example.com/stagex/core-go:1.26.0\n")
	r, err := Resolve(s, nil, ResolveOptions{Platform: "linux/amd64", AllowUnpinned: true})
	if err != nil {
		t.Fatal(err)
	}
	p := r.Packages[0]
	if p.Digest != "" || p.Ref != "registry.example.com/stagex/core-go:1.26.0" || p.Version != "1.26.0" {
		t.Errorf("unpinned package = %+v", p)
	}
	if len(r.Warnings) != 1 || r.Warnings[0].Rule != "UnpinnedReference" || r.Warnings[0].Pos != (Pos{4, 5}) {
		t.Fatalf("warnings = %+v", r.Warnings)
	}
	if got := r.Warnings[0].Error.Error(); !strings.HasPrefix(got, "spec.yaml:4:5: image reference \"registry.example.com/stagex/core-go:1.26.0\" has no digest") {
		t.Errorf("warning = %q", got)
	}
}

func TestResolveWithoutLock(t *testing.T) {
	s := mustParseSpec(t, "version: 1\nbase: scratch\npackages: [core-musl]\n")
	_, err := Resolve(s, nil, ResolveOptions{Platform: "linux/amd64"})
	requireError(t, err, wantError{"spec.yaml:3:12", "package \"core-musl\" cannot be resolved without a lock", "stagex.lock.yaml"})
}

func TestResolveBadOptions(t *testing.T) {
	s := mustParseSpec(t, "version: 1\nbase: scratch\npackages: [core-musl]\n")
	lock := mustParseLock(t, readTestdata(t, "stagex.lock.yaml"))
	if _, err := Resolve(s, lock, ResolveOptions{}); err == nil || !strings.Contains(err.Error(), "invalid platform") {
		t.Errorf("empty platform: %v", err)
	}
	if _, err := Resolve(s, lock, ResolveOptions{Platform: "linux/amd64", Registry: "Not A Registry"}); err == nil || !strings.Contains(err.Error(), "STAGEX_REGISTRY") {
		t.Errorf("bad registry override: %v", err)
	}
}
