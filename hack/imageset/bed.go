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

	"edp.buildth.ing/devfw-cicd/stagex/internal/bed"
)

// StartBed starts the test bed NAME (a running one is reused; package
// internal/bed owns it) in $BED_DIR, else in root's .cache/bed, and returns
// it. Its progress goes to log. Take it down with Down.
func StartBed(ctx context.Context, root, name string, log io.Writer) (*bed.Bed, error) {
	opts := bed.Options{Log: log}
	if os.Getenv(bed.EnvDir) == "" {
		opts.Dir = filepath.Join(root, ".cache", "bed")
	}
	return bed.Up(ctx, name, opts)
}

// Buildx returns the pinned buildx: $STAGEX_TOOLS_BIN/buildx, or the one
// hack/tools.sh builds into its cache (the first time takes minutes).
func Buildx(ctx context.Context, root string, log io.Writer) (string, error) {
	dir, err := bed.ToolsBin(ctx, "", log)
	if err != nil {
		return "", err
	}
	os.Setenv(bed.EnvToolsBin, dir) // the beds started later reuse it
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
