package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/internal/bed"
	"edp.buildth.ing/devfw-cicd/stagex/internal/fixtures"
	"edp.buildth.ing/devfw-cicd/stagex/internal/frontendimage"
	"edp.buildth.ing/devfw-cicd/stagex/internal/repo"
	"edp.buildth.ing/devfw-cicd/stagex/internal/solve"
	"github.com/moby/buildkit/client"
)

// benchEnv is the bed, prepared: the fixtures (core-large included) and the
// frontend image pushed to its registry.
type benchEnv struct {
	bed      *bed.Bed
	client   *client.Client
	fixtures fixtures.Set
	frontend string // <registry>/stagex-frontend@sha256:…
	// dockerfileFrontend is BuildKit's Dockerfile frontend packed as an
	// image (<registry>/dockerfile@sha256:…), or "" when it could not be
	// built (dockerfileFrontendErr says why).
	dockerfileFrontend    string
	dockerfileFrontendErr error
	buildkitVersion       string
	tmp                   string
}

func setUp(ctx context.Context, bed *bed.Bed) (*benchEnv, error) {
	env := &benchEnv{bed: bed}
	ok := false
	defer func() {
		if !ok {
			env.close()
		}
	}()
	var err error
	if env.tmp, err = os.MkdirTemp("", "stagex-bench-"); err != nil {
		return nil, err
	}
	if env.client, err = bed.Client(ctx); err != nil {
		return nil, err
	}
	info, err := env.client.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("buildkitd %s: %w", bed.BuildkitAddr, err)
	}
	env.buildkitVersion = info.BuildkitVersion.Version
	logf("buildkitd %s (%s), registry %s", env.buildkitVersion, bed.BuildkitAddr, bed.RegistryAddr)

	start := time.Now()
	if env.fixtures, err = fixtures.Setup(ctx, bed.RegistryAddr, fixtures.Options{Large: true}); err != nil {
		return nil, fmt.Errorf("fixtures: %w", err)
	}
	logf("fixtures: %d packages (core-large included) pushed in %s", len(env.fixtures), since(start))

	start = time.Now()
	root, err := repo.Root()
	if err != nil {
		return nil, err
	}
	if env.frontend, err = frontendimage.BuildAndPush(ctx, env.client, root, env.tmp, bed.RegistryAddr); err != nil {
		return nil, err
	}
	logf("frontend image %s pushed in %s", env.frontend, since(start))

	start = time.Now()
	if env.dockerfileFrontend, err = pushDockerfileFrontend(ctx, env); err != nil {
		env.dockerfileFrontendErr = err
		logf("no # syntax= Dockerfile row: %v", err)
	} else {
		logf("Dockerfile frontend image %s pushed in %s", env.dockerfileFrontend, since(start))
	}
	ok = true
	return env, nil
}

// dockerfileFrontendPkg is BuildKit's Dockerfile frontend, the one the
// `# syntax=docker/dockerfile` images ship, built from the module the
// test bed's tools pin (hack/tools: the daemon's own BuildKit version).
const dockerfileFrontendPkg = "github.com/moby/buildkit/frontend/dockerfile/cmd/dockerfile-frontend"

// dockerfileFrontendImage packs the binary as the upstream image does: its
// labels tell BuildKit the frontend needs no network and which gateway
// capabilities it uses.
const dockerfileFrontendImage = `FROM scratch
LABEL moby.buildkit.frontend.network.none="true"
LABEL moby.buildkit.frontend.caps="moby.buildkit.frontend.inputs,moby.buildkit.frontend.subrequests,moby.buildkit.frontend.contexts"
COPY --chmod=0755 dockerfile-frontend /bin/dockerfile-frontend
ENTRYPOINT ["/bin/dockerfile-frontend"]
`

// pushDockerfileFrontend builds BuildKit's Dockerfile frontend from the
// Go module cache (offline), packs it as an image and pushes it to the
// bed's registry, returning <registry>/dockerfile@sha256:….
func pushDockerfileFrontend(ctx context.Context, env *benchEnv) (string, error) {
	root, err := repo.Root()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(env.tmp, "dockerfile-frontend")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, frontendimage.GoBinary(), "build", "-trimpath", "-ldflags=-s -w",
		"-o", filepath.Join(dir, "dockerfile-frontend"), dockerfileFrontendPkg)
	cmd.Dir = filepath.Join(root, "hack", "tools")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOFLAGS=-mod=readonly")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", dockerfileFrontendPkg, err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfileFrontendImage), 0o644); err != nil {
		return "", err
	}
	repo := env.bed.Ref("dockerfile")
	res, err := solve.Dockerfile(ctx, env.client, solve.DockerfileBuild{
		DockerfileDir: dir, ContextDir: dir, Push: repo + ":bench",
	})
	if err != nil {
		return "", fmt.Errorf("push the Dockerfile frontend image: %w", err)
	}
	return repo + "@" + res.Digest, nil
}

func (e *benchEnv) close() {
	if e.client != nil {
		e.client.Close()
	}
	if e.tmp != "" {
		os.RemoveAll(e.tmp)
	}
}

// prune empties the daemon's build cache, as `buildctl prune --all` does.
func (e *benchEnv) prune(ctx context.Context) error {
	if err := e.client.Prune(ctx, nil, client.PruneAll); err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	return nil
}

// cacheBytes is the size of the daemon's build cache (`buildctl du`): what
// a build made it pull, unpack and write. A package the frontend only
// references, never unpacks, counts 0.
func (e *benchEnv) cacheBytes(ctx context.Context) (int64, error) {
	du, err := e.client.DiskUsage(ctx)
	if err != nil {
		return 0, fmt.Errorf("disk usage: %w", err)
	}
	var n int64
	for _, r := range du {
		n += r.Size
	}
	return n, nil
}

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }
