//go:build tools

// Package tools pins the versions of the daemons and clients that the test
// bed builds from source: buildkitd, buildctl, buildx and the registry.
package tools

import (
	_ "github.com/distribution/distribution/v3/cmd/registry"
	_ "github.com/docker/buildx/cmd/buildx"
	_ "github.com/moby/buildkit/cmd/buildctl"
	_ "github.com/moby/buildkit/cmd/buildkitd"
)
