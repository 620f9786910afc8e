package frontend

import (
	"errors"
	"strings"
	"testing"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/spec"
	"github.com/moby/buildkit/solver/errdefs"
)

func TestParseOptions(t *testing.T) {
	vcs := map[string]string{"vcs:revision": "abc", "vcs:source": "https://example.test/r"}
	o, err := parseOptions(map[string]string{
		ArgEpoch: "1700000000", ArgAllowUnpinned: "1", ArgRegistry: "mirror.test/stagex", ArgVersion: "1.2.3",
		ArgCheck: "strict", ArgTests: "fixture",
	}, vcs)
	if err != nil {
		t.Fatal(err)
	}
	// The VCS facts buildx passes stay out of the image unless asked for.
	if !o.Epoch.Equal(time.Unix(1700000000, 0)) || !o.AllowUnpinned || o.Registry != "mirror.test/stagex" ||
		o.Version != "1.2.3" || o.Revision != "" || o.Source != "" ||
		o.Check != CheckStrict || o.Tests != TestsFixture {
		t.Fatalf("options = %+v", o)
	}
	o, err = parseOptions(map[string]string{ArgVCSLabels: "1"}, vcs)
	if err != nil || o.Revision != "abc" || o.Source != "https://example.test/r" {
		t.Fatalf("with %s=1: options = %+v, %v", ArgVCSLabels, o, err)
	}
	def, err := parseOptions(nil, nil)
	if err != nil || !def.Epoch.Equal(time.Unix(0, 0)) || def.AllowUnpinned || def.Check != CheckOff || def.Tests != TestsRun {
		t.Fatalf("defaults = %+v, %v; want epoch 0, unpinned refused, check off, tests run", def, err)
	}
	for _, bad := range []map[string]string{
		{ArgEpoch: "yesterday"}, {ArgEpoch: "-1"}, {ArgAllowUnpinned: "maybe"},
		{ArgCheck: "on"}, {ArgCheck: "STRICT"}, {ArgTests: "skip"},
	} {
		if _, err := parseOptions(bad, nil); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestVCSLabels(t *testing.T) {
	for _, tc := range []struct{ source, want, err string }{
		{"https://example.test/org/repo.git", "https://example.test/org/repo.git", ""},
		{"https://user:token@example.test/org/repo.git?x=1#frag", "https://example.test/org/repo.git", ""},
		{"ssh://git@example.test:2222/org/repo.git", "ssh://example.test:2222/org/repo.git", ""},
		{"git@example.test:org/repo.git", "ssh://example.test/org/repo.git", ""},
		{"/home/me/src/stagex", "", "local path"},
		{"../stagex", "", "local path"},
		{"file:///home/me/src/stagex", "", "file: URL"},
		{"", "", "passed no VCS source"},
	} {
		o, err := parseOptions(map[string]string{ArgVCSLabels: "true"}, map[string]string{"vcs:revision": "abc", "vcs:source": tc.source})
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "vcs:source=<url>") {
				t.Errorf("%q: err = %v, want %q with a hint", tc.source, err, tc.err)
			}
			if err != nil && strings.Contains(err.Error(), "token") {
				t.Errorf("%q: the error shows the credentials: %v", tc.source, err)
			}
		case err != nil || o.Source != tc.want || o.Revision != "abc":
			t.Errorf("%q: source %q revision %q, %v; want %q", tc.source, o.Source, o.Revision, err, tc.want)
		}
	}
	if _, err := parseOptions(map[string]string{ArgVCSLabels: "1"}, map[string]string{"vcs:source": "https://example.test/r"}); err == nil {
		t.Error("labels asked for without a revision: accepted")
	}
	if _, err := parseOptions(map[string]string{ArgVCSLabels: "please"}, nil); err == nil {
		t.Errorf("%s=please accepted", ArgVCSLabels)
	}
}

func TestOutlineListsEveryArg(t *testing.T) {
	args := outlineArgs()
	if len(args) != len(buildArgs) {
		t.Fatalf("outline has %d args, the table %d", len(args), len(buildArgs))
	}
	for _, a := range args {
		if a.Description == "" {
			t.Errorf("%s has no description", a.Name)
		}
	}
}

