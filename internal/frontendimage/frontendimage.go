// Package frontendimage builds the frontend binary (./cmd/frontend, static,
// linux/amd64) from a checkout and packs it into the frontend image (the
// repository's Dockerfile, target frontend-prebuilt) on a BuildKit daemon,
// pushed to a registry: the image a spec's `# syntax=` line names on a test
// bed, offline.
package frontendimage

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"edp.buildth.ing/devfw-cicd/stagex/internal/solve"
	"github.com/moby/buildkit/client"
)

// Repo is the repository the frontend image is pushed to on a bed's
// registry.
const Repo = "stagex-frontend"

// PrebuiltTarget is the Dockerfile target that packs a prebuilt binary.
const PrebuiltTarget = "frontend-prebuilt"

// BuildBinary compiles ./cmd/frontend of the checkout at root
// (CGO_ENABLED=0, static, linux/amd64, no build id) into outDir/frontend
// and returns its path.
func BuildBinary(ctx context.Context, root, outDir string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = "/usr/local/go/bin/go"
	}
	out := filepath.Join(outDir, "frontend")
	cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-ldflags=-s -w -buildid=", "-o", out, "./cmd/frontend")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/frontend: %w\n%s", err, b)
	}
	return out, nil
}

// Push packs binary into the frontend image by solving root's Dockerfile
// target frontend-prebuilt on c (local "context" = a temporary folder
// holding the binary as ./frontend), pushes it as tag (e.g.
// 127.0.0.1:5000/stagex-frontend:test, plain HTTP) and returns the
// reference by digest, <repository>@sha256:….
func Push(ctx context.Context, c *client.Client, root, binary, tag string) (string, error) {
	ctxDir, err := os.MkdirTemp("", "stagex-frontend-context-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(ctxDir)
	if err := copyFile(binary, filepath.Join(ctxDir, "frontend"), 0o755); err != nil {
		return "", err
	}
	res, err := solve.Dockerfile(ctx, c, solve.DockerfileBuild{
		DockerfileDir: root,
		ContextDir:    ctxDir,
		Target:        PrebuiltTarget,
		Push:          tag,
	})
	if err != nil {
		return "", fmt.Errorf("push frontend image: %w", err)
	}
	return repository(tag) + "@" + res.Digest, nil
}

// repository is tag without its ":tag" (a registry port stays).
func repository(tag string) string {
	slash := strings.LastIndex(tag, "/")
	if colon := strings.LastIndex(tag, ":"); colon > slash {
		return tag[:colon]
	}
	return tag
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// Tag is the tag the frontend image is pushed under on a test bed.
const Tag = "bed"

// BuildAndPush builds the binary from the checkout at root into workDir
// and pushes the frontend image through c to <registry>/stagex-frontend:bed.
// It returns the reference by digest, the value for `# syntax=` or
// BUILDKIT_SYNTAX.
func BuildAndPush(ctx context.Context, c *client.Client, root, workDir, registry string) (string, error) {
	bin, err := BuildBinary(ctx, root, workDir)
	if err != nil {
		return "", err
	}
	return Push(ctx, c, root, bin, registry+"/"+Repo+":"+Tag)
}
