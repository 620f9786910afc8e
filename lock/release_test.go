package lock_test

import (
	"strings"
	"testing"

	. "edp.buildth.ing/devfw-cicd/stagex/lock"
	"edp.buildth.ing/devfw-cicd/stagex/lock/locktest"
	"edp.buildth.ing/devfw-cicd/stagex/spec"
)

const (
	digestA = "sha256:4a756058c3e1afd5104ff86a2c57f71c36fce07b3110dbaf2591371cfc47c799"
	digestB = "sha256:da6089dd9f39559d0fa323d0687aae495914fd2c6a01f7c260823202732cadf9"
	digestC = "sha256:cd3a66471ce1f630fa77d5c9bd9829f9f9fab6302a1aaa64d67b74f1f069b750"
)

func TestParseReleaseListGood(t *testing.T) {
	in := locktest.ReleaseList(
		"core-musl\t1.2.5\tMIT\tcore/musl\t"+digestA,
		"",
		"# a comment between rows",
		"core-filesystem\tlatest\tISC\tcore/filesystem\t"+digestC,
		"user-hardened_malloc\t14\t\tuser/hardened_malloc\t"+digestB, // license may be empty
	)
	list, err := ParseReleaseList("good.tsv", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if list.Release != "2026.03.0" {
		t.Errorf("release = %q, want 2026.03.0", list.Release)
	}
	if got, want := strings.Join(list.Names(), ","), "core-filesystem,core-musl,user-hardened_malloc"; got != want {
		t.Errorf("names = %s, want %s", got, want)
	}
	want := Row{Name: "core-musl", Version: "1.2.5", License: "MIT", Source: "core/musl", Digest: digestA, Line: 4}
	if got := list.Rows["core-musl"]; got != want {
		t.Errorf("core-musl = %+v, want %+v", got, want)
	}
	if got := list.Rows["user-hardened_malloc"].License; got != "" {
		t.Errorf("empty license read as %q", got)
	}
}

func TestParseReleaseListCRLF(t *testing.T) {
	in := strings.ReplaceAll(locktest.ReleaseList("core-musl\t1.2.5\tMIT\tcore/musl\t"+digestA), "\n", "\r\n")
	list, err := ParseReleaseList("crlf.tsv", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if got := list.Rows["core-musl"].Digest; got != digestA {
		t.Errorf("digest = %q", got)
	}
}

func TestParseReleaseListErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string // substrings of the error, all required
	}{
		{
			name: "bad digest",
			in:   locktest.ReleaseList("core-musl\t1.2.5\tMIT\tcore/musl\tsha256:1234"),
			want: []string{"bad.tsv:4:", "invalid digest", "core-musl"},
		},
		{
			name: "uppercase digest",
			in:   locktest.ReleaseList("core-musl\t1.2.5\tMIT\tcore/musl\t" + strings.ToUpper(digestA)),
			want: []string{"invalid digest"},
		},
		{
			name: "sha512 digest",
			in:   locktest.ReleaseList("core-musl\t1.2.5\tMIT\tcore/musl\tsha512:" + strings.Repeat("a", 128)),
			want: []string{"invalid digest"},
		},
		{
			name: "duplicate",
			in: locktest.ReleaseList(
				"core-musl\t1.2.5\tMIT\tcore/musl\t"+digestA,
				"core-musl\t1.2.6\tMIT\tcore/musl\t"+digestB,
			),
			want: []string{"bad.tsv:5:", "core-musl is listed twice (first on line 4)"},
		},
		{
			name: "missing column",
			in:   locktest.ReleaseList("core-musl\t1.2.5\tMIT\t" + digestA),
			want: []string{"bad.tsv:4:", "expected 5 tab-separated columns", "got 4"},
		},
		{
			name: "extra column",
			in:   locktest.ReleaseList("core-musl\t1.2.5\tMIT\tcore/musl\t" + digestA + "\textra"),
			want: []string{"got 6"},
		},
		{
			name: "spaces instead of tabs",
			in:   locktest.ReleaseList("core-musl 1.2.5 MIT core/musl " + digestA),
			want: []string{"got 1"},
		},
		{
			name: "empty version",
			in:   locktest.ReleaseList("core-musl\t\tMIT\tcore/musl\t" + digestA),
			want: []string{"column version is empty"},
		},
		{
			name: "bad name",
			in:   locktest.ReleaseList("Core Musl\t1.2.5\tMIT\tcore/musl\t" + digestA),
			want: []string{"invalid image name"},
		},
		{
			name: "no header",
			in:   "# comment\ncore-musl\t1.2.5\tMIT\tcore/musl\t" + digestA + "\n",
			want: []string{"bad.tsv:2:", "expected the header"},
		},
		{
			name: "empty",
			in:   "# only a comment\n",
			want: []string{"no header line"},
		},
		{
			name: "header only",
			in:   locktest.ReleaseListHeader,
			want: []string{"no images listed"},
		},
		{
			name: "every problem reported",
			in: locktest.ReleaseList(
				"core-a\t1\tMIT\tcore/a\tsha256:x",
				"core-b\t1\tMIT\tcore/b",
			),
			want: []string{"bad.tsv:4:", "bad.tsv:5:"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			list, err := ParseReleaseList("bad.tsv", strings.NewReader(tc.in))
			if err == nil {
				t.Fatalf("no error; parsed %v", list.Names())
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestReleaseListDigestIsOptional(t *testing.T) {
	list, err := ParseReleaseList("list.tsv", strings.NewReader(locktest.ReleaseList("core-musl\t1.2.5\tMIT\tcore/musl\t")))
	if err != nil {
		t.Fatal(err)
	}
	if got := list.Rows["core-musl"]; got.Digest != "" || got.Version != "1.2.5" {
		t.Errorf("row = %+v", got)
	}
	rows, err := list.Select("2026.03.0", []string{"core-musl", "core-musl"})
	if err != nil || len(rows) != 1 {
		t.Errorf("Select of a name twice = %v, %v; want one row", rows, err)
	}
	_, err = list.Select("2026.03.0", []string{"musl"})
	if err == nil || !strings.Contains(err.Error(), "release 2026.03.0 has no image musl (did you mean core-musl?)") {
		t.Errorf("err = %v", err)
	}
}

// TestListOfRoundTrip: the release list a lock implies (what hack/renovate-lock
// hands to `stagex lock update` after Renovate edited the lock) reads back as
// the lock's release, versions, licenses, sources and linux/amd64 digests;
// other platforms are not in a release list.
func TestListOfRoundTrip(t *testing.T) {
	l := &spec.Lock{Release: "2026.04.0", Packages: map[string]spec.LockPackage{
		"core-musl":       {Version: "1.2.6", License: "MIT", Source: "core/musl", Digests: map[string]string{"linux/amd64": digestA, "linux/arm64": digestB}},
		"core-filesystem": {Version: "latest", Digests: map[string]string{"linux/amd64": digestC}},
	}}
	var b strings.Builder
	if err := ListOf(l).Write(&b); err != nil {
		t.Fatal(err)
	}
	want := "# StageX release 2026.04.0\n" +
		"image\tversion\tlicense\tsource_package\tdigest\n" +
		"core-filesystem\tlatest\t\t\t" + digestC + "\n" +
		"core-musl\t1.2.6\tMIT\tcore/musl\t" + digestA + "\n"
	if b.String() != want {
		t.Fatalf("release list =\n%s\nwant\n%s", b.String(), want)
	}
	got, err := ParseReleaseList("list.tsv", strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if got.Release != "2026.04.0" || len(got.Rows) != 2 {
		t.Fatalf("parsed back: release %q, %d rows", got.Release, len(got.Rows))
	}
	if r := got.Rows["core-musl"]; r.Version != "1.2.6" || r.License != "MIT" || r.Source != "core/musl" || r.Digest != digestA {
		t.Errorf("core-musl parsed back as %+v", r)
	}
}