func TestLockPath(t *testing.T) {
	parse := func(file, body string) *spec.Spec {
		s, err := spec.ParseSpec(file, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, tc := range []struct {
		file, body, arg, want, err string
	}{
		{"stagex.yaml", "version: 1\npackages: [a]\n", "", "stagex.lock.yaml", ""},
		{"images/base.yaml", "version: 1\npackages: [a]\n", "", "images/stagex.lock.yaml", ""},
		{"images/base.yaml", "version: 1\nlock: locks/x.yaml\npackages: [a]\n", "", "images/locks/x.yaml", ""},
		{"images/base.yaml", "version: 1\nlock: locks/x.yaml\npackages: [a]\n", "other.yaml", "images/other.yaml", ""},
		{"base.yaml", "version: 1\npackages: [a]\n", "../up.yaml", "", "leaves the spec's folder"},
	} {
		got, err := lockPath(parse(tc.file, tc.body), Options{Lock: tc.arg})
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s %s: err = %v, want %q", tc.file, tc.arg, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s %s: lockPath = %q, %v; want %q", tc.file, tc.arg, got, err, tc.want)
		}
	}
}

// A spec error reaches the client with the spec's text and the ranges, so
// that buildx and buildctl print the offending line under the message.
func TestWithSourceAttachesTheSpec(t *testing.T) {
	data := []byte("version: 1\npackages: [a]\nbogus: 1\n")
	_, err := spec.ParseSpec("stagex.yaml", data)
	if err == nil {
		t.Fatal("parsed")
	}
	err = withSource(err, map[string][]byte{"stagex.yaml": data})
	srcs := errdefs.Sources(err)
	if len(srcs) != 1 || srcs[0].Info.Filename != "stagex.yaml" || string(srcs[0].Info.Data) != string(data) {
		t.Fatalf("sources = %v", srcs)
	}
	if r := srcs[0].Ranges; len(r) != 1 || r[0].Start.Line != 3 {
		t.Fatalf("ranges = %v, want line 3", r)
	}
	var list spec.ErrorList
	if !errors.As(err, &list) {
		t.Fatal("the spec errors are no longer reachable with errors.As")
	}
	plain := errors.New("boom")
	if withSource(plain, nil) != plain {
		t.Fatal("a non-spec error was changed")
	}
}

// A lock that cannot be read is reported in the spec that named it, with
// the cause, since the lock itself may not exist to point into.
func TestLockReadErrorPointsAtTheSpec(t *testing.T) {
	s, err := spec.ParseSpec("stagex.yaml", []byte("version: 1\nlock: locks/x.yaml\npackages: [a]\n"))
	if err != nil {
		t.Fatal(err)
	}
	cause := errors.New("open locks/x.yaml: no such file or directory")
	for _, tc := range []struct {
		opts       Options
		path, want string
	}{
		{Options{}, "locks/x.yaml", "stagex.yaml:2:7: cannot read the lock file locks/x.yaml: open locks/x.yaml"},
		{Options{Lock: "y.yaml"}, "y.yaml", "stagex.yaml:1:1: cannot read the lock file y.yaml (from STAGEX_LOCK=y.yaml): open"},
	} {
		if got := lockReadError(s, tc.opts, tc.path, cause).Error(); !strings.HasPrefix(got, tc.want) {
			t.Errorf("error = %q, want prefix %q", got, tc.want)
		}
	}
}

func TestSBOMFormats(t *testing.T) {
	for params, want := range map[string]int{"": 1, "cyclonedx=true": 2, "cyclonedx=false": 1, "cyclonedx=1": 2} {
		m := map[string]string{}
		if k, v, ok := strings.Cut(params, "="); ok {
			m[k] = v
		}
		got, err := sbomFormats(m)
		if err != nil || len(got) != want || got[0].predicate != "https://spdx.dev/Document" {
			t.Errorf("%q: %d formats, %v; want %d, SPDX first", params, len(got), err, want)
		}
	}
	if _, err := sbomFormats(map[string]string{ParamCycloneDX: "yes please"}); err == nil {
		t.Error("a bad cyclonedx value was accepted")
	}
}
