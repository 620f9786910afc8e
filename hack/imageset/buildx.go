package imageset

import (
	"fmt"
	"path/filepath"
	"strings"

	"edp.buildth.ing/devfw-cicd/stagex/bake"
)

// The buildx driver lives in package bake; these names keep the image
// set's callers as they were.
type (
	Builder = bake.Builder
	Bake    = bake.Bake
	Result  = bake.Result
	Target  = bake.Target
)

var (
	RemoteBuilder = bake.RemoteBuilder
	UserBuilder   = bake.UserBuilder
)

// PrebuiltFrontend returns the --set overrides that make the frontend target
// pack the frontend binary in dir (as ./frontend) instead of compiling it in
// pallet-go, which needs docker.io: Dockerfile target frontend-prebuilt.
// dir must be inside root (bake reads only below its working directory
// without extra entitlements).
func PrebuiltFrontend(root, dir string) ([]string, error) {
	rel, err := filepath.Rel(root, dir)
	if err != nil || strings.HasPrefix(rel, "..") {
		return nil, fmt.Errorf("the frontend binary folder %s is not inside %s", dir, root)
	}
	return []string{
		FrontendTarget + ".target=frontend-prebuilt",
		FrontendTarget + ".context=" + filepath.ToSlash(rel),
		FrontendTarget + ".dockerfile=" + filepath.Join(root, "Dockerfile"),
	}, nil
}
