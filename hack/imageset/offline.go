package imageset

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"edp.buildth.ing/devfw-cicd/stagex/internal/frontendimage"
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
	if _, err := frontendimage.BuildBinary(ctx, root, binDir); err != nil {
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
		Set:     append(slices.Clone(o.FrontendSet), FixtureSet(targets)...),
		Targets: targets,
		Push:    true,
	}
}

// FixtureTestImages are the images whose programs the fixture packages
// really have: busybox is a real static binary, core-go is made from the
// host's Go toolchain, and base-static has no program (the check only).
// Their check is strict and their smoke tests run, as in a real build.
var FixtureTestImages = []string{"base", "base-static", "base-go"}

// FixtureSet are the --set overrides for the other images of targets,
// whose packages are stand-ins without the image's programs: their smoke
// tests are reported "not run: fixture" (STAGEX_TESTS=fixture) instead of
// running stand-ins, which could never pass, or claiming a pass; and their
// check warns (STAGEX_CHECK=warn) instead of failing on what a stand-in
// lacks (an entrypoint such as /usr/bin/ruby). Both show in the build
// output and the check attestation.
func FixtureSet(targets []string) []string {
	var set []string
	for _, t := range targets {
		if slices.Contains(Images, t) && !slices.Contains(FixtureTestImages, t) {
			set = append(set, t+".args.STAGEX_CHECK=warn", t+".args.STAGEX_TESTS=fixture")
		}
	}
	return set
}
