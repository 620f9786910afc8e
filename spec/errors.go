package spec

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Pos is a 1-based line and column in a file.
type Pos struct{ Line, Column int }

// String formats the position as "line:column".
func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Column) }

// startOfFile is where problems without a better location are reported, so
// that every error still carries a usable line and column.
var startOfFile = Pos{Line: 1, Column: 1}

// Error is one problem in a spec or lock file.
type Error struct {
	File string
	Pos  Pos
	Msg  string // what is wrong, one line
	Hint string // how to fix it, one line ("" when none)
}

// Errorf builds an *Error at a position of a file. A position never
// written (a spec built in code) is the start of the file, so that every
// error carries a usable line and column.
func Errorf(file string, pos Pos, hint, format string, args ...any) *Error {
	if pos.Line < 1 {
		pos = startOfFile
	}
	return &Error{File: file, Pos: pos, Msg: fmt.Sprintf(format, args...), Hint: hint}
}

// Error formats the problem the way compilers do, so editors and CI log
// parsers can jump to it: "file:line:col: msg", then "  hint: ..." on its own
// line when there is a hint.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteByte(':')
	}
	fmt.Fprintf(&b, "%d:%d: %s", e.Pos.Line, e.Pos.Column, e.Msg)
	if e.Hint != "" {
		b.WriteString("\n  hint: ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// ErrorList is every problem found, sorted by file, line, column. It
// implements error.
type ErrorList []*Error

// Error prints each *Error on its own lines.
func (l ErrorList) Error() string {
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// Unwrap exposes the single errors so errors.As can find an *Error.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// compareErrors orders errors by file, position, then text, so that output
// does not depend on the order in which checks happened to run.
func compareErrors(a, b *Error) int {
	return cmp.Or(
		cmp.Compare(a.File, b.File),
		cmp.Compare(a.Pos.Line, b.Pos.Line),
		cmp.Compare(a.Pos.Column, b.Pos.Column),
		cmp.Compare(a.Msg, b.Msg),
		cmp.Compare(a.Hint, b.Hint),
	)
}

// sorted returns the list in canonical order with exact repeats removed
// (an aliased YAML node decoded twice reports the same problem twice).
func (l ErrorList) sorted() ErrorList {
	out := slices.Clone(l)
	slices.SortStableFunc(out, compareErrors)
	return slices.CompactFunc(out, func(a, b *Error) bool { return compareErrors(a, b) == 0 })
}

// maxReported bounds how many problems one file reports: past that, the
// file is not a spec with mistakes but something else, and a longer list
// only buries the first problems, which are the ones to fix.
const maxReported = 100

// err returns the sorted list as an error, or nil when it is empty, so that
// callers never get a non-nil error holding no problems. Past maxReported
// problems the rest are summarized in one last entry.
func (l ErrorList) err() error {
	if len(l) == 0 {
		return nil
	}
	l = l.sorted()
	if len(l) > maxReported {
		last := l[maxReported-1]
		more := &Error{File: last.File, Pos: last.Pos, Msg: fmt.Sprintf("and %d more problems", len(l)-maxReported),
			Hint: "fix the problems above and parse again"}
		l = append(l[:maxReported:maxReported], more)
	}
	return l
}
