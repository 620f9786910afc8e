// Package imageset is the image set of docker-bake.hcl: which images it
// declares (read from the bake file through `buildx bake --print`, never
// written down again), their specs and lock, and reading a built set back
// (platform manifest digest, size, layers, attestations) into the tables
// and records the images, demo and reproduce commands and the tests share.
package imageset

import (
	"context"
	"fmt"
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
	BakeFile = "docker-bake.hcl"
	// DefaultGroup is the bake group of the whole set.
	DefaultGroup = "default"
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

// Set is the image set as the bake file declares it.
type Set struct {
	// Images are the image targets of the default group: those whose
	// context is SpecDir, sorted by name.
	Images []string
	// Targets are the default group's targets as bake resolves them with
	// the bake file's defaults, by name.
	Targets map[string]bake.Target
}

// Load reads the set from root's bake file with `buildx bake --print`.
func Load(ctx context.Context, b *bake.Builder, root string) (*Set, error) {
	def, err := b.Print(ctx, bake.Bake{Root: root, File: BakeFile, Targets: []string{DefaultGroup}})
	if err != nil {
		return nil, err
	}
	return FromDefinition(def)
}

// Read reads the set from root's bake file with the buildx binary bin:
// printing needs no builder, and buildx's configuration goes to a folder of
// root's .cache, never the user's.
func Read(ctx context.Context, bin, root string) (*Set, error) {
	dir, err := WorkDir(root, "buildx-print")
	if err != nil {
		return nil, err
	}
	return Load(ctx, &bake.Builder{Command: []string{bin}, Env: []string{bake.EnvConfig + "=" + dir}}, root)
}

// FromDefinition picks the set out of a printed bake definition: the
// default group must hold the frontend target, and every other target of
// it must be an image (context SpecDir, a spec as its dockerfile).
func FromDefinition(def *bake.Definition) (*Set, error) {
	g, ok := def.Groups[DefaultGroup]
	if !ok || len(g.Targets) == 0 {
		return nil, fmt.Errorf("%s: no group %q with targets", BakeFile, DefaultGroup)
	}
	s := &Set{Targets: map[string]bake.Target{}}
	for _, t := range g.Targets {
		tg, ok := def.Targets[t]
		if !ok {
			return nil, fmt.Errorf("%s: group %q names %s, which bake did not resolve", BakeFile, DefaultGroup, t)
		}
		s.Targets[t] = tg
		switch {
		case t == FrontendTarget:
		case tg.Context == SpecDir && strings.HasSuffix(tg.Dockerfile, ".yaml"):
			s.Images = append(s.Images, t)
		default:
			return nil, fmt.Errorf("%s: target %s of group %q is neither %q nor an image (context %q, a spec as dockerfile): context %q, dockerfile %q",
				BakeFile, t, DefaultGroup, FrontendTarget, SpecDir, tg.Context, tg.Dockerfile)
		}
	}
	if _, ok := s.Targets[FrontendTarget]; !ok {
		return nil, fmt.Errorf("%s: group %q lacks the %q target the images are composed with", BakeFile, DefaultGroup, FrontendTarget)
	}
	if len(s.Images) == 0 {
		return nil, fmt.Errorf("%s: group %q holds no image target (context %q)", BakeFile, DefaultGroup, SpecDir)
	}
	slices.Sort(s.Images)
	return s, nil
}

// All are the targets of the default group: the images, then the
// frontend.
func (s *Set) All() []string { return append(slices.Clone(s.Images), FrontendTarget) }

// IsImage tells whether t is an image target of the set.
func (s *Set) IsImage(t string) bool { return slices.Contains(s.Images, t) }

// SpecFile is the spec of image target t, relative to the repository.
func (s *Set) SpecFile(t string) string {
	tg := s.Targets[t]
	return filepath.Join(tg.Context, tg.Dockerfile)
}

// Specs parses every image's spec, keyed by target name.
func (s *Set) Specs(root string) (map[string]*spec.Spec, error) {
	out := map[string]*spec.Spec{}
	for _, t := range s.Images {
		file := s.SpecFile(t)
		data, err := os.ReadFile(filepath.Join(root, file))
		if err != nil {
			return nil, err
		}
		sp, err := spec.ParseSpec(file, data)
		if err != nil {
			return nil, err
		}
		out[t] = sp
	}
	return out, nil
}

// Repo is a target's repository name under REGISTRY: "stagex-<target>".
func Repo(target string) string { return RepoPrefix + target }

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

// PrebuiltFrontend returns the --set overrides that make the frontend target
// pack the frontend context in dir (bin/frontend, see
// frontendimage.BuildContext) instead of compiling the binary in
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
