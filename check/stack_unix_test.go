//go:build linux

package check

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// whiteout makes overlayfs's whiteout (a 0/0 character device) at p below dir.
func whiteout(t *testing.T, dir, p string) {
	t.Helper()
	full := filepath.Join(dir, p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mknod(full, syscall.S_IFCHR|0o000, 0); err != nil {
		if os.Geteuid() != 0 && os.Getenv("CI") != "true" {
			t.Skip("mknod needs root:", err) // CI runs as root
		}
		t.Fatal(err)
	}
}

// TestStackWhiteouts: a whiteout over nothing is no write (it once showed
// as a shadowed path when a later layer added the file); a folder's
// whiteout deletes every file a lower layer wrote under it.
func TestStackWhiteouts(t *testing.T) {
	base := writeTree(t, map[string]string{"opt/a/x": "xx", "opt/a/y": "yyy", "etc/os-release": "base"})
	mid := writeTree(t, map[string]string{"etc/keep": "k"})
	whiteout(t, mid, "etc/ghost") // nothing below
	whiteout(t, mid, "opt/a")     // a folder below
	top := writeTree(t, map[string]string{"etc/ghost": "now here", "opt/a/z": "z"})
	merged := writeTree(t, map[string]string{"etc/os-release": "base", "etc/keep": "k", "etc/ghost": "now here", "opt/a/z": "z"})
	s, err := NewStack(dirFS(t, merged), []FS{dirFS(t, base), dirFS(t, mid), dirFS(t, top)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range s.Overwrites() {
		got = append(got, o.Path)
		if o.Path == "/etc/ghost" {
			t.Errorf("whiteout over nothing reported as an overwrite: %+v", o)
		}
	}
	want := []string{"/opt/a/x", "/opt/a/y"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("Overwrites paths = %v, want %v", got, want)
	}
	for _, o := range s.Overwrites() {
		if w := o.Writes[len(o.Writes)-1]; !w.Deleted || w.Layer != 1 {
			t.Errorf("%s: last write %+v, want the deletion by layer 1", o.Path, w)
		}
	}
	for p, want := range map[string]int{"/opt/a/x": -1, "/opt/a/z": 2, "/etc/ghost": 2} {
		if got := s.Writer(p); got != want {
			t.Errorf("Writer(%s) = %d, want %d", p, got, want)
		}
	}
}
