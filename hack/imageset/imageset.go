// Package imageset drives the image set of docker-bake.hcl: the bake run
// (on the user's buildx builder or on an embedded BuildKit test bed), the
// offline fixtures the demo and the tests build against, and reading the
// result back (platform manifest digest, size, layers, attestations).
// hack/images, hack/demo, hack/verify-reproducible and the integration tests
// share it, so that all of them build exactly what docker-bake.hcl says.
package imageset

import (
	"os"
	"path/filepath"
	"slices"
	"strings"

	"edp.buildth.ing/devfw-cicd/stagex/bake"
	"edp.buildth.ing/devfw-cicd/stagex/spec"
)

// The bake file and what it builds.
const (
	// BakeFile is the bake definition at the repository root.
	BakeFile = bake.File
	// SpecDir is the folder of the image specs, the images' bake context.
	SpecDir = "images"
	// FrontendTarget is the bake target of the frontend image.
	FrontendTarget = "frontend"
	// FrontendSyntax is the frontend every spec's syntax line names; the
	// bake file replaces it with a named context.
	FrontendSyntax = "edp.buildth.ing/devfw-cicd/stagex-frontend:1"
	// Platform is the one platform the images are built for.
	Platform = "linux/amd64"
	// RepoPrefix starts every image's repository name: stagex-<target>.
	RepoPrefix = "stagex-"
)

// Images are the image targets of the bake file, one per spec in images/,
// in the order the tables list them.
var Images = []string{"base", "base-static", "base-go", "base-nodejs", "base-python", "base-rust", "base-ruby", "base-java"}

// AllTargets are the targets of the bake file's default group: the images
// and the frontend.
func AllTargets() []string { return append(slices.Clone(Images), FrontendTarget) }

// Repo is a target's repository name under REGISTRY: "stagex-<target>".
func Repo(target string) string { return RepoPrefix + target }

// Specs parses every image spec, keyed by target name.
func Specs(root string) (map[string]*spec.Spec, error) {
	out := map[string]*spec.Spec{}
	for _, t := range Images {
		file := t + ".yaml"
		data, err := os.ReadFile(filepath.Join(root, SpecDir, file))
		if err != nil {
			return nil, err
		}
		s, err := spec.ParseSpec(file, data)
		if err != nil {
			return nil, err
		}
		out[t] = s
	}
	return out, nil
}

// ReadLock parses the checked-in lock, images/stagex.lock.yaml.
func ReadLock(root string) (*spec.Lock, error) {
	p := filepath.Join(root, SpecDir, spec.DefaultLockFile)
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	return spec.ParseLock(spec.DefaultLockFile, data)
}

// ReadProducts parses the checked-in products file,
// images/stagex.products.yaml.
func ReadProducts(root string) (*spec.Products, error) {
	data, err := os.ReadFile(filepath.Join(root, SpecDir, spec.DefaultProductsFile))
	if err != nil {
		return nil, err
	}
	return spec.ParseProducts(spec.DefaultProductsFile, data)
}

// RegistryHost is the host[:port] of a registry prefix such as
// "docker.io/stagex" or "127.0.0.1:5000/stagex".
func RegistryHost(registry string) string {
	host, _, _ := strings.Cut(registry, "/")
	return host
}
