package spec

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func TestParseLock(t *testing.T) {
	l := mustParseLock(t, readTestdata(t, "stagex.lock.yaml"))
	if l.Version != 1 || l.Release != "2026.03.0" || l.Registry != "registry.example.com/stagex" || l.File != "stagex.lock.yaml" {
		t.Errorf("lock header = %+v", l)
	}
	want := LockPackage{
		Version: "1.2.5", License: "MIT", Source: "core/musl",
		Digests: map[string]string{
			"linux/amd64":    digestA,
			"linux/arm64/v8": "sha256:" + strings.Repeat("1", 64),
		},
	}
	if got := l.Packages["core-musl"]; !reflect.DeepEqual(got, want) {
		t.Errorf("core-musl = %+v, want %+v", got, want)
	}
	if got := l.Pos("packages.core-musl.digests.linux/amd64"); got != (Pos{10, 20}) {
		t.Errorf("Pos = %v", got)
	}
}

func TestLockPackageDigestMatchesNormalizedPlatform(t *testing.T) {
	l := mustParseLock(t, readTestdata(t, "stagex.lock.yaml"))
	for _, c := range []struct {
		pkg, platform, want string
		ok                  bool
	}{
		{"core-musl", "linux/amd64", digestA, true},
		{"core-musl", "linux/arm64", "sha256:" + strings.Repeat("1", 64), true},          // lock says linux/arm64/v8
		{"core-filesystem", "linux/arm64/v8", "sha256:" + strings.Repeat("4", 64), true}, // lock says linux/arm64
		{"core-musl", "linux/riscv64", "", false},
		{"core-musl", "amd64", "", false}, // no os: not a platform
	} {
		got, ok := l.Packages[c.pkg].Digest(c.platform)
		if got != c.want || ok != c.ok {
			t.Errorf("%s.Digest(%q) = %q, %v; want %q, %v", c.pkg, c.platform, got, ok, c.want, c.ok)
		}
	}
}

// fprA and fprB are OpenPGP fingerprints in the form the lock records.
const (
	fprA = "1111111111111111111111111111111111111111"
	fprB = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
)

// lockHead is a valid lock up to the packages mapping; cases add a package
// from line 5.
const lockHead = "version: 1\nrelease: \"2026.03.0\"\nregistry: registry.example.com/stagex\npackages:\n"

