package check_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"edp.buildth.ing/devfw-cicd/stagex/check"
	"edp.buildth.ing/devfw-cicd/stagex/internal/golden"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

type ruleAt struct {
	rule check.Rule
	path string
}

func rulesAt(r *check.Report) []ruleAt {
	var out []ruleAt
	for _, f := range r.Findings {
		out = append(out, ruleAt{f.Rule, f.Path})
	}
	slices.SortFunc(out, func(a, b ruleAt) int { return strings.Compare(string(a.rule)+a.path, string(b.rule)+b.path) })
	return out
}

func TestHygieneModes(t *testing.T) {
	img := image(t, v1.Config{}, filesystem(), pkg{"core-bad", []ent{
		dir("usr/", 0o755), dir("usr/bin/", 0o755),
		file("usr/bin/su", 0o4755, []byte("x")),
		file("usr/bin/wall", 0o2755, []byte("x")),
		file("usr/bin/ok", 0o755, []byte("x")),
		file("etc/shared", 0o666, []byte("x")),
		dir("var/", 0o755), dir("var/drop/", 0o777), dir("var/tmp/", 0o1777),
		dir("dev/", 0o755), chardev("dev/null"),
		symlink("usr/bin/link", "ok"), // a link's 0777 is no finding
	}})
	r := run(t, img, nil)
	want := []ruleAt{
		{check.RuleDevice, "/dev/null"},
		{check.RuleSetgid, "/usr/bin/wall"},
		{check.RuleSetuid, "/usr/bin/su"},
		{check.RuleWorldWritable, "/dev/null"},
		{check.RuleWorldWritable, "/etc/shared"},
		{check.RuleWorldWritable, "/var/drop"},
	}
	if got := rulesAt(r); !slices.Equal(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	if r.Passed {
		t.Error("passed")
	}
	for _, f := range r.Findings {
		if f.Package != "core-bad" {
			t.Errorf("%s %s: package %q, want core-bad", f.Rule, f.Path, f.Package)
		}
	}
}

// The config's user, group, working folder, HOME and entrypoint.
func TestHygieneConfig(t *testing.T) {
	k := musl(t)
	base := []pkg{filesystem(), k.muslBase(), {"core-app", []ent{
		dir("usr/bin/", 0o755), dir("usr/lib/", 0o755),
		program("usr/bin/prog", k.prog), program("usr/lib/libfoo.so.1", k.libfoo),
		file("usr/bin/data", 0o644, []byte("not executable")),
		program("usr/bin/script", []byte("#!/usr/bin/prog --flag\n")),
		program("usr/bin/noint", []byte("#!/usr/bin/python3\nprint(1)\n")),
		program("usr/bin/envpy", []byte("#!/usr/bin/env python3\nprint(1)\n")),
		program("usr/bin/envok", []byte("#!/usr/bin/env prog\n")),
		program("usr/bin/env", k.prog),
		program("usr/bin/plain", []byte("echo hi\n")),
	}}}
	good := v1.Config{User: "nonroot", WorkingDir: "/home/nonroot", Env: []string{"PATH=/usr/bin", "HOME=/home/nonroot"}}
	for _, tc := range []struct {
		name string
		cfg  func(*v1.Config)
		want []ruleAt
	}{
		{"good by name", func(c *v1.Config) { c.Entrypoint = []string{"prog"} }, nil},
		{"good by ids", func(c *v1.Config) { c.User = "65532:65532"; c.Cmd = []string{"/usr/bin/script"} }, nil},
		{"env finds prog", func(c *v1.Config) { c.Entrypoint = []string{"envok"} }, nil},
		// execvp tries a relative PATH entry from the working directory.
		{"relative PATH from workdir", func(c *v1.Config) { c.WorkingDir = "/usr"; c.Env[0] = "PATH=bin"; c.Entrypoint = []string{"prog"} }, nil},
		{"relative PATH not from /", func(c *v1.Config) { c.Env[0] = "PATH=usr/bin"; c.Entrypoint = []string{"prog"} }, []ruleAt{{check.RuleEntrypoint, "prog"}}},
		{"user missing", func(c *v1.Config) { c.User = "app" }, []ruleAt{{check.RuleUser, "/etc/passwd"}}},
		{"uid missing", func(c *v1.Config) { c.User = "1000:65532" }, []ruleAt{{check.RuleUser, "/etc/passwd"}}},
		{"group missing", func(c *v1.Config) { c.User = "nonroot:staff" }, []ruleAt{{check.RuleGroup, "/etc/group"}}},
		{"workdir missing", func(c *v1.Config) { c.WorkingDir = "/srv" }, []ruleAt{{check.RuleWorkdir, "/srv"}}},
		{"workdir a file", func(c *v1.Config) { c.WorkingDir = "/usr/bin/prog" }, []ruleAt{{check.RuleWorkdir, "/usr/bin/prog"}}},
		{"home missing", func(c *v1.Config) { c.Env = []string{"HOME=/home/app"} }, []ruleAt{{check.RuleHome, "/home/app"}}},
		{"entrypoint missing", func(c *v1.Config) { c.Entrypoint = []string{"python3"} }, []ruleAt{{check.RuleEntrypoint, "python3"}}},
		{"entrypoint not executable", func(c *v1.Config) { c.Entrypoint = []string{"/usr/bin/data"} }, []ruleAt{{check.RuleEntrypoint, "/usr/bin/data"}}},
		{"script interpreter missing", func(c *v1.Config) { c.Entrypoint = []string{"/usr/bin/noint"} }, []ruleAt{{check.RuleEntrypoint, "/usr/bin/python3"}}},
		{"env program missing", func(c *v1.Config) { c.Entrypoint = []string{"envpy"} }, []ruleAt{{check.RuleEntrypoint, "/usr/bin/envpy"}}},
		{"no #! line", func(c *v1.Config) { c.Cmd = []string{"plain"} }, []ruleAt{{check.RuleEntrypoint, "/usr/bin/plain"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			cfg.Env = slices.Clone(good.Env)
			tc.cfg(&cfg)
			r := run(t, image(t, cfg, base...), nil)
			if got := rulesAt(r); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v\n%+v", got, tc.want, r.Findings)
			}
			if r.Passed != (tc.want == nil) {
				t.Errorf("passed = %v", r.Passed)
			}
		})
	}
	// Without the filesystem layer there is no /etc/passwd and no home.
	r := run(t, image(t, good, base[1:]...), nil)
	want := []ruleAt{{check.RuleHome, "/home/nonroot"}, {check.RuleUser, "/etc/passwd"}, {check.RuleWorkdir, "/home/nonroot"}}
	if got := rulesAt(r); !slices.Equal(got, want) || !strings.Contains(r.Findings[1].Detail, "the image has no /etc/passwd") {
		t.Errorf("got %+v, want %v", r.Findings, want)
	}
	// An ELF entrypoint whose loader is missing cannot start either.
	r = run(t, image(t, v1.Config{Entrypoint: []string{"/usr/bin/prog"}}, base[2]), nil)
	var ep []check.Finding
	for _, f := range r.Findings {
		if f.Rule == check.RuleEntrypoint {
			ep = append(ep, f)
		}
	}
	if len(ep) != 1 || !strings.Contains(ep[0].Detail, "needs the interpreter "+loaderPath) {
		t.Fatalf("got %+v", ep)
	}
}

// Paths two layers write: the same bytes are shadowed (a warning), two
// packages with different bytes conflict (an error), the generated layer's
// /etc/passwd is never a conflict. The efficiency counts the hidden bytes.
func TestLayerEfficiency(t *testing.T) {
	passwd := "root:x:0:0::/:/sbin/nologin\n"
	passwd2 := passwd + "nonroot:x:1:1::/:/sbin/nologin\n"
	img := image(t, v1.Config{},
		pkg{"core-a", []ent{dir("etc/", 0o755), text("etc/passwd", passwd), text("etc/same", "1234"), text("etc/diff", "aaaa"), text("etc/gone", "12345678")}},
		pkg{"core-b", []ent{dir("etc/", 0o755), text("etc/same", "1234"), text("etc/diff", "bbbbbb"), text("etc/.wh.gone", "")}},
		pkg{check.Generated, []ent{dir("etc/", 0o755), text("etc/passwd", passwd2)}},
	)
	r := run(t, img, nil)
	want := []ruleAt{
		{check.RuleConflict, "/etc/diff"},
		{check.RuleShadowed, "/etc/gone"},
		{check.RuleShadowed, "/etc/passwd"},
		{check.RuleShadowed, "/etc/same"},
	}
	if got := rulesAt(r); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	// core-a's passwd, same (4), diff (4) and gone (8) are hidden.
	wasted := int64(len(passwd) + 4 + 4 + 8)
	total := wasted + int64(4+6+len(passwd2))
	e := r.Efficiency
	if e == nil || e.TotalBytes != total || e.WastedBytes != wasted {
		t.Fatalf("efficiency %+v, want total %d wasted %d", e, total, wasted)
	}
	if want := float64(total-wasted) * 100 / float64(total); e.Percent != want {
		t.Errorf("percent %v, want %v", e.Percent, want)
	}
	if r.Layers[0].Shadowed != wasted || r.Layers[0].Package != "core-a" || r.Layers[1].Shadowed != 0 {
		t.Errorf("layers %+v", r.Layers)
	}
	for _, f := range r.Findings {
		if f.Path == "/etc/diff" && (f.Package != "core-b" || !strings.Contains(f.Detail, "layer 0 (core-a), layer 1 (core-b); 4 bytes hidden; different content")) {
			t.Errorf("conflict %+v", f)
		}
		if f.Path == "/etc/gone" && !strings.Contains(f.Detail, "layer 1 (core-b) deletes it; 8 bytes hidden") {
			t.Errorf("deletion %+v", f)
		}
	}
	if r.Passed {
		t.Error("a conflict passed")
	}

	// Without a package per layer (a history that does not line up), the
	// conflict cannot be told from an overwrite: the report says so.
	r = run(t, img, func(o *check.Options) { o.Packages = nil })
	want = []ruleAt{
		{check.RuleShadowed, "/etc/diff"},
		{check.RuleShadowed, "/etc/gone"},
		{check.RuleShadowed, "/etc/passwd"},
		{check.RuleShadowed, "/etc/same"},
		{check.RuleUnnamed, ""},
	}
	if got := rulesAt(r); !slices.Equal(got, want) {
		t.Fatalf("unnamed layers: got %v, want %v", got, want)
	}
}

// Accepted findings pass but still show, with their reason; an acceptance
// that matches nothing is a warning.
func TestAccept(t *testing.T) {
	k := musl(t)
	img := image(t, v1.Config{}, k.muslBase(), pkg{"core-jre", []ent{
		dir("usr/lib/", 0o755), dir("usr/lib/jvm/", 0o755), dir("usr/lib/jvm/lib/", 0o755),
		program("usr/lib/jvm/lib/libawt_xawt.so", k.libbar),
	}})
	accept := []check.Accept{
		{Rule: string(check.RuleNeededMissing), Path: "/usr/lib/jvm/*/libawt_xawt.so", Soname: "libfoo.so.*", Reason: "X11 is not in StageX; headless only"},
		{Rule: string(check.RuleSetuid), Path: "/usr/bin/*", Reason: "stale"},
	}
	r := run(t, img, func(o *check.Options) { o.Accept = accept })
	if !r.Passed {
		t.Fatalf("accepted findings failed the check: %+v", r.Findings)
	}
	want := []check.Finding{
		{Rule: check.RuleNeededMissing, Severity: check.SeverityError, Path: "/usr/lib/jvm/lib/libawt_xawt.so", Soname: "libfoo.so.1", Package: "core-jre",
			Accepted: true, Reason: "X11 is not in StageX; headless only"},
		{Rule: check.RuleAcceptUnused, Severity: check.SeverityWarning, Path: "/usr/bin/*",
			Detail: "accepted setuid finding matched nothing; remove the acceptance"},
	}
	if len(r.Findings) != 2 {
		t.Fatalf("got %+v", r.Findings)
	}
	r.Findings[0].Detail = ""
	for i := range want {
		if r.Findings[i] != want[i] {
			t.Errorf("finding %d = %+v\nwant %+v", i, r.Findings[i], want[i])
		}
	}
	if r.Summary["accepted"] != 1 || r.Summary["warning"] != 1 || r.Summary["error"] != 0 {
		t.Errorf("summary %v", r.Summary)
	}
	for _, bad := range []check.Accept{
		{Rule: "no-such-rule", Path: "/x", Reason: "x"},
		{Rule: string(check.RuleSetuid), Path: "/x"},
		{Rule: string(check.RuleSetuid), Reason: "x"},
		{Rule: string(check.RuleSetuid), Path: "[", Reason: "x"},
		{Rule: string(check.RuleAcceptUnused), Path: "/x", Reason: "x"},
	} {
		if _, err := check.Run(check.NewTree(), check.Options{Accept: []check.Accept{bad}}); err == nil {
			t.Errorf("%+v was accepted", bad)
		}
	}
}

// The table and JSON of a report are pinned by golden files.
func TestRender(t *testing.T) {
	r := &check.Report{
		Image:    "oci:out:stagex-base",
		Platform: "linux/amd64",
		Arch:     "x86_64",
		Layers: []check.LayerReport{
			{Layer: check.Layer{Index: 0, DiffID: "sha256:aa", Files: 3, Bytes: 1200}, Package: "core-filesystem", Shadowed: 20},
			{Layer: check.Layer{Index: 1, DiffID: "sha256:bb", Files: 2, Bytes: 800000}, Package: "core-musl"},
			{Layer: check.Layer{Index: 2, DiffID: "sha256:cc", Files: 1, Bytes: 40}, Package: check.Generated},
		},
		Efficiency: &check.Efficiency{TotalBytes: 801240, WastedBytes: 20, Percent: 99.9975},
		Findings: []check.Finding{
			{Rule: check.RuleNeededMissing, Severity: check.SeverityError, Path: "/usr/bin/app", Soname: "libgone.so.1", Package: "core-app",
				Detail: "needs libgone.so.1, which is not in the image (searched /lib:/usr/local/lib:/usr/lib)"},
			{Rule: check.RuleSetuid, Severity: check.SeverityError, Path: "/usr/bin/su", Package: "core-app", Detail: "mode 4755: runs as its owner whoever starts it",
				Accepted: true, Reason: "the test says so"},
			{Rule: check.RuleShadowed, Severity: check.SeverityWarning, Path: "/etc/passwd", Package: check.Generated,
				Detail: "written by layer 0 (core-filesystem), layer 2 (generated); 20 bytes hidden; different content"},
		},
		Summary: map[string]int{"error": 1, "warning": 1, "accepted": 1},
	}
	var table, js bytes.Buffer
	if err := r.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "report.txt", table.Bytes())
	golden.Check(t, "report.json", js.Bytes())
	var back check.Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Passed || len(back.Findings) != 3 || back.Efficiency.WastedBytes != 20 {
		t.Errorf("JSON round trip: %+v", back)
	}
}

