package spec

import (
	"bytes"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

var (
	archiveSum  = strings.Repeat("ab", 32)
	archiveSum2 = strings.Repeat("cd", 32)
)

// archiveSpec has one archive entry from line 3 on.
var archiveSpec = lines(
	"version: 1",
	"packages: [core-musl]",
	"archives:",
	"  - name: temurin-jre",
	"    url: https://example.org/dl/jre.tar.gz",
	"    sha256: "+archiveSum,
	"    dst: /opt/java/openjdk",
	"    strip-components: 1",
	"    version: 21.0.12+8",
	"    license: GPL-2.0-only WITH Classpath-exception-2.0",
	"    platform: linux/amd64",
)

func TestParseSpecArchives(t *testing.T) {
	s := mustParseSpec(t, archiveSpec)
	want := []Archive{{
		Name: "temurin-jre", URL: "https://example.org/dl/jre.tar.gz", SHA256: archiveSum,
		Dst: "/opt/java/openjdk", StripComponents: 1, Version: "21.0.12+8",
		License: "GPL-2.0-only WITH Classpath-exception-2.0", Platform: "linux/amd64",
		At: ArchiveAt{
			Entry: Field{"archives[0]", Pos{4, 5}}, Name: Field{"archives[0].name", Pos{4, 11}},
			URL: Field{"archives[0].url", Pos{5, 10}}, SHA256: Field{"archives[0].sha256", Pos{6, 13}},
			Dst: Field{"archives[0].dst", Pos{7, 10}}, StripComponents: Field{"archives[0].strip-components", Pos{8, 23}},
			Version: Field{"archives[0].version", Pos{9, 14}}, License: Field{"archives[0].license", Pos{10, 14}},
			Platform: Field{"archives[0].platform", Pos{11, 15}},
		},
	}}
	if !reflect.DeepEqual(s.Archives, want) {
		t.Errorf("archives = %+v, want %+v", s.Archives, want)
	}
}

func TestParseSpecArchiveErrors(t *testing.T) {
	entry := func(fields ...string) string {
		return head + "archives:\n  - " + strings.Join(fields, "\n    ") + "\n"
	}
	ok := []string{"name: jre", "url: https://example.org/jre.tgz", "sha256: " + archiveSum, "dst: /opt/jre"}
	with := func(i int, field string) string {
		f := append([]string(nil), ok...)
		if i < len(f) {
			f[i] = field
		} else {
			f = append(f, field)
		}
		return entry(f...)
	}
	cases := []struct {
		name string
		src  string
		want wantError
	}{
		{"name missing", entry(ok[1:]...), wantError{"spec.yaml:4:5", "name is required", "temurin-jre"}},
		{"name invalid", with(0, "name: JRE"), wantError{"spec.yaml:4:11", "invalid archive name \"JRE\"", "lowercase"}},
		{"name twice", head + "archives:\n  - {name: jre, url: \"https://a.example/x\", sha256: " + archiveSum + ", dst: /a}\n" +
			"  - {name: jre, url: \"https://a.example/y\", sha256: " + archiveSum + ", dst: /b}\n",
			wantError{"spec.yaml:5:12", "duplicate archive name \"jre\"", "first listed at archives[0].name (line 4)"}},
		{"url missing", entry(ok[0], ok[2], ok[3]), wantError{"spec.yaml:4:5", "url is required", "https://"}},
		{"url ftp", with(1, "url: ftp://example.org/jre.tgz"), wantError{"spec.yaml:5:10", "scheme must be https or http", "https://"}},
		{"url relative", with(1, "url: jre.tgz"), wantError{"spec.yaml:5:10", "scheme must be https or http", ""}},
		{"url credentials", with(1, "url: https://me:secret@example.org/jre.tgz"), wantError{"spec.yaml:5:10", "carries credentials", "never write credentials"}},
		{"url fragment", with(1, "url: https://example.org/jre.tgz#sha256=x"), wantError{"spec.yaml:5:10", "has a #fragment", "sha256:"}},
		{"sha256 missing", entry(ok[0], ok[1], ok[3]), wantError{"spec.yaml:4:5", "sha256 is required", "64 hex digits"}},
		{"sha256 prefixed", with(2, "sha256: sha256:"+archiveSum), wantError{"spec.yaml:6:13", "has a sha256: prefix", "write the 64 hex digits alone: " + archiveSum}},
		{"sha256 short", with(2, "sha256: abc"), wantError{"spec.yaml:6:13", "invalid sha256 \"abc\"", "64 lowercase hex"}},
		{"sha256 upper", with(2, "sha256: "+strings.ToUpper(archiveSum)), wantError{"spec.yaml:6:13", "invalid sha256", "lowercase"}},
		{"dst missing", entry(ok[:3]...), wantError{"spec.yaml:4:5", "dst: dst is required", "/opt/java/openjdk"}},
		{"dst relative", with(3, "dst: opt/jre"), wantError{"spec.yaml:7:10", "must be absolute", "/opt/jre"}},
		{"dst root", with(3, "dst: /"), wantError{"spec.yaml:7:10", "cannot be \"/\"", "below the root"}},
		{"strip negative", with(4, "strip-components: -1"), wantError{"spec.yaml:8:23", "strip-components -1 is out of range", "0 to 8"}},
		{"strip too large", with(4, "strip-components: 9"), wantError{"spec.yaml:8:23", "strip-components 9 is out of range", "top folder"}},
		{"strip a string", with(4, "strip-components: one"), wantError{"spec.yaml:8:23", "expected an integer", "whole number"}},
		{"platform invalid", with(4, "platform: amd64"), wantError{"spec.yaml:8:15", "invalid platform \"amd64\"", "linux/amd64"}},
		{"unknown field", with(4, "checksum: x"), wantError{"spec.yaml:8:5", "unknown field \"checksum\" in archives[0]", ""}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseSpec("spec.yaml", []byte(c.src))
			requireError(t, err, c.want)
		})
	}
}