func TestParseLockErrors(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want wantError
	}{
		{"malformed YAML", "version: 1\npackages: {a: [}\n",
			wantError{"stagex.lock.yaml:2:1", "invalid YAML", "brackets"}},
		{"empty", "\n", wantError{"stagex.lock.yaml:1:1", "empty lock", "version: 1"}},
		{"two documents", lockHead + "---\n", wantError{"stagex.lock.yaml:5:1", "more than one YAML document in the lock", "---"}},
		{"CR in release", "version: 1\nrelease: \"2026\\r\"\nregistry: registry.example.com/stagex\n",
			wantError{"stagex.lock.yaml:2:10", "release holds the character U+000D", "only printable text on one line"}},
		{"version missing", "registry: registry.example.com/stagex\n",
			wantError{"stagex.lock.yaml:1:1", "version is required", "version: 1"}},
		{"version wrong", "version: 3\nregistry: registry.example.com/stagex\n",
			wantError{"stagex.lock.yaml:1:10", "unsupported version 3", "version: 1"}},
		{"registry missing", "version: 1\n",
			wantError{"stagex.lock.yaml:1:1", "registry is required", "registry: <host>/stagex"}},
		{"registry invalid", "version: 1\nregistry: registry.example.com/StageX\n",
			wantError{"stagex.lock.yaml:2:11", "invalid registry \"registry.example.com/StageX\"", "without tag or digest"}},
		{"registry with digest", "version: 1\nregistry: registry.example.com/stagex@" + digestA + "\n",
			wantError{"stagex.lock.yaml:2:11", "invalid registry", "without tag or digest"}},
		{"unknown field", lockHead + "  core-musl:\n    digest: {linux/amd64: " + digestA + "}\n",
			wantError{"stagex.lock.yaml:6:5", "unknown field \"digest\" in packages.core-musl", "did you mean \"digests\"?"}},
		{"unknown top-level field", "version: 1\nregistries: x\nregistry: registry.example.com/stagex\n",
			wantError{"stagex.lock.yaml:2:1", "unknown field \"registries\" in the lock", "did you mean \"registry\"?"}},
		{"invalid package name", lockHead + "  Core-Musl:\n    digests: {linux/amd64: " + digestA + "}\n",
			wantError{"stagex.lock.yaml:5:3", "invalid package name \"Core-Musl\"", "lowercase"}},
		{"no digests", lockHead + "  core-musl:\n    version: 1.2.5\n",
			wantError{"stagex.lock.yaml:5:3", "package core-musl has no digests", "a digest per platform"}},
		{"digests a list", lockHead + "  core-musl:\n    digests: [" + digestA + "]\n",
			wantError{"stagex.lock.yaml:6:14", "packages.core-musl.digests: expected a mapping of names to strings, got a list", "name: value"}},
		{"bad digest uppercase", lockHead + "  core-musl:\n    digests:\n      linux/amd64: " + strings.ToUpper(digestA) + "\n",
			wantError{"stagex.lock.yaml:7:20", "package core-musl: invalid digest \"SHA256:816A6E", "64 lowercase hex"}},
		{"bad digest short", lockHead + "  core-musl:\n    digests:\n      linux/amd64: sha256:abc\n",
			wantError{"stagex.lock.yaml:7:20", "invalid digest \"sha256:abc\" for linux/amd64", "64 lowercase hex"}},
		{"bad digest algorithm", lockHead + "  core-musl:\n    digests:\n      linux/amd64: sha512:" + strings.Repeat("a", 128) + "\n",
			wantError{"stagex.lock.yaml:7:20", "invalid digest \"sha512:", "sha256:"}},
		{"platform without os", lockHead + "  core-musl:\n    digests:\n      amd64: " + digestA + "\n",
			wantError{"stagex.lock.yaml:7:7", "package core-musl: invalid platform \"amd64\"", "os/arch"}},
		{"platform unknown", lockHead + "  core-musl:\n    digests:\n      linux/x86: " + digestA + "\n",
			wantError{"stagex.lock.yaml:7:7", "invalid platform \"linux/x86\": unknown architecture \"x86\"", "linux/amd64"}},
		{"platform twice", lockHead + "  core-musl:\n    digests:\n      linux/arm64: " + digestA + "\n      linux/arm64/v8: " + digestA + "\n",
			wantError{"stagex.lock.yaml:8:7", "platform linux/arm64/v8 is the same as linux/arm64", "one digest per platform"}},
		{"source escapes", lockHead + "  core-musl:\n    source: ../musl\n    digests: {linux/amd64: " + digestA + "}\n",
			wantError{"stagex.lock.yaml:6:13", "invalid source \"../musl\"", "core/musl"}},
		{"signers for a platform without digest", lockHead + "  core-musl:\n    digests: {linux/amd64: " + digestA + "}\n    signers:\n      linux/arm64: [" + fprA + "]\n",
			wantError{"stagex.lock.yaml:8:7", "package core-musl: signers for linux/arm64, which has no digest", "spelled the same way"}},
		{"signer not a fingerprint", lockHead + "  core-musl:\n    digests: {linux/amd64: " + digestA + "}\n    signers:\n      linux/amd64: [abcd]\n",
			wantError{"stagex.lock.yaml:8:21", "package core-musl: invalid signer \"abcd\" for linux/amd64", "40 (or 64) uppercase hex"}},
		{"signers unsorted", lockHead + "  core-musl:\n    digests: {linux/amd64: " + digestA + "}\n    signers:\n      linux/amd64: [" + fprB + ", " + fprA + "]\n",
			wantError{"stagex.lock.yaml:8:63", "signers for linux/amd64 are not sorted and distinct", "once, sorted"}},
		{"signers twice", lockHead + "  core-musl:\n    digests: {linux/amd64: " + digestA + "}\n    signers:\n      linux/amd64: [" + fprA + ", " + fprA + "]\n",
			wantError{"stagex.lock.yaml:8:63", "not sorted and distinct at " + fprA, "once, sorted"}},
		{"signers empty", lockHead + "  core-musl:\n    digests: {linux/amd64: " + digestA + "}\n    signers:\n      linux/amd64: []\n",
			wantError{"stagex.lock.yaml:8:7", "no signers listed for linux/amd64", "leave the platform out"}},
		{"duplicate package", lockHead + "  core-musl:\n    digests: {linux/amd64: " + digestA + "}\n  core-musl:\n    digests: {linux/amd64: " + digestA + "}\n",
			wantError{"stagex.lock.yaml:7:3", "packages: duplicate key \"core-musl\" (first written at line 5)", "remove one"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, err := ParseLock("stagex.lock.yaml", []byte(c.src))
			if l != nil {
				t.Error("ParseLock returned a lock with an error")
			}
			requireError(t, err, c.want)
		})
	}
}

