package check_test

import (
	"bytes"
	"io/fs"
	"testing"
	"testing/fstest"

	"edp.buildth.ing/devfw-cicd/stagex/check"
)

func tree(t *testing.T, layers ...[]ent) *check.Tree {
	t.Helper()
	tr := check.NewTree()
	for _, l := range layers {
		if err := tr.Apply(bytes.NewReader(layerTar(t, l...)), ""); err != nil {
			t.Fatal(err)
		}
	}
	return tr
}

// The tree is a well-behaved io/fs file system, links included.
func TestTreeIsAnFS(t *testing.T) {
	tr := tree(t,
		[]ent{dir("usr/", 0o755), dir("usr/lib/", 0o755), text("usr/lib/a", "a"), symlink("lib", "usr/lib")},
		[]ent{text("usr/lib/b", "b"), hardlink("usr/lib/c", "usr/lib/a"), dir("etc/", 0o700)},
	)
	if err := fstest.TestFS(tr, "usr/lib/a", "usr/lib/b", "usr/lib/c", "lib", "etc"); err != nil {
		t.Fatal(err)
	}
	if b, err := fs.ReadFile(tr, "lib/c"); err != nil || string(b) != "a" {
		t.Errorf("lib/c through the link: %q, %v", b, err)
	}
}

// A layer writing below a symlinked folder writes through the link, as a
// layer applier resolves parents; an explicit entry replaces what is there.
func TestTreeApplyReplaces(t *testing.T) {
	tr := tree(t,
		[]ent{dir("usr/", 0o755), dir("usr/lib/", 0o755), symlink("lib", "usr/lib"), dir("opt/", 0o755), dir("opt/d/", 0o755), text("opt/d/f", "12345")},
		[]ent{text("lib/x", "x"), text("opt/d", "now a file")},
	)
	if b, err := fs.ReadFile(tr, "usr/lib/x"); err != nil || string(b) != "x" {
		t.Errorf("usr/lib/x: %q, %v", b, err)
	}
	if fi, err := tr.Lstat("lib"); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("/lib is no longer a link: %v", err)
	}
	if fi, err := tr.Lstat("opt/d"); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("opt/d: %v, %v", fi, err)
	}
	ow := tr.Overwrites()
	if len(ow) != 1 || ow[0].Path != "/opt/d/f" || !ow[0].Writes[1].Deleted || ow[0].Writes[0].Size != 5 {
		t.Errorf("overwrites %+v", ow)
	}
	if got := tr.Writer("/usr/lib/x"); got != 1 {
		t.Errorf("writer of /usr/lib/x = %d", got)
	}
	if _, err := check.NewTree().ReadLink("nothing"); err == nil {
		t.Error("ReadLink of nothing")
	}
	if err := check.NewTree().Apply(bytes.NewReader(layerTar(t, hardlink("a", "missing"))), ""); err == nil {
		t.Error("a hard link to nothing was applied")
	}
}

// A symlink loop ends in an error, never a hang, and the entrypoint
// through it is reported missing.
func TestSymlinkLoop(t *testing.T) {
	tr := tree(t, []ent{symlink("a", "b"), symlink("b", "/a"), dir("d/", 0o755), symlink("d/up", "../d/up")})
	for _, name := range []string{"a", "d/up"} {
		if _, err := tr.Open(name); err == nil {
			t.Errorf("opened %s", name)
		}
	}
	r, err := check.Run(tr, check.Options{Config: check.Config{Entrypoint: []string{"/a"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Findings) != 1 || r.Findings[0].Rule != check.RuleEntrypoint || r.Passed {
		t.Fatalf("got %+v", r.Findings)
	}
}