// archiveLock is the test lock plus an archives section.
func archiveLock(t *testing.T, archives string) *Lock {
	t.Helper()
	return mustParseLock(t, append(readTestdata(t, "stagex.lock.yaml"), []byte(archives)...))
}

func TestResolveArchivesFromSpec(t *testing.T) {
	s := mustParseSpec(t, archiveSpec)
	r, err := Resolve(s, mustParseLock(t, readTestdata(t, "stagex.lock.yaml")), ResolveOptions{Platform: "linux/amd64"})
	if err != nil {
		t.Fatal(err)
	}
	// The spec's entry as written, positions included; nothing to pin.
	want := []ResolvedArchive{{Archive: s.Archives[0]}}
	if s.Archives[0].At.Entry.Pos != (Pos{4, 5}) || s.Archives[0].License != "GPL-2.0-only WITH Classpath-exception-2.0" {
		t.Fatalf("spec archive = %+v", s.Archives[0])
	}
	if !reflect.DeepEqual(r.Archives, want) {
		t.Errorf("archives = %+v, want %+v", r.Archives, want)
	}
	if d := r.Archives[0].Digest(); d != "sha256:"+archiveSum {
		t.Errorf("Digest() = %s", d)
	}
}

// The lock is the pin file: an archive entry there replaces the spec's url
// and sha256, and its version and license when it has them.
func TestResolveArchivesLockOverride(t *testing.T) {
	s := mustParseSpec(t, archiveSpec)
	l := archiveLock(t, lines(
		"archives:",
		"  temurin-jre:",
		"    url: http://127.0.0.1:5000/v2/stagex/temurin-jre/blobs/sha256:"+archiveSum2,
		"    sha256: "+archiveSum2,
		"  unused-by-this-spec:",
		"    version: \"1\"",
		"    url: https://example.org/other.tgz",
		"    sha256: "+archiveSum,
	))
	r, err := Resolve(s, l, ResolveOptions{Platform: "linux/amd64", Registry: "mirror.example.com/stagex"})
	if err != nil {
		t.Fatal(err)
	}
	got := r.Archives[0]
	if got.URL != "http://127.0.0.1:5000/v2/stagex/temurin-jre/blobs/sha256:"+archiveSum2 || got.SHA256 != archiveSum2 || !got.FromLock {
		t.Errorf("archive = %+v, want the lock's url and sha256", got)
	}
	if got.Version != "21.0.12+8" || got.License != "GPL-2.0-only WITH Classpath-exception-2.0" || got.Dst != "/opt/java/openjdk" || got.StripComponents != 1 {
		t.Errorf("archive = %+v, want the spec's version, license, dst and strip-components", got)
	}
	// The re-pin is allowed but never silent: a warning at the archive's line.
	if len(r.Warnings) != 1 || r.Warnings[0].Rule != "ArchiveRepinned" || r.Warnings[0].Pos != s.Pos("archives[0]") ||
		!strings.Contains(r.Warnings[0].Msg, "sha256 "+archiveSum2) {
		t.Errorf("warnings = %+v, want one ArchiveRepinned naming the lock's sha256", r.Warnings)
	}

	l = archiveLock(t, "archives:\n  temurin-jre: {version: fixture, license: MIT, url: \"https://example.org/x\", sha256: "+archiveSum2+"}\n")
	r, err = Resolve(s, l, ResolveOptions{Platform: "linux/amd64"})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Archives[0]; got.Version != "fixture" || got.License != "MIT" {
		t.Errorf("archive = %+v, want the lock's version and license", got)
	}
}