func TestLockMarshalIsDeterministic(t *testing.T) {
	l := mustParseLock(t, readTestdata(t, "stagex.lock.yaml"))
	first, err := l.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		again, err := l.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, again) {
			t.Fatalf("Marshal differs between calls:\n%s\n---\n%s", first, again)
		}
	}
	want := lines(
		"version: 1",
		"release: 2026.03.0",
		"registry: registry.example.com/stagex",
		"packages:",
		"  core-busybox:",
		"    version: 1.36.1",
		"    license: GPL-2.0-only",
		"    digests:",
		"      linux/amd64: "+digestB,
	)
	if !bytes.HasPrefix(first, []byte(want)) {
		t.Errorf("Marshal =\n%s\nwant it to start with\n%s", first, want)
	}
}

func TestLockRoundTrip(t *testing.T) {
	l := mustParseLock(t, readTestdata(t, "stagex.lock.yaml"))
	out, err := l.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	again := mustParseLock(t, out)
	if got := again.Packages["core-go"].Signers["linux/amd64"]; !reflect.DeepEqual(got, []string{fprA, fprB}) {
		t.Errorf("signers after the round trip = %v\n%s", got, out)
	}
	l.index, again.index = nil, nil
	if !reflect.DeepEqual(l, again) {
		t.Errorf("parse -> marshal -> parse changed the lock:\n%+v\n%+v", l, again)
	}
	out2, err := again.Marshal()
	if err != nil || !bytes.Equal(out, out2) {
		t.Errorf("second Marshal differs (%v):\n%s\n---\n%s", err, out, out2)
	}
}

func TestLockMarshalQuotesAmbiguousStrings(t *testing.T) {
	l := &Lock{
		Version:  1,
		Release:  "2026.10",
		Registry: "registry.example.com/stagex",
		Packages: map[string]LockPackage{
			"core-x": {Version: "1.10", License: "true", Digests: map[string]string{"linux/amd64": digestA}},
		},
	}
	out, err := l.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back := mustParseLock(t, out)
	if back.Release != "2026.10" || back.Packages["core-x"].Version != "1.10" || back.Packages["core-x"].License != "true" {
		t.Errorf("round trip lost text:\n%s", out)
	}
}

func TestLockMarshalRefusesInvalid(t *testing.T) {
	l := &Lock{Version: 1, Registry: "registry.example.com/stagex", Packages: map[string]LockPackage{
		"core-x": {Digests: map[string]string{"linux/amd64": "sha256:nope"}},
	}}
	if _, err := l.Marshal(); err == nil || !strings.Contains(err.Error(), "invalid digest") {
		t.Errorf("Marshal of an invalid lock: %v", err)
	}
}
