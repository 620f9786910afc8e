// Package frontendimage builds the frontend binary (./cmd/frontend, static,
// linux/amd64) from a checkout and packs it into the frontend image (the
// repository's Dockerfile, target frontend-prebuilt) on a BuildKit daemon,
// pushed to a registry: the image a spec's `# syntax=` line names on a test
// bed, offline.
package frontendimage

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/internal/solve"
	"github.com/moby/buildkit/client"
)

// Repo is the repository the frontend image is pushed to on a bed's
// registry.
const Repo = "stagex-frontend"

// PrebuiltTarget is the Dockerfile target that packs a prebuilt binary.
const PrebuiltTarget = "frontend-prebuilt"

// ContextBinary is where the frontend-prebuilt target finds the binary in its
// build context; it copies the context as a tree to /, so this is also the
// binary's path in the image.
const ContextBinary = "bin/frontend"

// Epoch is the time BuildContext gives the binary and its folder: the bake
// file's default SOURCE_DATE_EPOCH, so that the packed image's layer is the
// one the frontend target makes from the same binary.
var Epoch = time.Unix(0, 0).UTC()

// BuildContext compiles ./cmd/frontend of the checkout at root (CGO_ENABLED=0,
// static, linux/amd64, no build id) into dir/bin/frontend and sets the times
// of dir/bin and the binary to Epoch: dir is then the build context of the
// frontend-prebuilt target, whose layer (bin/, bin/frontend) keeps those
// times, so packing the same binary twice gives the same image without the
// exporter's rewrite-timestamp. dir is emptied first: the target copies all
// of it.
func BuildContext(ctx context.Context, root, dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	out := filepath.Join(dir, filepath.FromSlash(ContextBinary))
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = "/usr/local/go/bin/go"
	}
	cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-ldflags=-s -w -buildid=", "-o", out, "./cmd/frontend")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/frontend: %w\n%s", err, b)
	}
	// The binary first: writing it changed its folder's time.
	for _, p := range []string{out, filepath.Dir(out)} {
		if err := os.Chtimes(p, Epoch, Epoch); err != nil {
			return err
		}
	}
	return nil
}

// Push packs the frontend context in dir (see BuildContext) into the
// frontend image by solving root's Dockerfile target frontend-prebuilt on c
// (SOURCE_DATE_EPOCH Epoch), pushes it as tag (e.g.
// 127.0.0.1:5000/stagex-frontend:test, plain HTTP) and returns the reference
// by digest, <repository>@sha256:….
func Push(ctx context.Context, c *client.Client, root, dir, tag string) (string, error) {
	res, err := solve.Dockerfile(ctx, c, solve.DockerfileBuild{
		DockerfileDir: root,
		ContextDir:    dir,
		Target:        PrebuiltTarget,
		BuildArgs:     map[string]string{"SOURCE_DATE_EPOCH": strconv.FormatInt(Epoch.Unix(), 10)},
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

// Tag is the tag the frontend image is pushed under on a test bed.
const Tag = "bed"

// BuildAndPush builds the frontend context from the checkout at root in
// workDir/frontend-context and pushes the frontend image through c to
// <registry>/stagex-frontend:bed. It returns the reference by digest, the
// value for `# syntax=` or BUILDKIT_SYNTAX.
func BuildAndPush(ctx context.Context, c *client.Client, root, workDir, registry string) (string, error) {
	dir := filepath.Join(workDir, "frontend-context")
	if err := BuildContext(ctx, root, dir); err != nil {
		return "", err
	}
	return Push(ctx, c, root, dir, registry+"/"+Repo+":"+Tag)
}
