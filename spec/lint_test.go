package spec

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

func lintSource(t *testing.T, src string, allowUnpinned bool) []Warning {
	t.Helper()
	s := mustParseSpec(t, src)
	r, err := Resolve(s, mustParseLock(t, readTestdata(t, "stagex.lock.yaml")), ResolveOptions{Platform: "linux/amd64", AllowUnpinned: allowUnpinned})
	if err != nil {
		t.Fatal(err)
	}
	return Lint(s, r)
}

// summary is "Rule file:line:col: msg" per warning, for comparing.
func summary(ws []Warning) []string {
	var out []string
	for _, w := range ws {
		out = append(out, fmt.Sprintf("%s %s:%d:%d: %s", w.Rule, w.File, w.Pos.Line, w.Pos.Column, w.Msg))
	}
	return out
}

func TestLint(t *testing.T) {
	cases := []struct {
		name          string
		src           string
		allowUnpinned bool
		want          []string
	}{
		{"clean", "", false, nil},
		{"duplicate by name", lines(
			"version: 1",
			"packages:",
			"  - core-musl",
			"  - core-busybox",
			"  - core-musl",
		), false, []string{`DuplicatePackage spec.yaml:5:5: package "core-musl" is already layered at line 3`}},
		{"duplicate of the base", lines(
			"version: 1",
			"base: core-filesystem",
			"packages: [core-filesystem]",
		), false, []string{`DuplicatePackage spec.yaml:3:12: package "core-filesystem" is already layered at line 2`}},
		{"duplicate by digest", lines(
			"version: 1",
			"base: scratch",
			"packages:",
			"  - core-musl",
			"  - registry.example.com/mirror/musl@"+digestA,
		), false, []string{`DuplicatePackage spec.yaml:5:5: package "musl" is the same image as "core-musl" at line 4`}},
		{"unpinned reference", lines(
			"version: 1",
			"packages:",
			"  - registry.example.com/stagex/core-go:1.26.0",
		), true, []string{`UnpinnedReference spec.yaml:3:5: image reference "registry.example.com/stagex/core-go:1.26.0" has no digest: builds may differ`}},
		{"shell in static image", lines(
			"version: 1",
			"name: app-static",
			"packages: [core-musl, core-busybox]",
			"paths:",
			"  - {path: /bin/sh, type: symlink, target: /bin/app}",
			"copy:",
			"  - {src: sh, dst: /usr/bin/sh}",
		), false, []string{
			`ShellInStaticImage spec.yaml:3:23: "app-static" is named static but package "core-busybox" provides a shell`,
			`ShellInStaticImage spec.yaml:5:12: "app-static" is named static but creates /bin/sh`,
			`ShellInStaticImage spec.yaml:7:20: "app-static" is named static but copies a file to /usr/bin/sh`,
		}},
		{"shell in an image not named static", lines(
			"version: 1",
			"name: app",
			"packages: [core-busybox]",
		), false, nil},
		{"sorted by position across rules", lines(
			"version: 1",
			"name: Static-Tools",
			"packages:",
			"  - core-busybox",
			"  - registry.example.com/stagex/core-go:1.26.0",
			"  - core-busybox",
		), true, []string{
			`ShellInStaticImage spec.yaml:4:5: "Static-Tools" is named static but package "core-busybox" provides a shell`,
			`UnpinnedReference spec.yaml:5:5: image reference "registry.example.com/stagex/core-go:1.26.0" has no digest: builds may differ`,
			`DuplicatePackage spec.yaml:6:5: package "core-busybox" is already layered at line 4`,
			`ShellInStaticImage spec.yaml:6:5: "Static-Tools" is named static but package "core-busybox" provides a shell`,
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := c.src
			if src == "" {
				src = string(readTestdata(t, "full.stagex.yaml"))
			}
			got := summary(lintSource(t, src, c.allowUnpinned))
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("Lint =\n%q\nwant\n%q", got, c.want)
			}
		})
	}
}

func TestLintWarningsDescribeTheirRule(t *testing.T) {
	ws := lintSource(t, "version: 1\nname: static\npackages: [core-busybox, core-busybox]\n", false)
	if len(ws) == 0 {
		t.Fatal("no warnings")
	}
	for _, w := range ws {
		if w.Description == "" || w.Hint == "" || w.Error == nil {
			t.Errorf("warning %s lacks description or hint: %+v", w.Rule, w)
		}
		if !slices.ContainsFunc(lintRules, func(r lintRule) bool { return r.name == w.Rule && r.url() == w.URL }) {
			t.Errorf("warning %s: rule missing from lintRules (so from the docs test) or URL %q not its own", w.Rule, w.URL)
		}
	}
}

func TestLintSpecAlone(t *testing.T) {
	s := mustParseSpec(t, "version: 1\nname: static\npackages: [core-musl]\npaths: [{path: /bin/sh, type: file}]\n")
	if got := summary(Lint(s, nil)); len(got) != 1 {
		t.Errorf("Lint without resolution = %q", got)
	}
}

// TestLintRulesDocumented: every rule's URL points at a "## Rule" section of
// docs/lint.md, and every section there is a rule.
func TestLintRulesDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/lint.md")
	if err != nil {
		t.Fatal(err)
	}
	var sections []string
	for _, l := range strings.Split(string(doc), "\n") {
		if h, ok := strings.CutPrefix(l, "## "); ok {
			sections = append(sections, h)
		}
	}
	var names []string
	for _, r := range lintRules {
		names = append(names, r.name)
		if want := LintDocs + "#" + strings.ToLower(r.name); r.url() != want {
			t.Errorf("%s: URL %s, want %s", r.name, r.url(), want)
		}
	}
	slices.Sort(names)
	slices.Sort(sections)
	if !slices.Equal(names, sections) {
		t.Errorf("docs/lint.md sections %q, rules %q", sections, names)
	}
}
