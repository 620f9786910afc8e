package lock

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"edp.buildth.ing/devfw-cicd/stagex/spec"
)

// columns is the header a StageX release list starts with, in order.
var columns = []string{"image", "version", "license", "source_package", "digest"}

// required marks the columns a row must fill. License and source may be
// empty: the release publishes a few packages whose package.toml names no
// license (user-hardened_malloc in 2026.03.0), and the lock leaves both out
// when empty rather than inventing a value. The digest may be empty: the
// lock resolves every digest from the registry, and one given here is only
// checked against what the registry serves.
var required = []bool{true, true, false, false, false}

// releaseComment finds the release a list says it is for in its leading
// comment ("# StageX release 2026.03.0 (signed tag, ...").
var releaseComment = regexp.MustCompile(`StageX release ([0-9A-Za-z][0-9A-Za-z._-]*)`)

// Row is one image of a release: what the lock records for it.
type Row struct {
	Name    string // image name, e.g. core-musl
	Version string
	License string // SPDX expression
	Source  string // source package folder, e.g. core/musl
	Digest  string // linux/amd64 image manifest digest, or "" when the list gives none
	Line    int    // line in the list, for messages
}

// ReleaseList is a parsed release list: every image by name, and the
// release its comment names ("" when it names none).
type ReleaseList struct {
	Release string
	Rows    map[string]Row
}

// Names returns the image names, sorted.
func (l *ReleaseList) Names() []string {
	names := make([]string, 0, len(l.Rows))
	for n := range l.Rows {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ParseReleaseList reads a release list: tab-separated, "#" comment lines, one
// header line naming the columns (image, version, license, source_package,
// digest), then one image per line. Every problem
// found is reported, each with its line, so a broken list is fixed in one
// pass.
func ParseReleaseList(file string, r io.Reader) (*ReleaseList, error) {
	list := &ReleaseList{Rows: map[string]Row{}}
	var problems []string
	bad := func(line int, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%s:%d: %s", file, line, fmt.Sprintf(format, args...)))
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	header := false
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSuffix(sc.Text(), "\r")
		if strings.HasPrefix(text, "#") {
			if m := releaseComment.FindStringSubmatch(text); m != nil && list.Release == "" {
				list.Release = m[1]
			}
			continue
		}
		if strings.TrimSpace(text) == "" {
			continue
		}
		fields := strings.Split(text, "\t")
		if !header {
			if strings.Join(fields, "\t") != strings.Join(columns, "\t") {
				bad(line, "expected the header %q, got %q", strings.Join(columns, "<TAB>"), strings.Join(fields, "<TAB>"))
				return nil, listError(problems)
			}
			header = true
			continue
		}
		if len(fields) != len(columns) {
			bad(line, "expected %d tab-separated columns (%s), got %d", len(columns), strings.Join(columns, ", "), len(fields))
			continue
		}
		row := Row{Name: fields[0], Version: fields[1], License: fields[2], Source: fields[3], Digest: fields[4], Line: line}
		for i, f := range fields {
			switch {
			case strings.TrimSpace(f) != f:
				bad(line, "column %s has surrounding spaces: %q", columns[i], f)
			case f == "" && required[i]:
				bad(line, "column %s is empty", columns[i])
			}
		}
		if !spec.IsPackageName(row.Name) {
			bad(line, "invalid image name %q", row.Name)
		}
		if row.Digest != "" && !spec.IsDigest(row.Digest) {
			bad(line, "image %s: invalid digest %q: want sha256: and 64 lowercase hex digits", row.Name, row.Digest)
		}
		if first, dup := list.Rows[row.Name]; dup {
			bad(line, "image %s is listed twice (first on line %d)", row.Name, first.Line)
			continue
		}
		list.Rows[row.Name] = row
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if !header {
		bad(line, "no header line %q", strings.Join(columns, "<TAB>"))
	} else if len(list.Rows) == 0 && len(problems) == 0 {
		bad(line, "no images listed")
	}
	if len(problems) > 0 {
		return nil, listError(problems)
	}
	return list, nil
}

func listError(problems []string) error {
	return fmt.Errorf("%s", strings.Join(problems, "\n"))
}

// Select returns the rows of the named images, sorted by name and each
// once. A name the release does not have is an error, with the closest
// names.
func (l *ReleaseList) Select(release string, names []string) ([]Row, error) {
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	var rows []Row
	var msgs []string
	for _, n := range uniq(sorted) {
		row, ok := l.Rows[n]
		if ok {
			rows = append(rows, row)
			continue
		}
		msg := fmt.Sprintf("release %s has no image %s", release, n)
		if near := l.nearNames(n); len(near) > 0 {
			msg += " (did you mean " + strings.Join(near, ", ") + "?)"
		}
		msgs = append(msgs, msg)
	}
	if len(msgs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(msgs, "\n"))
	}
	return rows, nil
}

// nearNames returns up to three release images whose names contain the
// asked name's last element or are contained in it ("python3" finds
// core-python).
func (l *ReleaseList) nearNames(name string) []string {
	key := name[strings.LastIndex(name, "-")+1:]
	var near []string
	for _, n := range l.Names() {
		tail := n[strings.LastIndex(n, "-")+1:]
		if key != "" && (strings.Contains(n, key) || len(tail) >= 3 && strings.Contains(key, tail)) {
			near = append(near, n)
			if len(near) == 3 {
				break
			}
		}
	}
	return near
}

func uniq(sorted []string) []string {
	out := sorted[:0]
	for i, s := range sorted {
		if i == 0 || s != sorted[i-1] {
			out = append(out, s)
		}
	}
	return out
}

// ListOf is the release list a lock implies: its release, and for each
// package the version, license and source it records, and its linux/amd64
// digest (the platform a StageX release list gives). An update tool that
// edits a lock's versions and digests in place (Renovate, see renovate.json)
// hands it to `stagex lock update`, which resolves and verifies every
// platform again.
func ListOf(l *spec.Lock) *ReleaseList {
	list := &ReleaseList{Release: l.Release, Rows: map[string]Row{}}
	for name, p := range l.Packages {
		list.Rows[name] = Row{Name: name, Version: p.Version, License: p.License, Source: p.Source, Digest: p.Digests[DefaultPlatform]}
	}
	return list
}

// Write writes the list in the format ParseReleaseList reads: the leading
// comment naming the release, the header, one row per image, sorted.
func (l *ReleaseList) Write(w io.Writer) error {
	var b strings.Builder
	if l.Release != "" {
		fmt.Fprintf(&b, "# StageX release %s\n", l.Release)
	}
	b.WriteString(strings.Join(columns, "\t") + "\n")
	for _, n := range l.Names() {
		r := l.Rows[n]
		b.WriteString(strings.Join([]string{r.Name, r.Version, r.License, r.Source, r.Digest}, "\t") + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
