package imageset

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"edp.buildth.ing/devfw-cicd/stagex/integration/testbed"
)

// Offline is what a bake of the whole set needs when nothing outside the
// machine can be reached: fixtures in a loopback registry, a fixture lock,
// and a frontend binary built here for the frontend target to pack.
// Everything else (specs, bake file, frontend source) is the repository's.
type Offline struct {
	Root     string
	Fixtures *Fixtures
	// FrontendSet are the --set overrides that pack the local binary.
	FrontendSet []string
}

// PrepareOffline pushes the fixtures to registry and builds the frontend
// binary into workDir/frontend/.
func PrepareOffline(ctx context.Context, root, registry, workDir string) (*Offline, error) {
	fx, err := SetupFixtures(ctx, root, registry)
	if err != nil {
		return nil, fmt.Errorf("fixtures: %w", err)
	}
	binDir := filepath.Join(workDir, "frontend")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return nil, err
	}
	if _, err := testbed.BuildFrontendBinary(ctx, binDir); err != nil {
		return nil, err
	}
	set, err := PrebuiltFrontend(root, binDir)
	if err != nil {
		return nil, err
	}
	return &Offline{Root: root, Fixtures: fx, FrontendSet: set}, nil
}

// Bake is the bake of targets (all when none) against the fixtures,
// pushing to <registry prefix>/stagex-<name>: only STAGEX_LOCK,
// STAGEX_REGISTRY (the bed's copy of the fixture packages) and REGISTRY
// differ from a build against StageX (and the frontend is packed, not
// compiled).
func (o *Offline) Bake(prefix string, targets ...string) Bake {
	if len(targets) == 0 {
		targets = AllTargets()
	}
	return Bake{
		Root:    o.Root,
		Vars:    map[string]string{"REGISTRY": prefix, "STAGEX_LOCK": o.Fixtures.LockPath, "STAGEX_REGISTRY": o.Fixtures.Mirror},
		Set:     o.FrontendSet,
		Targets: targets,
		Push:    true,
	}
}
