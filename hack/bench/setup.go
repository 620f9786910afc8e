package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/moby/buildkit/client"

	"edp.buildth.ing/devfw-cicd/stagex/internal/bed"
	"edp.buildth.ing/devfw-cicd/stagex/internal/fixtures"
	"edp.buildth.ing/devfw-cicd/stagex/internal/frontendimage"
	"edp.buildth.ing/devfw-cicd/stagex/internal/repo"
)

// benchEnv is the bed, prepared: the fixtures (core-large included) and the
// frontend image pushed to its registry.
type benchEnv struct {
	bed             *bed.Bed
	client          *client.Client
	fixtures        fixtures.Set
	frontend        string // <registry>/stagex-frontend@sha256:…
	buildkitVersion string
	tmp             string
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
	ok = true
	return env, nil
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