// A folder on disk is checked the same way, and a link to a host path
// does not reach the host.
func TestDirFS(t *testing.T) {
	k := musl(t)
	root := t.TempDir()
	mk := func(p string, mode os.FileMode, b []byte) {
		p = filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	mk("usr/lib/libc.so", 0o755, k.libc)
	mk("usr/bin/prog", 0o755, k.prog)
	mk("usr/bin/su", 0o755|os.ModeSetuid, []byte("x"))
	if err := os.MkdirAll(filepath.Join(root, "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/usr/lib/libc.so", filepath.Join(root, loaderPath)); err != nil {
		t.Fatal(err)
	}
	// The host has libc.so here; the image does not.
	if err := os.Symlink(muslLibc(), filepath.Join(root, "usr/lib/libfoo.so.1")); err != nil {
		t.Fatal(err)
	}
	fsys, closer, err := check.DirFS(root)
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	r, err := check.Run(fsys, check.Options{Arch: muslArch})
	if err != nil {
		t.Fatal(err)
	}
	want := []ruleAt{{check.RuleNeededMissing, "/usr/bin/prog"}, {check.RuleSetuid, "/usr/bin/su"}}
	if got := rulesAt(r); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v\n%+v", got, want, r.Findings)
	}
	if r.Layers != nil || r.Efficiency != nil {
		t.Error("a folder has no layers to report")
	}
}
