package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"edp.buildth.ing/devfw-cicd/stagex/frontend"
	"edp.buildth.ing/devfw-cicd/stagex/internal/fixtures"
	"edp.buildth.ing/devfw-cicd/stagex/internal/solve"
)

// composition is what both variants build: the filesystem (the spec's
// default base), busybox, the large package and two small ones.
var composition = []string{fixtures.Busybox, fixtures.Large, "core-musl", "core-zlib"}

// Variant names, as in the report.
const (
	variantFrontend = "frontend"
	variantChain    = "dockerfile-chain"
	// variantChecked is the frontend with the build-time check and smoke
	// tests on, what the bake file does for every image: its time over the
	// frontend's is the check's overhead.
	variantChecked = "frontend-check"
)

// variant is one way to build the composition.
type variant struct {
	name  string
	label string
	repo  string // pushed to <registry>/<repo>:<tag>
	build solve.DockerfileBuild
}

// variants writes the inputs of both variants into dir: (a) a spec for the
// frontend, reached through its syntax line, with the fixture lock beside
// it; (b) the Dockerfile chain, built by BuildKit's own Dockerfile frontend.
func variants(env *benchEnv, dir string) ([]variant, error) {
	specDir := filepath.Join(dir, "spec")
	chainDir := filepath.Join(dir, "chain")
	lock, err := fixtures.NewLock(env.bed.RegistryAddr, env.fixtures).Marshal()
	if err != nil {
		return nil, err
	}
	chain, err := chainDockerfile(env.bed.RegistryAddr, env.fixtures, composition)
	if err != nil {
		return nil, err
	}
	for path, content := range map[string][]byte{
		filepath.Join(specDir, "stagex.yaml"):      []byte(specYAML(env.frontend, composition)),
		filepath.Join(specDir, "stagex.lock.yaml"): lock,
		filepath.Join(chainDir, "Dockerfile"):      []byte(chain),
	} {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, content, 0o644); err != nil {
			return nil, err
		}
	}
	return []variant{
		{name: variantFrontend, label: "a: frontend (# syntax=)", repo: "bench/frontend",
			build: solve.DockerfileBuild{DockerfileDir: specDir, ContextDir: specDir, Filename: "stagex.yaml"}},
		{name: variantChain, label: "b: FROM scratch + COPY --from chain", repo: "bench/chain",
			build: solve.DockerfileBuild{DockerfileDir: chainDir, ContextDir: chainDir}},
		{name: variantChecked, label: "c: frontend, STAGEX_CHECK=strict", repo: "bench/checked",
			build: solve.DockerfileBuild{DockerfileDir: specDir, ContextDir: specDir, Filename: "stagex.yaml",
				BuildArgs: map[string]string{frontend.ArgCheck: string(frontend.CheckStrict)}}},
	}, nil
}

// specYAML is the frontend's spec for the packages (core-filesystem is the
// default base, so it is not listed).
func specYAML(frontendRef string, pkgs []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# syntax=%s\nversion: 1\nname: bench\npackages:\n", frontendRef)
	for _, p := range pkgs {
		fmt.Fprintf(&b, "  - %s\n", p)
	}
	// One smoke test, so that variant c measures a test container too
	// (busybox is a real static binary).
	b.WriteString("check:\n  tests:\n    - {name: os-release, run: [/bin/cat, /etc/os-release], output: ID=stagex}\n")
	return b.String()
}

// chainDockerfile is the "seed" method the frontend replaces: one stage per
// package image, pinned by digest, each copied whole onto scratch.
func chainDockerfile(registry string, set fixtures.Set, pkgs []string) (string, error) {
	all := append([]string{fixtures.Filesystem}, pkgs...)
	var b strings.Builder
	b.WriteString("# The Dockerfile chain: every package copied onto scratch.\n")
	for _, p := range all {
		f, ok := set[p]
		if !ok {
			return "", fmt.Errorf("no fixture %s", p)
		}
		fmt.Fprintf(&b, "FROM %s AS %s\n", f.Ref(registry), p)
	}
	b.WriteString("\nFROM scratch\n")
	for _, p := range all {
		fmt.Fprintf(&b, "COPY --from=%s / /\n", p)
	}
	return b.String(), nil
}

// upstreamLayers is the layer list a composition of the upstream blobs has:
// the base's layers, then each package's layers above the base (all of them
// for a package not built on the base), the same rule llb.Plan follows.
func upstreamLayers(set fixtures.Set, pkgs []string) ([]string, error) {
	base, ok := set[fixtures.Filesystem]
	if !ok {
		return nil, fmt.Errorf("no fixture %s", fixtures.Filesystem)
	}
	out := slices.Clone(base.Layers)
	for _, p := range pkgs {
		f, ok := set[p]
		if !ok {
			return nil, fmt.Errorf("no fixture %s", p)
		}
		if len(f.Layers) >= len(base.Layers) && slices.Equal(f.Layers[:len(base.Layers)], base.Layers) {
			out = append(out, f.Layers[len(base.Layers):]...)
		} else {
			out = append(out, f.Layers...)
		}
	}
	return out, nil
}

