// Package frontendimage builds the frontend binary (./cmd/frontend, static,
// linux/amd64) from a checkout and packs it into the frontend image (the
// repository's Dockerfile, target frontend-prebuilt) on a BuildKit daemon,
// pushed to a registry: the image a spec's `# syntax=` line names on a test
// bed, offline.
package frontendimage

import (
	"archive/tar"
	"bytes"
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

// ContextArchive is the file of the frontend-prebuilt target's build
// context: a tar of bin/ and bin/frontend, which the target unpacks to /
// (ADD), so the layer holds exactly those entries with the tar's metadata.
const ContextArchive = "frontend.tar"

// Epoch is the time of the archive's entries: the bake file's default
// SOURCE_DATE_EPOCH, so that the packed image's layer is the one the
// frontend target makes from the same binary.
var Epoch = time.Unix(0, 0).UTC()

// BuildTags are the frontend binary's build tags, the same in the
// Dockerfile's build stage. grpcnotrace keeps gRPC from linking
// golang.org/x/net/trace, whose debug pages link html/template; text/template's
// calls of methods by name make the linker keep every exported method of
// every reachable type. Without it the binary is about a third larger
// (21.0 MB against 15.5 MB, -s -w), which the frontend image's pull, unpack
// and start pay on every cold build. gRPC's request tracing (off unless a
// program enables it) is all the tag removes.
const BuildTags = "grpcnotrace"

// BuildContext compiles ./cmd/frontend of the checkout at root (CGO_ENABLED=0,
// static, linux/amd64, no build id) and writes dir/frontend.tar: bin/ and
// bin/frontend, root's, mode 0755, at Epoch. dir is then the build context
// of the frontend-prebuilt target, and packing the same binary twice gives
// the same image without the exporter's rewrite-timestamp. The times travel
// in the archive's content, not as the context's file times: BuildKit's
// cache key of a context file leaves its time out, and its incremental
// context transfer (v0.34.2) keeps a folder's time from an earlier build on
// the same daemon (checked on the bed). dir is emptied first.
func BuildContext(ctx context.Context, root, dir string) error {
	tmp, err := os.MkdirTemp("", "stagex-frontend-build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "frontend")
	cmd := exec.CommandContext(ctx, GoBinary(), "build", "-trimpath", "-tags="+BuildTags, "-ldflags=-s -w -buildid=", "-o", bin, "./cmd/frontend")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/frontend: %w\n%s", err, b)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, ContextArchive), Archive(data), 0o644)
}

// GoBinary is the go command: on the PATH, else Go's default install.
func GoBinary() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}

// Archive is the frontend-prebuilt context's tar for binary: bin/ and
// bin/frontend, uid and gid 0, mode 0755, at Epoch.
func Archive(binary []byte) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []*tar.Header{
		{Typeflag: tar.TypeDir, Name: "bin/", Mode: 0o755, ModTime: Epoch, Format: tar.FormatPAX},
		{Typeflag: tar.TypeReg, Name: "bin/frontend", Mode: 0o755, Size: int64(len(binary)), ModTime: Epoch, Format: tar.FormatPAX},
	} {
		// A bytes.Buffer does not fail, and the headers are valid.
		_ = tw.WriteHeader(h)
		if h.Typeflag == tar.TypeReg {
			_, _ = tw.Write(binary)
		}
	}
	_ = tw.Close()
	return buf.Bytes()
}

// ExportAttrs are the image exporter's attributes for the frontend image,
// the same as docker-bake.hcl's frontend output: its layer zstd-compressed
// (forced, also when a cached layer exists as gzip). Every cold build pulls
// and unpacks the frontend image before anything else; zstd unpacks faster
// than gzip (a cold build of a one-package spec on the bed, median of 5,
// interleaved: 0.43 s gzip, 0.36 s zstd). BuildKit's zstd output is the same
// bytes on every daemon of a version (TestFrontendImageReproducible).
var ExportAttrs = map[string]string{"compression": "zstd", "force-compression": "true"}

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
		ExportAttrs:   ExportAttrs,
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
