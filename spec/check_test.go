package spec

import (
	"reflect"
	"testing"
)

func TestParseSpecCheck(t *testing.T) {
	s := mustParseSpec(t, lines(
		"version: 1",
		"packages: [core-busybox]",
		"check:",
		"  accept:",
		"    - {rule: elf-needed-missing, soname: \"libX11.so.*\", reason: headless}",
		"  tests:",
		"    - name: ssl",
		"      run: [/usr/bin/python3, -c, \"import ssl\"]",
		"    - {name: fails, run: [/bin/false], exit: 1, output: \"\"}",
		"    - {name: script, run: [/bin/sh, -c, \"set -e\\necho ok\"], output: \"o\\tk\"}",
	))
	want := Check{
		Accept: []Accept{{Rule: "elf-needed-missing", Soname: "libX11.so.*", Reason: "headless"}},
		Tests: []Test{
			{Name: "ssl", Run: []string{"/usr/bin/python3", "-c", "import ssl"}},
			{Name: "fails", Run: []string{"/bin/false"}, Exit: 1},
			{Name: "script", Run: []string{"/bin/sh", "-c", "set -e\necho ok"}, Output: "o\tk"}, // a script is one argument
		},
	}
	if !reflect.DeepEqual(s.Check, want) {
		t.Errorf("Check = %#v\nwant %#v", s.Check, want)
	}
	if got := s.Pos("check.tests[1].exit"); got != (Pos{9, 46}) {
		t.Errorf("Pos(check.tests[1].exit) = %v", got)
	}
}

func TestParseSpecCheckErrors(t *testing.T) {
	check := func(ls ...string) string { return head + lines(append([]string{"check:"}, ls...)...) }
	cases := []struct {
		name string
		src  string
		want wantError
	}{
		{"rule missing", check("  accept: [{soname: libX11.so.6, reason: r}]"),
			wantError{"spec.yaml:4:12", "rule is required", "elf-needed"}},
		{"rule invalid", check("  accept: [{rule: ELF, soname: libX11.so.6, reason: r}]"),
			wantError{"spec.yaml:4:19", "invalid rule \"ELF\"", "lowercase"}},
		{"neither path nor soname", check("  accept: [{rule: elf-needed-missing, reason: r}]"),
			wantError{"spec.yaml:4:12", "needs a path or a soname", "never covers a whole rule"}},
		{"reason missing", check("  accept: [{rule: elf-needed-missing, soname: libX11.so.6}]"),
			wantError{"spec.yaml:4:12", "needs a reason", "why"}},
		{"reason blank", check("  accept: [{rule: elf-needed-missing, soname: libX11.so.6, reason: \" \"}]"),
			wantError{"spec.yaml:4:68", "needs a reason", "why"}},
		{"path relative", check("  accept: [{rule: elf-needed-missing, path: lib/x.so, reason: r}]"),
			wantError{"spec.yaml:4:45", "must be absolute", "start it with /"}},
		{"path bad pattern", check("  accept: [{rule: elf-needed-missing, path: \"/lib/[x\", reason: r}]"),
			wantError{"spec.yaml:4:45", "invalid path pattern", "path.Match"}},
		{"soname with slash", check("  accept: [{rule: elf-needed-missing, soname: /lib/x.so, reason: r}]"),
			wantError{"spec.yaml:4:47", "invalid soname pattern", "without '/'"}},
		{"unknown accept field", check("  accept: [{rule: elf-needed-missing, file: /x, reason: r}]"),
			wantError{"spec.yaml:4:39", "unknown field \"file\" in check.accept[0]", "valid fields: path"}},
		{"test name missing", check("  tests: [{run: [/bin/true]}]"),
			wantError{"spec.yaml:4:11", "name is required", "ssl"}},
		{"test name invalid", check("  tests: [{name: \"a b\", run: [/bin/true]}]"),
			wantError{"spec.yaml:4:18", "invalid test name \"a b\"", "letters"}},
		{"test name twice", check("  tests:", "    - {name: a, run: [/bin/true]}", "    - {name: a, run: [/bin/true]}"),
			wantError{"spec.yaml:6:14", "duplicate test name \"a\"", "first listed at check.tests[0].name (line 5)"}},
		{"run missing", check("  tests: [{name: a}]"),
			wantError{"spec.yaml:4:11", "run is required", "run: [program"}},
		{"run a string", check("  tests: [{name: a, run: /bin/true}]"),
			wantError{"spec.yaml:4:26", "expected a list of strings", "[/bin/true]"}},
		{"run empty program", check("  tests: [{name: a, run: [\"\", x]}]"),
			wantError{"spec.yaml:4:27", "empty program", "name the program"}},
		{"run with a NUL", check(`  tests: [{name: a, run: [/bin/sh, "a\0b"]}]`),
			wantError{"spec.yaml:4:36", "check.tests[0].run[1] holds the character U+0000", "tabs and line breaks"}},
		{"exit out of range", check("  tests: [{name: a, run: [/bin/true], exit: 256}]"),
			wantError{"spec.yaml:4:45", "exit 256 is out of range", "0 to 255"}},
		{"exit quoted", check("  tests: [{name: a, run: [/bin/true], exit: \"1\"}]"),
			wantError{"spec.yaml:4:45", "expected an integer", "remove the quotes"}},
		{"unknown test field", check("  tests: [{name: a, cmd: [/bin/true]}]"),
			wantError{"spec.yaml:4:21", "unknown field \"cmd\" in check.tests[0]", "valid fields: exit, name, output, run"}},
		{"unknown check field", check("  test: []"),
			wantError{"spec.yaml:4:3", "unknown field \"test\" in check", "did you mean \"tests\"?"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseSpec("spec.yaml", []byte(c.src))
			requireError(t, err, c.want)
		})
	}
}

func TestAcceptMatches(t *testing.T) {
	a := Accept{Rule: "elf-needed-missing", Path: "/opt/java/openjdk/lib/*.so", Soname: "libX*.so.*", Reason: "headless"}
	cases := []struct {
		rule, file, soname string
		want               bool
	}{
		{"elf-needed-missing", "/opt/java/openjdk/lib/libawt_xawt.so", "libX11.so.6", true},
		{"elf-needed-missing", "/opt/java/openjdk/lib/libawt_xawt.so", "libasound.so.2", false}, // soname differs
		{"elf-needed-missing", "/opt/java/openjdk/lib/server/libjvm.so", "libX11.so.6", false},  // * does not cross /
		{"elf-interp", "/opt/java/openjdk/lib/libawt_xawt.so", "libX11.so.6", false},            // another rule
	}
	for _, c := range cases {
		if got := a.Matches(c.rule, c.file, c.soname); got != c.want {
			t.Errorf("Matches(%q, %q, %q) = %v, want %v", c.rule, c.file, c.soname, got, c.want)
		}
	}
	if !(Accept{Rule: "setuid", Path: "/bin/su"}).Matches("setuid", "/bin/su", "") {
		t.Error("a path-only accept does not match its file")
	}
}
