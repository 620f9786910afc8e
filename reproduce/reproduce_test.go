package reproduce

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestClone: two clones of a work tree with uncommitted changes (a changed,
// a new and a deleted file) get its exact content, the same commit, a clean
// git status and their own origins.
func TestClone(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	write := func(dir, name, content string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git := func(dir string, args ...string) string {
		t.Helper()
		out, err := gitOutput(ctx, dir, append([]string{"-c", "user.name=t", "-c", "user.email=t@example.test"}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	git("", "init", "-q", root)
	write(root, "kept", "v1\n")
	write(root, "gone", "x\n")
	write(root, ".gitignore", "/ignored\n")
	git(root, "add", ".")
	git(root, "commit", "-q", "-m", "one")
	write(root, "kept", "v2\n")
	write(root, "dir/new", "new\n")
	write(root, "ignored", "not copied\n")
	if err := os.Remove(filepath.Join(root, "gone")); err != nil {
		t.Fatal(err)
	}

	var heads []string
	for i, origin := range []string{OriginWithCredentials, root} {
		dst := filepath.Join(t.TempDir(), "clone", string(rune('a'+i)))
		if err := Clone(ctx, root, dst, origin); err != nil {
			t.Fatal(err)
		}
		for name, want := range map[string]string{"kept": "v2\n", "dir/new": "new\n"} {
			if b, err := os.ReadFile(filepath.Join(dst, name)); err != nil || string(b) != want {
				t.Errorf("clone %s: %s = %q, %v; want %q", dst, name, b, err, want)
			}
		}
		for _, name := range []string{"gone", "ignored"} {
			if _, err := os.Stat(filepath.Join(dst, name)); !os.IsNotExist(err) {
				t.Errorf("clone %s has %s", dst, name)
			}
		}
		if st := git(dst, "status", "--porcelain"); st != "" {
			t.Errorf("clone %s is dirty: %q", dst, st)
		}
		if got := git(dst, "remote", "get-url", "origin"); got != origin {
			t.Errorf("origin = %q, want %q", got, origin)
		}
		heads = append(heads, git(dst, "rev-parse", "HEAD"))
	}
	if heads[0] != heads[1] {
		t.Errorf("two clones of one work tree at %s and %s: not the same commit", heads[0], heads[1])
	}
}

func TestLocalhost(t *testing.T) {
	for in, want := range map[string]string{"127.0.0.1:5001": "localhost:5001", "localhost:5001": "localhost:5001", "10.0.0.1:5000": "10.0.0.1:5000"} {
		if got := localhost(in); got != want {
			t.Errorf("localhost(%q) = %q, want %q", in, got, want)
		}
	}
}
