// Package offline builds the image set where nothing outside the machine
// can be reached: fixture packages and fixture archives in a loopback
// registry, a fixture lock that pins them, and a frontend binary built here
// for the frontend target to pack. Everything else (specs, bake file,
// frontend source) is the repository's, so that the demo, the reproduce
// check, the benchmarks and the integration tests build exactly what
// docker-bake.hcl says.
package offline

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"

	"edp.buildth.ing/devfw-cicd/stagex/bake"
	"edp.buildth.ing/devfw-cicd/stagex/internal/frontendimage"
	"edp.buildth.ing/devfw-cicd/stagex/internal/imageset"
)

// Offline is what a bake of the whole set needs offline.
type Offline struct {
	Root     string
	Set      *imageset.Set
	Fixtures *Fixtures
	// FrontendSet are the --set overrides that pack the local binary.
	FrontendSet []string
}

// Prepare pushes the fixtures to registry and builds the frontend binary
// into workDir/frontend/, the frontend target's context.
func Prepare(ctx context.Context, root string, set *imageset.Set, registry, workDir string) (*Offline, error) {
	fx, err := SetupFixtures(ctx, root, set, registry)
	if err != nil {
		return nil, fmt.Errorf("fixtures: %w", err)
	}
	binDir := filepath.Join(workDir, "frontend")
	if err := frontendimage.BuildContext(ctx, root, binDir); err != nil {
		return nil, err
	}
	fs, err := imageset.PrebuiltFrontend(root, binDir)
	if err != nil {
		return nil, err
	}
	return &Offline{Root: root, Set: set, Fixtures: fx, FrontendSet: fs}, nil
}

// Bake is the bake of targets (the default group when none) against the
// fixtures, pushing to <registry prefix>/stagex-<name>: only STAGEX_LOCK,
// STAGEX_REGISTRY (the bed's copy of the fixture packages) and REGISTRY
// differ from a build against StageX (and the frontend is packed, not
// compiled).
func (o *Offline) Bake(prefix string, targets ...string) bake.Bake {
	if len(targets) == 0 {
		targets = o.Set.All()
	}
	return bake.Bake{
		Root:    o.Root,
		File:    imageset.BakeFile,
		Vars:    map[string]string{"REGISTRY": prefix, "STAGEX_LOCK": o.Fixtures.LockPath, "STAGEX_REGISTRY": o.Fixtures.Mirror},
		Set:     append(slices.Clone(o.FrontendSet), FixtureSet(o.Set, targets)...),
		Targets: targets,
		Push:    true,
	}
}

// BakeExamples is the bake of the reference application and its test
// (group imageset.ExamplesGroup) against the fixtures, pushing the image to
// <prefix>/stagex-example-app and exporting the test's answers to testOut.
// noCache rebuilds the binary and the image without BuildKit's cache
// (--set <target>.no-cache=true), for a second, independent build.
func (o *Offline) BakeExamples(prefix, testOut string, noCache bool) bake.Bake {
	bk := o.Bake(prefix, imageset.ExamplesGroup)
	bk.Vars[imageset.AppTestOutVar] = testOut
	if noCache {
		bk.Targets = []string{imageset.AppTarget}
		bk.Set = append(bk.Set, imageset.AppBinTarget+".no-cache=true", imageset.AppTarget+".no-cache=true")
	}
	return bk
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
func FixtureSet(set *imageset.Set, targets []string) []string {
	var out []string
	for _, t := range targets {
		if set.IsImage(t) && !slices.Contains(FixtureTestImages, t) {
			out = append(out, t+".args.STAGEX_CHECK=warn", t+".args.STAGEX_TESTS=fixture")
		}
	}
	return out
}
