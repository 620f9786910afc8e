package imageset

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Bed is an embedded BuildKit daemon and registry from hack/bed.
type Bed struct {
	Name         string // the hack/bed name, e.g. "demo"
	BuildkitAddr string // unix://…/buildkitd.sock
	RegistryAddr string // 127.0.0.1:PORT
}

// StartBed starts the test bed NAME with hack/bed (a running one is reused)
// and returns it. Its progress goes to log.
func StartBed(ctx context.Context, root, name string, log io.Writer) (*Bed, error) {
	up := exec.CommandContext(ctx, filepath.Join(root, "hack", "bed"), "up", name)
	up.Dir, up.Stdout, up.Stderr = root, log, log
	if err := up.Run(); err != nil {
		return nil, fmt.Errorf("hack/bed up %s: %w", name, err)
	}
	env := exec.CommandContext(ctx, filepath.Join(root, "hack", "bed"), "env", name)
	env.Dir, env.Stderr = root, log
	out, err := env.Output()
	if err != nil {
		return nil, fmt.Errorf("hack/bed env %s: %w", name, err)
	}
	b := &Bed{Name: name}
	for _, line := range strings.Split(string(out), "\n") {
		k, v, _ := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		switch k {
		case "STAGEX_BUILDKIT_ADDR":
			b.BuildkitAddr = v
		case "STAGEX_REGISTRY_ADDR":
			b.RegistryAddr = v
		}
	}
	if b.BuildkitAddr == "" || b.RegistryAddr == "" {
		return nil, fmt.Errorf("hack/bed env %s printed no addresses:\n%s", name, out)
	}
	return b, nil
}

// Stop takes a bed started by StartBed down again (state removed).
func (b *Bed) Stop(root string, log io.Writer) error {
	if b == nil {
		return nil
	}
	// Not the caller's context: a cancelled run must still clean up.
	down := exec.Command(filepath.Join(root, "hack", "bed"), "down", b.Name)
	down.Dir, down.Stdout, down.Stderr = root, log, log
	return down.Run()
}

// Buildx returns the pinned buildx: $STAGEX_TOOLS_BIN/buildx, or the one
// hack/tools.sh builds into its cache (the first time takes minutes).
func Buildx(ctx context.Context, root string, log io.Writer) (string, error) {
	dir := os.Getenv("STAGEX_TOOLS_BIN")
	if dir == "" {
		cmd := exec.CommandContext(ctx, filepath.Join(root, "hack", "tools.sh"))
		cmd.Dir, cmd.Stderr = root, log
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("hack/tools.sh: %w", err)
		}
		dir = strings.TrimSpace(string(out))
		os.Setenv("STAGEX_TOOLS_BIN", dir) // hack/bed reuses it
	}
	p := filepath.Join(dir, "buildx")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("pinned buildx: %w", err)
	}
	return p, nil
}

// Revision describes the source the images are built from: the git commit,
// marked when the work tree has changes.
func Revision(ctx context.Context, root string) string {
	rev, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		return "unknown (not a git checkout)"
	}
	out := strings.TrimSpace(string(rev))
	if st, err := exec.CommandContext(ctx, "git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
		out += " with uncommitted changes"
	}
	return out
}

// WorkDir is a folder of the repository's .cache for one tool's files
// (frontend binary, buildx config); bake reads below the repository only.
func WorkDir(root, purpose string) (string, error) {
	d := filepath.Join(root, ".cache", "imageset", purpose)
	return d, os.MkdirAll(d, 0o755)
}
