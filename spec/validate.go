package spec

import (
	"fmt"
	"path"
	"reflect"
	"regexp"
	"strings"
	"unicode"
)

// validator collects the problems of a decoded spec or lock, locating each
// at the field path it is about.
type validator struct {
	file   string
	index  *fieldIndex
	failed map[string]bool // paths that did not decode; see decoder.failed
	errs   ErrorList
}

func newValidator(file string, index *fieldIndex, failed map[string]bool) *validator {
	return &validator{file: file, index: index, failed: failed}
}

// skip reports whether path or one of its parents failed to decode, in
// which case its value is a zero stand-in and checking it would only add
// noise to the type error already reported.
func (v *validator) skip(p string) bool {
	for {
		if v.failed[p] {
			return true
		}
		parent, ok := parentPath(p)
		if !ok {
			return false
		}
		p = parent
	}
}

// errorf reports a problem with the value at path.
func (v *validator) errorf(path, hint, format string, args ...any) {
	if !v.skip(path) {
		v.errs = append(v.errs, Errorf(v.file, v.index.pos(path), hint, format, args...))
	}
}

// errorAt reports a problem with a field of a list entry.
func (v *validator) errorAt(f Field, hint, format string, args ...any) {
	if !v.skip(f.Name) {
		v.errs = append(v.errs, Errorf(v.file, f.Pos, hint, format, args...))
	}
}

// keyErrorf reports a problem with the key of path (a name that is invalid
// or repeated).
func (v *validator) keyErrorf(path, hint, format string, args ...any) {
	if !v.skip(path) {
		v.errs = append(v.errs, Errorf(v.file, v.index.keyPos(path), hint, format, args...))
	}
}

// firstAt describes where something was first written, for duplicates.
func (v *validator) firstAt(path string) string {
	if v.index == nil {
		return path
	}
	return fmt.Sprintf("%s (line %d)", path, v.index.pos(path).Line)
}

// version checks the format version both files start with.
func (v *validator) version(path string, got int) {
	switch {
	case got == 1:
	case !v.index.has(path):
		v.errorf(path, "add \"version: 1\" as the first field", "version is required")
	default:
		v.errorf(path, "version: 1", "unsupported version %d: this frontend reads version 1", got)
	}
}

// Validate checks a Spec built or changed in code; ParseSpec already
// validates what it returns. Problems are located when the Spec came from
// ParseSpec, and at the start of the file otherwise; entries built in code
// get their At names filled in, so that problems name the field.
func (s *Spec) Validate() error { return s.validate(nil).err() }

func (s *Spec) validate(failed map[string]bool) ErrorList {
	s.locateEntries()
	v := newValidator(s.File, s.index, failed)
	v.version("version", s.Version)
	v.text("", reflect.ValueOf(s).Elem(), textLine)
	s.validateLockPath(v)
	s.validateBase(v)
	s.validatePackages(v)
	s.validateConfig(v)
	validateKeys(v, "annotations", s.Annotations)
	s.validateAccounts(v)
	s.validatePaths(v)
	s.validateCopies(v)
	s.validateArchives(v)
	s.validateCheck(v)
	return v.errs
}

// validateLockPath keeps the lock inside the spec's directory: the frontend
// reads it from the same build context, and a path leaving that directory
// would either fail there or read something the user did not mean.
func (s *Spec) validateLockPath(v *validator) {
	if s.Lock == "" {
		return
	}
	if path.IsAbs(s.Lock) || hasDotDot(s.Lock) || path.Clean(s.Lock) == "." {
		v.errorf("lock", "keep the lock beside the spec, e.g. lock: "+DefaultLockFile,
			"lock %s must be a relative path that stays beside the spec", quoteShort(s.Lock))
	}
}

func (s *Spec) validateBase(v *validator) {
	if s.Base == "" || s.Base == Scratch {
		return
	}
	if p := checkPackageRef(s.Base); p != nil {
		v.errorf("base", p.hint, "base: %s", p.msg)
	}
}

func (s *Spec) validatePackages(v *validator) {
	if len(s.Packages) == 0 {
		v.errorf("packages", "list at least one package, e.g. packages: [core-busybox]", "packages is empty: a spec composes at least one package")
		return
	}
	for i, p := range s.Packages {
		if problem := checkPackageRef(p.Ref); problem != nil {
			v.errorf(joinIndex("packages", i), problem.hint, "%s", problem.msg)
		}
	}
}

// validateKeys rejects label and annotation keys that image tools drop or
// reject: empty ones, and ones with blanks. BuildKit reads an annotation
// key as the \S+ of its exporter's "annotation-manifest.<key>" pattern
// (exporter/containerimage/exptypes), so it silently drops a key with a
// space; a label key with one is the same mistake. Control characters are
// refused for every field.
func validateKeys(v *validator, at string, m map[string]string) {
	for _, k := range sortedKeys(m) {
		switch {
		case k == "":
			v.keyErrorf(joinField(at, k), "give the key a name, e.g. org.opencontainers.image.title", "%s: empty key", at)
		case strings.ContainsFunc(k, unicode.IsSpace):
			v.keyErrorf(joinField(at, k), "write keys as reverse-DNS names without blanks, e.g. org.example.team",
				"%s: key %s has a blank", at, quoteShort(k))
		}
	}
}

// maxID is the largest uid or gid accepted. IDs are 32-bit on Linux, and
// 4294967295 ((uid_t)-1) is reserved: chown(2) reads it as "leave
// unchanged", so no account can own files with it.
const maxID = 4294967294

func (v *validator) id(path string, id int) {
	if id < 0 || id > maxID {
		v.errorf(path, "use an id from 0 to 4294967294", "%s %d is out of range", lastElement(path), id)
	}
}

// mode checks a mode set in code; decoding already refuses bad spellings.
func (v *validator) mode(path string, m *uint32) {
	if m != nil && *m > maxMode {
		v.errorf(path, "use at most 0777: setuid, setgid and sticky bits cannot be written", "invalid file mode %o", *m)
	}
}

// entryName checks the name of a list entry at path at (an archive, a
// test): required, matching pattern, and unique in the list; seen maps the
// names so far to where they were written.
func (v *validator) entryName(at, name string, seen map[string]string, pattern *regexp.Regexp, what, example, patternHint string) {
	field := joinField(at, "name")
	switch {
	case name == "":
		v.errorf(field, "add name: <short name>, e.g. "+example, "name is required")
	case !pattern.MatchString(name):
		v.errorf(field, patternHint, "invalid %s name %s", what, quoteShort(name))
	default:
		if first, dup := seen[name]; dup {
			v.errorf(field, "first listed at "+v.firstAt(first)+"; give each "+what+" its own name", "duplicate %s name %s", what, quoteShort(name))
		}
		seen[name] = field
	}
}
