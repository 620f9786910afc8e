// Package check is the composition check: it reads an image's root
// filesystem and reports whether the image can run. It checks the ELF
// closure the way musl's loader resolves it, the layers' efficiency and the
// image's hygiene (modes, devices, shells, config user, entrypoint, folders).
//
// The analysis reads an FS: a Tree built in memory by applying an image's
// layers (never onto the host), or a folder on disk opened with DirFS (the
// composed rootfs mounted at build time). Paths in findings are absolute
// paths inside the image; symlinks are followed inside the image root only.
package check

import (
	"cmp"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"

	"edp.buildth.ing/devfw-cicd/stagex/spec"
)

// FS is a read-only image root. Names are io/fs names relative to the root
// ("usr/lib/libc.so", "." for the root). The check never relies on Open
// following symlinks: it resolves them itself with Lstat and ReadLink, so a
// link cannot lead outside the root whatever the implementation does.
type FS = fs.ReadLinkFS

// Layered is an FS that knows which layer wrote each path and what the
// layers wrote over each other; Tree is one. The layer efficiency part of
// the check and package attribution need it; a plain folder has neither.
type Layered interface {
	FS
	// Layers describes each applied layer, bottom first.
	Layers() []Layer
	// Writer returns the index of the layer that wrote the entry at name
	// (an absolute image path, not followed if a symlink), -1 if unknown.
	Writer(name string) int
	// Overwrites returns every non-directory path written by more than one
	// layer, or written and then deleted by a later layer, sorted by path.
	Overwrites() []Overwrite
}

// Layer is one applied layer.
type Layer struct {
	Index  int    `json:"index"`
	DiffID string `json:"diffID,omitempty"` // the uncompressed layer digest, when known
	Files  int    `json:"files"`            // non-directory entries the layer writes
	Bytes  int64  `json:"bytes"`            // bytes of the regular files it writes
}

// Write is one layer's write of a path: its content, or a deletion.
type Write struct {
	Layer   int    `json:"layer"`
	Deleted bool   `json:"deleted,omitempty"` // a whiteout (or an opaque folder) removed the path
	Size    int64  `json:"size"`              // regular file bytes; 0 for links and deletions
	Digest  string `json:"digest,omitempty"`  // sha256 of a regular file; "symlink:<target>" for a link
}

// Overwrite is a path with the writes of more than one layer, in layer
// order; all but the last are hidden in the image.
type Overwrite struct {
	Path   string  `json:"path"`
	Writes []Write `json:"writes"`
}

// Severity says whether a finding fails the check.
type Severity string

// The severities. Only an error that is not accepted fails the check.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Rule identifies a kind of finding.
type Rule string

// The rules of the check.
const (
	// ELF closure.
	RuleInterpMissing Rule = "elf-interp-missing" // PT_INTERP names no file in the image
	RuleNeededMissing Rule = "elf-needed-missing" // a DT_NEEDED soname resolves to nothing
	RuleNeededInvalid Rule = "elf-needed-invalid" // it resolves to something the loader cannot map
	RuleELFInvalid    Rule = "elf-invalid"        // a file with the ELF magic that does not parse

	// Layer efficiency.
	RuleShadowed Rule = "layer-shadowed" // a path written by more than one layer
	RuleConflict Rule = "layer-conflict" // two packages ship a path with different content
	// RuleUnnamed: the layers' packages are unknown (the history does not
	// line up with the layers), so conflicts cannot be told from overwrites.
	RuleUnnamed Rule = "layers-unnamed"

	// Hygiene.
	RuleSetuid        Rule = "setuid"
	RuleSetgid        Rule = "setgid"
	RuleWorldWritable Rule = "world-writable" // a file, or a folder without the sticky bit
	RuleDevice        Rule = "device-node"
	RuleShell         Rule = "shell-present" // a shell where Options.NoShell forbids one
	RuleEntrypoint    Rule = "entrypoint"    // the program the config runs cannot start
	RuleUser          Rule = "user-missing"  // config.user not in /etc/passwd
	RuleGroup         Rule = "group-missing" // its group not in /etc/group
	RuleWorkdir       Rule = "workdir-missing"
	RuleHome          Rule = "home-missing"

	// RuleAcceptUnused is an accepted finding that matched nothing, so a
	// stale acceptance is seen and removed.
	RuleAcceptUnused Rule = "accept-unused"
)

// rules maps each rule to its severity; a rule not here is unknown.
var rules = map[Rule]Severity{
	RuleInterpMissing: SeverityError,
	RuleNeededMissing: SeverityError,
	RuleNeededInvalid: SeverityError,
	RuleELFInvalid:    SeverityError,
	RuleShadowed:      SeverityWarning,
	RuleConflict:      SeverityError,
	RuleUnnamed:       SeverityWarning,
	RuleSetuid:        SeverityError,
	RuleSetgid:        SeverityError,
	RuleWorldWritable: SeverityError,
	RuleDevice:        SeverityError,
	RuleShell:         SeverityError,
	RuleEntrypoint:    SeverityError,
	RuleUser:          SeverityError,
	RuleGroup:         SeverityError,
	RuleWorkdir:       SeverityError,
	RuleHome:          SeverityError,
	RuleAcceptUnused:  SeverityWarning,
}

// Rules returns every rule, sorted by name.
func Rules() []Rule { return slices.Sorted(maps.Keys(rules)) }

// Finding is one problem found in the image.
type Finding struct {
	Rule     Rule     `json:"rule"`
	Severity Severity `json:"severity"`
	Path     string   `json:"path"`             // the file it is about, absolute in the image
	Soname   string   `json:"soname,omitempty"` // the missing library, for the ELF rules
	Package  string   `json:"package,omitempty"`
	Detail   string   `json:"detail"`
	Accepted bool     `json:"accepted,omitempty"`
	Reason   string   `json:"reason,omitempty"` // why it is accepted
}

