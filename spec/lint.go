package spec

import (
	"cmp"
	"slices"
	"strings"
)

// Warning is a lint finding: a rule name (CamelCase, like BuildKit's
// Dockerfile checks), a short description of the rule, the URL of its
// documentation and a located message.
type Warning struct {
	Rule        string
	Description string
	URL         string
	*Error
}

// lintRule describes one check, so every warning of a rule carries the same
// name, description and URL.
type lintRule struct{ name, description string }

// LintDocs is where the rules are documented, one section each
// (docs/lint.md, tested to hold a section for every rule).
const LintDocs = "https://edp.buildth.ing/devfw-cicd/stagex/src/branch/main/docs/lint.md"

// url is the rule's section of LintDocs (the anchor a Markdown renderer
// gives a "## RuleName" heading).
func (r lintRule) url() string { return LintDocs + "#" + strings.ToLower(r.name) }

func (r lintRule) warn(file string, pos Pos, hint, format string, args ...any) Warning {
	return Warning{Rule: r.name, Description: r.description, URL: r.url(), Error: Errorf(file, pos, hint, format, args...)}
}

// lintRules are all the rules, for the docs test.
var lintRules = []lintRule{ruleDuplicatePackage, ruleUnpinnedReference, ruleArchiveRepinned, ruleShellInStaticImage}

// The lint rules.
var (
	ruleDuplicatePackage = lintRule{
		name:        "DuplicatePackage",
		description: "A package is layered more than once; the later copy only adds size and hides the earlier one",
	}
	ruleUnpinnedReference = lintRule{
		name:        "UnpinnedReference",
		description: "An image reference has no digest, so two builds of the same spec may differ",
	}
	ruleArchiveRepinned = lintRule{
		name:        "ArchiveRepinned",
		description: "The lock replaces an archive's url and sha256 written in the spec, so the image holds what the lock pins",
	}
	ruleShellInStaticImage = lintRule{
		name:        "ShellInStaticImage",
		description: "An image named static contains a shell, which a static image is meant to leave out",
	}
)

// Lint returns warnings sorted by position: DuplicatePackage (the same
// package twice, by name or digest), UnpinnedReference (a reference without
// digest, only possible when allowed) and ShellInStaticImage (a spec whose
// name contains "static" composes a shell). It includes r.Warnings, so
// callers print Lint's result and not both. r may be nil to lint the spec
// alone.
func Lint(s *Spec, r *Resolved) []Warning {
	var ws []Warning
	if r != nil {
		ws = append(ws, r.Warnings...)
		ws = append(ws, lintDuplicates(s, r)...)
	}
	ws = append(ws, lintShellInStatic(s, r)...)
	return sortWarnings(ws)
}

// composition is the base (when any) followed by the packages.
func composition(r *Resolved) []Package {
	var all []Package
	if r.Base != nil {
		all = append(all, *r.Base)
	}
	return append(all, r.Packages...)
}

func lintDuplicates(s *Spec, r *Resolved) []Warning {
	var ws []Warning
	byName := map[string]Package{}
	byDigest := map[string]Package{}
	for _, p := range composition(r) {
		if first, dup := byName[p.Name]; dup {
			ws = append(ws, ruleDuplicatePackage.warn(s.File, p.Pos, "remove the repeated entry",
				"package %q is already layered at line %d", p.Name, first.Pos.Line))
		} else if first, dup := byDigest[p.Digest]; dup && p.Digest != "" {
			ws = append(ws, ruleDuplicatePackage.warn(s.File, p.Pos, "remove the repeated entry",
				"package %q is the same image as %q at line %d", p.Name, first.Name, first.Pos.Line))
		}
		if _, seen := byName[p.Name]; !seen {
			byName[p.Name] = p
		}
		if _, seen := byDigest[p.Digest]; !seen && p.Digest != "" {
			byDigest[p.Digest] = p
		}
	}
	return ws
}

func lintShellInStatic(s *Spec, r *Resolved) []Warning {
	if !s.NoShell() {
		return nil
	}
	const hint = "remove the shell, or drop \"static\" from the name"
	var ws []Warning
	if r != nil {
		for _, p := range composition(r) {
			if IsShellPackage(p.Name) {
				ws = append(ws, ruleShellInStaticImage.warn(s.File, p.Pos, hint,
					"%q is named static but package %q provides a shell", s.Name, p.Name))
			}
		}
	}
	for _, p := range s.Paths {
		if IsShellPath(p.Path) {
			ws = append(ws, ruleShellInStaticImage.warn(s.File, p.At.Path.Pos, hint,
				"%q is named static but creates %s", s.Name, p.Path))
		}
	}
	for _, c := range s.Copy {
		if IsShellPath(c.Dst) {
			ws = append(ws, ruleShellInStaticImage.warn(s.File, c.At.Dst.Pos, hint,
				"%q is named static but copies a file to %s", s.Name, c.Dst))
		}
	}
	return ws
}

// sortWarnings orders warnings by position, then rule, and drops repeats.
func sortWarnings(ws []Warning) []Warning {
	ws = slices.Clone(ws)
	compare := func(a, b Warning) int {
		return cmp.Or(
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Pos.Line, b.Pos.Line),
			cmp.Compare(a.Pos.Column, b.Pos.Column),
			cmp.Compare(a.Rule, b.Rule),
			compareErrors(a.Error, b.Error),
		)
	}
	slices.SortStableFunc(ws, compare)
	return slices.CompactFunc(ws, func(a, b Warning) bool { return compare(a, b) == 0 })
}
