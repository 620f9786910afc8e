package spec

import (
	"path"
	"regexp"
	"strings"
)

// Check is what the spec says about checking the composed image: the
// findings of the composition check it accepts, each with its reason, and
// the smoke tests that prove the image does its job.
type Check struct {
	Accept []Accept `yaml:"accept"`
	Tests  []Test   `yaml:"tests"`
}

// Accept is one accepted finding of the composition check. It matches a
// finding of its rule whose file matches Path and whose soname (for the ELF
// rules) matches Soname; an empty pattern matches anything, but at least one
// of the two is required, so an accept never silences a whole rule.
// Patterns use path.Match syntax ("*" does not cross "/"). Accepted findings
// are still reported, as accepted, with the reason.
type Accept struct {
	Rule   string `yaml:"rule"`   // the check's rule name, e.g. elf-needed-missing
	Path   string `yaml:"path"`   // pattern of the absolute file path in the image
	Soname string `yaml:"soname"` // pattern of the soname (DT_NEEDED entry)
	Reason string `yaml:"reason"` // why this is acceptable; required
}

// Matches reports whether the accept covers a finding of rule about file
// (an absolute path in the image) and soname ("" when the finding has none).
func (a Accept) Matches(rule, file, soname string) bool {
	if a.Rule != rule {
		return false
	}
	if a.Path != "" {
		if ok, _ := path.Match(a.Path, file); !ok {
			return false
		}
	}
	if a.Soname != "" {
		if ok, _ := path.Match(a.Soname, soname); !ok {
			return false
		}
	}
	return true
}

// Test is one smoke test: a command run in the composed image, in exec form
// (no shell is implied), as the image's user, with network none. It passes
// when the command exits with Exit and its output (stdout and stderr
// together) contains Output.
type Test struct {
	Name   string   `yaml:"name"`               // short name, e.g. ssl
	Run    []string `yaml:"run" spec:"text"`    // exec form: program and arguments (an argument may be a script, with line breaks)
	Exit   int      `yaml:"exit"`               // expected exit code (default 0)
	Output string   `yaml:"output" spec:"text"` // expected substring of the output; "" checks nothing
}

// rulePattern is a check rule name as the check spells them.
var rulePattern = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)

// testNamePattern is a smoke test name: it names the test in build output,
// so it stays a short word.
var testNamePattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]*$`)

func (s *Spec) validateCheck(v *validator) {
	for i, a := range s.Check.Accept {
		at := joinIndex("check.accept", i)
		switch {
		case a.Rule == "":
			v.errorf(joinField(at, "rule"), "add rule: <the rule the finding names>, e.g. elf-needed-missing", "rule is required")
		case !rulePattern.MatchString(a.Rule):
			v.errorf(joinField(at, "rule"), "rule names are lowercase words joined by '-', e.g. elf-needed-missing", "invalid rule %s", quoteShort(a.Rule))
		}
		if a.Path == "" && a.Soname == "" {
			v.errorf(at, "add path: <file pattern> or soname: <soname pattern>; an accept never covers a whole rule",
				"an accepted finding needs a path or a soname")
		}
		if a.Path != "" {
			if !strings.HasPrefix(a.Path, "/") {
				v.errorf(joinField(at, "path"), "start it with /, e.g. /opt/java/openjdk/lib/libawt_xawt.so", "path pattern %s must be absolute", quoteShort(a.Path))
			} else if _, err := path.Match(a.Path, ""); err != nil {
				v.errorf(joinField(at, "path"), "use path.Match syntax: *, ?, [a-z], \\ to escape", "invalid path pattern %s", quoteShort(a.Path))
			}
		}
		if a.Soname != "" {
			if _, err := path.Match(a.Soname, ""); err != nil || strings.Contains(a.Soname, "/") {
				v.errorf(joinField(at, "soname"), "write a library name or pattern without '/', e.g. libX11.so.*", "invalid soname pattern %s", quoteShort(a.Soname))
			}
		}
		if strings.TrimSpace(a.Reason) == "" {
			v.errorf(joinField(at, "reason"), "say why the image is right anyway, e.g. reason: headless JRE, AWT is never loaded",
				"an accepted finding needs a reason")
		}
	}
	seen := map[string]string{}
	for i, t := range s.Check.Tests {
		at := joinIndex("check.tests", i)
		v.entryName(at, t.Name, seen, testNamePattern, "test", "ssl", "test names are letters, digits, '.', '_' and '-'")
		switch {
		case len(t.Run) == 0:
			v.errorf(joinField(at, "run"), "add run: [program, arg, ...], e.g. run: [/usr/bin/python3, --version]", "run is required")
		case t.Run[0] == "":
			v.errorf(joinIndex(joinField(at, "run"), 0), "name the program to run, e.g. /usr/bin/python3", "run starts with an empty program")
		}
		if t.Exit < 0 || t.Exit > 255 {
			v.errorf(joinField(at, "exit"), "an exit code is 0 to 255", "exit %d is out of range", t.Exit)
		}
	}
}