// Failing reports whether the finding fails the check.
func (f Finding) Failing() bool { return f.Severity == SeverityError && !f.Accepted }

// Accept is an accepted finding: the spec's check.accept entry (rule, path
// and soname patterns, reason), one type for the spec and the check.
type Accept = spec.Accept

// validateAccept reports an acceptance of a rule the check does not have,
// with a malformed pattern or without a reason. The spec validates its
// own entries with their positions; this catches options built in code.
func validateAccept(a Accept) error {
	if _, ok := rules[Rule(a.Rule)]; !ok || Rule(a.Rule) == RuleAcceptUnused {
		return fmt.Errorf("accept: unknown rule %q (one of %v)", a.Rule, acceptableRules())
	}
	if strings.TrimSpace(a.Reason) == "" {
		return fmt.Errorf("accept %s %s: a reason is required, so the acceptance says why", a.Rule, a.Path)
	}
	if a.Path == "" && a.Soname == "" {
		return fmt.Errorf("accept %s: a path or soname pattern is required; an acceptance never covers a whole rule", a.Rule)
	}
	for _, p := range []string{a.Path, a.Soname} {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("accept %s: pattern %q: %w", a.Rule, p, err)
		}
	}
	return nil
}

// ValidateSpec refuses an accepted finding of a spec (check.accept) whose
// rule the check does not have, at its line: the spec validates an entry's
// shape, but the rules are the check's, which the spec cannot import.
func ValidateSpec(s *spec.Spec) error {
	var known []string
	for _, r := range acceptableRules() {
		known = append(known, string(r))
	}
	var errs spec.ErrorList
	for i, a := range s.Check.Accept {
		if a.Rule != "" && !slices.Contains(known, a.Rule) {
			errs = append(errs, s.Errorf(fmt.Sprintf("check.accept[%d].rule", i), "use one of "+strings.Join(known, ", "),
				"unknown check rule %q", a.Rule))
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func acceptableRules() []Rule {
	return slices.DeleteFunc(Rules(), func(r Rule) bool { return r == RuleAcceptUnused })
}

// Config is what the image config says about running it.
type Config struct {
	Entrypoint []string `json:"entrypoint,omitempty"`
	Cmd        []string `json:"cmd,omitempty"`
	User       string   `json:"user,omitempty"` // "name", "uid", "name:group", "uid:gid"; "" is root
	WorkingDir string   `json:"workingDir,omitempty"`
	Env        []string `json:"env,omitempty"` // "KEY=value"
}

// Options say how to check an image.
type Options struct {
	// Arch is musl's name for the architecture ("x86_64", "aarch64"; see
	// MuslArch). It names the loader, /lib/ld-musl-<arch>.so.1, used to
	// resolve libraries that no program in the image loads. Empty: taken
	// from each library's ELF machine.
	Arch string
	// Config is the image config's run settings.
	Config Config
	// NoShell makes any shell in the image an error.
	NoShell bool
	// Accept lists the accepted findings.
	Accept []Accept
	// Packages names the package that each layer, by index, comes from
	// (from the image history or the lock). Missing or "" entries leave
	// findings of that layer without a package.
	Packages []string
}

// Report is the result of a check.
type Report struct {
	Image      string         `json:"image,omitempty"`    // what was checked, as its caller names it
	Platform   string         `json:"platform,omitempty"` // os/arch[/variant], when known
	Arch       string         `json:"arch,omitempty"`
	Layers     []LayerReport  `json:"layers,omitempty"`     // nil when the FS has no layers
	Efficiency *Efficiency    `json:"efficiency,omitempty"` // nil when the FS has no layers
	Findings   []Finding      `json:"findings"`
	Summary    map[string]int `json:"summary"` // "error", "warning", "accepted"
	Passed     bool           `json:"passed"`
}

// LayerReport is one layer's share of the image.
type LayerReport struct {
	Layer
	Package string `json:"package,omitempty"`
	// Shadowed is how many bytes of this layer's files a later layer hides
	// (overwrites or deletes).
	Shadowed int64 `json:"shadowedBytes"`
}

// Efficiency is how many of the bytes the layers ship end up visible.
type Efficiency struct {
	TotalBytes  int64   `json:"totalBytes"`
	WastedBytes int64   `json:"wastedBytes"`
	Percent     float64 `json:"percent"` // 100 × (total − wasted) / total; 100 for an empty image
}

// Failed reports whether any error is not accepted.
func (r *Report) Failed() bool { return !r.Passed }

// Run checks the image root fsys.
func Run(fsys FS, opts Options) (*Report, error) {
	for _, a := range opts.Accept {
		if err := validateAccept(a); err != nil {
			return nil, err
		}
	}
	c := &checker{fsys: fsys, opts: opts}
	if l, ok := fsys.(Layered); ok {
		c.layered = l
	}
	if err := c.run(); err != nil {
		return nil, err
	}
	return c.report(), nil
}

// compareFindings orders findings for output: errors first, then by rule,
// path, soname and detail.
func compareFindings(a, b Finding) int {
	return cmp.Or(
		cmp.Compare(severityRank(a.Severity), severityRank(b.Severity)),
		cmp.Compare(a.Rule, b.Rule),
		cmp.Compare(a.Path, b.Path),
		cmp.Compare(a.Soname, b.Soname),
		cmp.Compare(a.Detail, b.Detail),
	)
}

func severityRank(s Severity) int {
	if s == SeverityError {
		return 0
	}
	return 1
}
