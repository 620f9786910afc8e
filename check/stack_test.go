package check

import (
	"os"
	"path/filepath"
	"testing"
)

// writeTree creates files (path → content; a "->target" content is a
// symlink) below a new temporary folder.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, content := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := cutLink(content); ok {
			if err := os.Symlink(target, full); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func cutLink(s string) (string, bool) {
	if len(s) > 2 && s[:2] == "->" {
		return s[2:], true
	}
	return "", false
}

func dirFS(t *testing.T, dir string) FS {
	t.Helper()
	fsys, c, err := DirFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return fsys
}

func TestStack(t *testing.T) {
	base := map[string]string{"etc/passwd": "root:x:0:0::/:/sbin/nologin\n", "usr/lib/libz.so.1": "zlib"}
	pkg := map[string]string{"usr/lib/libz.so.1": "other zlib", "usr/lib/libz.so": "->libz.so.1", "usr/bin/app": "app"}
	merged := map[string]string{}
	for _, m := range []map[string]string{base, pkg} {
		for k, v := range m {
			merged[k] = v
		}
	}
	s, err := NewStack(dirFS(t, writeTree(t, merged)), []FS{dirFS(t, writeTree(t, base)), dirFS(t, writeTree(t, pkg))})
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]int{"/etc/passwd": 0, "/usr/bin/app": 1, "/usr/lib/libz.so.1": 1, "/usr/lib/libz.so": 1, "/usr/lib": 1, "/nope": -1} {
		if got := s.Writer(p); got != want {
			t.Errorf("Writer(%s) = %d, want %d", p, got, want)
		}
	}
	ow := s.Overwrites()
	if len(ow) != 1 || ow[0].Path != "/usr/lib/libz.so.1" || len(ow[0].Writes) != 2 ||
		ow[0].Writes[0].Size != 4 || ow[0].Writes[1].Size != 10 || ow[0].Writes[0].Digest == ow[0].Writes[1].Digest {
		t.Fatalf("Overwrites = %+v", ow)
	}
	ls := s.Layers()
	if len(ls) != 2 || ls[0].Files != 2 || ls[1].Files != 3 || ls[1].Bytes != 13 {
		t.Fatalf("Layers = %+v", ls)
	}
	if data, err := readFile(s, "usr/bin/app"); err != nil || string(data) != "app" {
		t.Fatalf("reading the merged root: %q, %v", data, err)
	}
}