func TestResolveArchiveLicenseDefault(t *testing.T) {
	s := mustParseSpec(t, head+"archives: [{name: x, url: \"https://example.org/x\", sha256: "+archiveSum+", dst: /x}]\n")
	r, err := Resolve(s, mustParseLock(t, readTestdata(t, "stagex.lock.yaml")), ResolveOptions{Platform: "linux/amd64"})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Archives[0]; got.License != NoAssertion || got.Version != "" || got.FromLock {
		t.Errorf("archive = %+v, want NOASSERTION, no version, not from the lock", got)
	}
}

func TestResolveArchiveForAnotherPlatform(t *testing.T) {
	s := mustParseSpec(t, archiveSpec)
	_, err := Resolve(s, mustParseLock(t, readTestdata(t, "stagex.lock.yaml")), ResolveOptions{Platform: "linux/arm64"})
	requireError(t, err, wantError{"spec.yaml:11:15", "archive temurin-jre is for linux/amd64, not for linux/arm64", "or list another archive for linux/arm64"})
	// The same platform written differently is the same platform.
	s = mustParseSpec(t, strings.Replace(archiveSpec, "platform: linux/amd64", "platform: linux/arm64/v8", 1))
	if _, err := Resolve(s, mustParseLock(t, readTestdata(t, "stagex.lock.yaml")), ResolveOptions{Platform: "linux/arm64"}); err != nil {
		t.Errorf("linux/arm64/v8 archive for linux/arm64: %v", err)
	}
}

func TestParseLockArchiveErrors(t *testing.T) {
	base := string(readTestdata(t, "stagex.lock.yaml"))
	n := strings.Count(base, "\n")
	at := func(line, col int) string {
		return "stagex.lock.yaml:" + strconv.Itoa(n+line) + ":" + strconv.Itoa(col)
	}
	cases := []struct {
		name, src string
		want      wantError
	}{
		{"invalid name", "archives:\n  JRE: {url: \"https://example.org/x\", sha256: " + archiveSum + "}\n",
			wantError{at(2, 3), "invalid archive name \"JRE\"", "lowercase"}},
		{"no url", "archives:\n  jre:\n    sha256: " + archiveSum + "\n",
			wantError{at(2, 3), "archive jre: url is required", "https://"}},
		{"bad sha256", "archives:\n  jre:\n    url: https://example.org/x\n    sha256: sha256:" + archiveSum + "\n",
			wantError{at(4, 13), "archive jre: sha256 \"sha256:", "write the 64 hex digits alone"}},
		{"unknown field", "archives:\n  jre:\n    dst: /opt\n",
			wantError{at(3, 5), "unknown field \"dst\" in archives.jre", ""}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseLock("stagex.lock.yaml", []byte(base+c.src))
			requireError(t, err, c.want)
		})
	}
}

func TestLockArchivesRoundTrip(t *testing.T) {
	l := archiveLock(t, "archives:\n  zz: {url: \"https://example.org/z\", sha256: "+archiveSum+"}\n  jre: {license: MIT, version: \"1.10\", sha256: "+archiveSum2+", url: \"http://127.0.0.1:1/x\"}\n")
	out, err := l.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := lines(
		"archives:",
		"  jre:",
		"    version: \"1.10\"",
		"    license: MIT",
		"    url: http://127.0.0.1:1/x",
		"    sha256: "+archiveSum2,
		"  zz:",
		"    url: https://example.org/z",
		"    sha256: "+archiveSum,
	)
	if !bytes.HasSuffix(out, []byte(want)) {
		t.Errorf("Marshal =\n%s\nwant it to end with\n%s", out, want)
	}
	again := mustParseLock(t, out)
	l.index, again.index = nil, nil
	if !reflect.DeepEqual(l, again) {
		t.Errorf("parse -> marshal -> parse changed the lock:\n%+v\n%+v", l, again)
	}
	// A lock without archives is written without the section, so existing
	// locks stay byte for byte what they were.
	plain, err := mustParseLock(t, readTestdata(t, "stagex.lock.yaml")).Marshal()
	if err != nil || bytes.Contains(plain, []byte("archives")) {
		t.Errorf("a lock without archives marshals with an archives section (%v):\n%s", err, plain)
	}
}
