package repo

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRootFrom(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "a", "b")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	// Another module's go.mod on the way up is passed by.
	if err := os.WriteFile(filepath.Join(dir, "a", "go.mod"), []byte("module example.com/other\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module "+ModulePath+"\n\ngo 1.24\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := RootFrom(sub)
	if err != nil || got != dir {
		t.Fatalf("RootFrom(%s) = %q, %v; want %q", sub, got, err, dir)
	}
	if _, err := RootFrom(t.TempDir()); err == nil {
		t.Fatal("RootFrom outside any checkout: no error")
	}
}

func TestRootFromEnv(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module "+ModulePath+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvRoot, dir)
	if got, err := Root(); err != nil || got != dir {
		t.Errorf("Root() with %s=%s: %q, %v", EnvRoot, dir, got, err)
	}
	t.Setenv(EnvRoot, t.TempDir())
	if _, err := Root(); err == nil {
		t.Errorf("Root() with %s naming a folder without the go.mod: no error", EnvRoot)
	}
}