// upstreamBlobs is the set of every fixture layer blob.
func upstreamBlobs(set fixtures.Set) map[string]bool {
	blobs := map[string]bool{}
	for _, f := range set {
		for _, l := range f.Layers {
			blobs[l] = true
		}
	}
	return blobs
}

// layer is one layer descriptor of a pushed image.
type layer struct {
	Digest string
	Size   int64
}

// imageLayers describes a pushed image's layers against the upstream ones.
type imageLayers struct {
	Count      int
	Bytes      int64 // all layer blobs
	NewBytes   int64 // layer blobs that are not upstream fixture blobs
	IsUpstream bool  // the layers are exactly the upstream list, in order
	Digests    []string
}

func classify(layers []layer, want []string, upstream map[string]bool) imageLayers {
	r := imageLayers{Count: len(layers)}
	got := make([]string, 0, len(layers))
	for _, l := range layers {
		r.Bytes += l.Size
		if !upstream[l.Digest] {
			r.NewBytes += l.Size
		}
		got = append(got, l.Digest)
	}
	r.IsUpstream = slices.Equal(got, want)
	r.Digests = got
	return r
}

func pushedLayers(ref string) ([]layer, error) {
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return nil, err
	}
	img, err := remote.Image(r)
	if err != nil {
		return nil, err
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	out := make([]layer, 0, len(m.Layers))
	for _, l := range m.Layers {
		out = append(out, layer{Digest: l.Digest.String(), Size: l.Size})
	}
	return out, nil
}

// benchCompose builds both variants runs times cold (the build cache pruned
// first) and warm (again right after, nothing changed), alternating a and
// b, and inspects every pushed image.
func benchCompose(ctx context.Context, env *benchEnv, runs int) (*ComposeReport, error) {
	vs, err := variants(env, filepath.Join(env.tmp, "compose"))
	if err != nil {
		return nil, err
	}
	want, err := upstreamLayers(env.fixtures, composition)
	if err != nil {
		return nil, err
	}
	upstream := upstreamBlobs(env.fixtures)
	rep := &ComposeReport{Packages: append([]string{fixtures.Filesystem}, composition...)}
	for _, d := range want {
		for _, f := range env.fixtures {
			if i := slices.Index(f.Layers, d); i >= 0 {
				size, err := layerSize(f, i)
				if err != nil {
					return nil, err
				}
				rep.UpstreamLayerBytes += size
				break
			}
		}
	}

	results := map[string]*Result{}
	for _, cache := range []string{cacheCold, cacheWarm} {
		for _, v := range vs {
			results[cache+"/"+v.name] = &Result{Cache: cache, Variant: v.name, Label: v.label}
		}
	}
	for i := 1; i <= runs; i++ {
		for _, v := range vs {
			if err := env.prune(ctx); err != nil {
				return nil, err
			}
			for _, cache := range []string{cacheCold, cacheWarm} {
				r := results[cache+"/"+v.name]
				d, layers, err := buildOnce(ctx, env, v, fmt.Sprintf("%s-%d", cache, i))
				if err != nil {
					return nil, fmt.Errorf("%s, %s run %d: %w", v.label, cache, i, err)
				}
				stored, err := env.cacheBytes(ctx)
				if err != nil {
					return nil, err
				}
				r.add(d, classify(layers, want, upstream), stored)
				logf("%-5s %-36s run %d/%d: %6.2fs  layers %d  new layer bytes %d  upstream %v  daemon cache %d",
					cache, v.label, i, runs, r.Seconds[len(r.Seconds)-1], len(layers), r.NewLayerBytes, r.LayersAreUpstream, stored)
			}
		}
	}
	for _, cache := range []string{cacheCold, cacheWarm} {
		for _, v := range vs {
			r := results[cache+"/"+v.name]
			r.summarize()
			rep.Results = append(rep.Results, *r)
		}
	}
	rep.ratios()
	return rep, nil
}

// buildOnce builds one variant, pushes it under tag and reads back its
// layers. The time is the solve's, push included.
func buildOnce(ctx context.Context, env *benchEnv, v variant, tag string) (time.Duration, []layer, error) {
	b := v.build
	b.Push = env.bed.Ref(v.repo + ":" + tag)
	start := time.Now()
	res, err := solve.Dockerfile(ctx, env.client, b)
	d := time.Since(start)
	if err != nil {
		return 0, nil, err
	}
	layers, err := pushedLayers(env.bed.Ref(v.repo + "@" + res.Digest))
	if err != nil {
		return 0, nil, err
	}
	return d, layers, nil
}

func layerSize(f *fixtures.Fixture, i int) (int64, error) {
	layers, err := f.Image.Layers()
	if err != nil {
		return 0, err
	}
	return layers[i].Size()
}
