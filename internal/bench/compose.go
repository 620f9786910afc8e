package bench

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/frontend"
	"edp.buildth.ing/devfw-cicd/stagex/internal/fixtures"
	"edp.buildth.ing/devfw-cicd/stagex/internal/solve"
	"edp.buildth.ing/devfw-cicd/stagex/llb"
	"edp.buildth.ing/devfw-cicd/stagex/spec"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/moby/buildkit/client"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// composition is what every variant builds: the filesystem (the spec's
// default base), busybox, the large package (of the size under test) and
// two small ones.
var composition = []string{fixtures.Busybox, fixtures.Large, "core-musl", "core-zlib"}

// DefaultSizes are the payloads of core-large the compose part measures:
// the table shows how each method's cost grows with the package.
var DefaultSizes = []int64{10 << 20, 100 << 20, 256 << 20}

// Epoch is the SOURCE_DATE_EPOCH every variant builds with.
const Epoch = "0"

// Variant names, as in the report.
const (
	variantFrontend = "frontend"
	// variantRepro is the headline baseline: the Dockerfile chain built
	// reproducibly (SOURCE_DATE_EPOCH and rewrite-timestamp=true), what the
	// frontend's promise of reproducible images is measured against.
	variantRepro = "chain-reproducible"
	// variantChain is the same chain without rewrite-timestamp.
	variantChain = "chain"
	// variantSyntax is the reproducible chain through a Dockerfile
	// frontend image run by the gateway (`# syntax=`), as the frontend
	// is: the same container start and round trips.
	variantSyntax = "chain-reproducible-syntax"
	// variantChecked is the frontend with the build-time check and smoke
	// tests on, what the bake file does for every image: its time over the
	// frontend's is the check's overhead.
	variantChecked = "frontend-check"
	// variantSyntaxFloor is the plain chain (c) through the same Dockerfile
	// frontend image: the work of c plus what any `# syntax=` frontend
	// pays before it does anything (the built-in frontend's read of the
	// syntax line, the frontend image, its container, the gateway), the
	// floor of a warm build of the frontend.
	variantSyntaxFloor = "chain-syntax"
	// variantGateway is the frontend named by the client
	// (--frontend gateway.v0 --opt source=<frontend image>), as buildctl
	// can: no built-in Dockerfile frontend reads the spec first.
	variantGateway = "frontend-gateway"
)

// variant is one way to build the composition.
type variant struct {
	name  string
	label string
	repo  string // pushed to <registry>/<repo>:<tag>
	build solve.DockerfileBuild
}

// reproducible is what the chain needs for reproducible output: the epoch
// as a build arg and the exporter rewriting every layer's timestamps.
var reproducibleExport = map[string]string{"rewrite-timestamp": "true"}

// variants writes the inputs of every variant into dir: a spec for the
// frontend, reached through its syntax line or named by the client, with
// the lock beside it; the Dockerfile chain, built by BuildKit's own
// Dockerfile frontend and, when dockerfileFrontend is set, through that
// frontend image (reproducible, d, and plain, f).
func variants(env *benchEnv, set fixtures.Set, dir string) ([]variant, error) {
	specDir := filepath.Join(dir, "spec")
	chainDir := filepath.Join(dir, "chain")
	syntaxDir := filepath.Join(dir, "syntax")
	lock, err := fixtures.NewLock(env.bed.RegistryAddr, set).Marshal()
	if err != nil {
		return nil, err
	}
	chain, err := chainDockerfile(env.bed.RegistryAddr, set, composition)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{
		filepath.Join(specDir, "stagex.yaml"):      []byte(specYAML(env.frontend, composition)),
		filepath.Join(specDir, "stagex.lock.yaml"): lock,
		filepath.Join(chainDir, "Dockerfile"):      []byte(chain),
	}
	if env.dockerfileFrontend != "" {
		files[filepath.Join(syntaxDir, "Dockerfile")] = []byte("# syntax=" + env.dockerfileFrontend + "\n" + chain)
	}
	for _, path := range slices.Sorted(maps.Keys(files)) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, files[path], 0o644); err != nil {
			return nil, err
		}
	}
	epoch := map[string]string{"SOURCE_DATE_EPOCH": Epoch}
	vs := []variant{
		{name: variantFrontend, label: "a: frontend (# syntax=)", repo: "bench/frontend",
			build: solve.DockerfileBuild{DockerfileDir: specDir, ContextDir: specDir, Filename: "stagex.yaml", BuildArgs: epoch}},
		{name: variantRepro, label: "b: COPY --from chain, reproducible", repo: "bench/chain-reproducible",
			build: solve.DockerfileBuild{DockerfileDir: chainDir, ContextDir: chainDir, BuildArgs: epoch, ExportAttrs: reproducibleExport}},
		{name: variantChain, label: "c: COPY --from chain, plain", repo: "bench/chain",
			build: solve.DockerfileBuild{DockerfileDir: chainDir, ContextDir: chainDir}},
	}
	if env.dockerfileFrontend != "" {
		vs = append(vs, variant{name: variantSyntax, label: "d: b through # syntax=dockerfile", repo: "bench/chain-syntax",
			build: solve.DockerfileBuild{DockerfileDir: syntaxDir, ContextDir: syntaxDir, BuildArgs: epoch, ExportAttrs: reproducibleExport}})
	}
	vs = append(vs, variant{name: variantChecked, label: "e: frontend, STAGEX_CHECK=strict", repo: "bench/checked",
		build: solve.DockerfileBuild{DockerfileDir: specDir, ContextDir: specDir, Filename: "stagex.yaml",
			BuildArgs: map[string]string{"SOURCE_DATE_EPOCH": Epoch, frontend.ArgCheck: string(frontend.CheckStrict)}}})
	if env.dockerfileFrontend != "" {
		vs = append(vs, variant{name: variantSyntaxFloor, label: "f: c through # syntax=dockerfile", repo: "bench/chain-syntax-plain",
			build: solve.DockerfileBuild{DockerfileDir: syntaxDir, ContextDir: syntaxDir}})
	}
	return append(vs, variant{name: variantGateway, label: "g: a named by client (gateway.v0)", repo: "bench/frontend-gateway",
		build: solve.DockerfileBuild{DockerfileDir: specDir, ContextDir: specDir, Filename: "stagex.yaml", BuildArgs: epoch,
			Frontend: "gateway.v0", Attrs: map[string]string{"source": env.frontend}}}), nil
}

// specYAML is the frontend's spec for the packages (core-filesystem is the
// default base, so it is not listed).
func specYAML(frontendRef string, pkgs []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# syntax=%s\nversion: 1\nname: bench\npackages:\n", frontendRef)
	for _, p := range pkgs {
		fmt.Fprintf(&b, "  - %s\n", p)
	}
	// One smoke test, so that variant e measures a test container too
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

// upstreamLayers is the layer list the frontend's image must have: the
// spec resolved through the lock, as the frontend resolves it, and planned
// by llb.Plan from the fixtures' image configs, each part's layers mapped
// back to the fixtures' compressed blobs.
func upstreamLayers(registry string, set fixtures.Set, pkgs []string) ([]string, error) {
	s, err := spec.ParseSpec("stagex.yaml", []byte(specYAML("frontend", pkgs)))
	if err != nil {
		return nil, err
	}
	l, err := spec.ParseLock("stagex.lock.yaml", mustMarshal(fixtures.NewLock(registry, set)))
	if err != nil {
		return nil, err
	}
	r, err := spec.Resolve(s, l, spec.ResolveOptions{Platform: fixtures.Platform})
	if err != nil {
		return nil, err
	}
	images := map[string]llb.ImageInfo{}
	blobs := map[digest.Digest]string{} // diff ID → compressed blob
	for _, p := range append([]*spec.Package{r.Base}, pointers(r.Packages)...) {
		f, ok := set[p.Name]
		if !ok {
			return nil, fmt.Errorf("no fixture %s", p.Name)
		}
		var cfg ocispecs.Image
		for i, id := range f.DiffIDs {
			cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, digest.Digest(id))
			blobs[digest.Digest(id)] = f.Layers[i]
		}
		images[p.Ref] = llb.ImageInfo{Digest: digest.Digest(f.Digest), Config: cfg}
	}
	parts, err := llb.Plan(r, images)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, part := range parts {
		for _, id := range part.DiffIDs {
			out = append(out, blobs[id])
		}
	}
	return out, nil
}

func pointers(ps []spec.Package) []*spec.Package {
	out := make([]*spec.Package, len(ps))
	for i := range ps {
		out[i] = &ps[i]
	}
	return out
}

func mustMarshal(l *spec.Lock) []byte {
	b, err := l.Marshal()
	if err != nil {
		panic(err) // a lock built in memory from fixtures always marshals
	}
	return b
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

// sizeSet is the bed's fixtures with core-large of the given payload,
// pushed (the other fixtures are the same for every size).
func sizeSet(ctx context.Context, env *benchEnv, size int64) (fixtures.Set, error) {
	large, err := fixtures.BuildOne(fixtures.Large, fixtures.Options{Large: true, LargeSize: size})
	if err != nil {
		return nil, err
	}
	if err := fixtures.Push(ctx, env.bed.RegistryAddr, fixtures.Set{fixtures.Large: large}); err != nil {
		return nil, err
	}
	set := maps.Clone(env.fixtures)
	set[fixtures.Large] = large
	return set, nil
}

// benchCompose builds every variant at every size, runs times cold (the
// build cache pruned first) and warm (again right after, nothing changed),
// alternating the variants, and inspects every pushed image. The last cold
// and warm frontend builds of the largest size are kept as timelines.
func benchCompose(ctx context.Context, env *benchEnv, sizes []int64, runs int) (*ComposeReport, error) {
	rep := &ComposeReport{}
	for si, size := range sizes {
		set, err := sizeSet(ctx, env, size)
		if err != nil {
			return nil, err
		}
		sr, tls, err := benchSize(ctx, env, set, size, runs, si == len(sizes)-1)
		if err != nil {
			return nil, err
		}
		rep.Sizes = append(rep.Sizes, *sr)
		if tls != nil {
			rep.Timelines = tls
		}
	}
	return rep, nil
}

func benchSize(ctx context.Context, env *benchEnv, set fixtures.Set, size int64, runs int, timeline bool) (*SizeReport, map[string]*Timeline, error) {
	vs, err := variants(env, set, filepath.Join(env.tmp, "compose-"+strconv.FormatInt(size, 10)))
	if err != nil {
		return nil, nil, err
	}
	want, err := upstreamLayers(env.bed.RegistryAddr, set, composition)
	if err != nil {
		return nil, nil, err
	}
	upstream := upstreamBlobs(set)
	rep := &SizeReport{LargeBytes: size, Packages: append([]string{fixtures.Filesystem}, composition...)}
	for _, d := range want {
		n, err := blobSize(set, d)
		if err != nil {
			return nil, nil, err
		}
		rep.UpstreamLayerBytes += n
	}

	results := map[string]*Result{}
	for _, cache := range []string{cacheCold, cacheWarm} {
		for _, v := range vs {
			results[cache+"/"+v.name] = &Result{Cache: cache, Variant: v.name, Label: v.label}
		}
	}
	var tls map[string]*Timeline
	for i := 1; i <= runs; i++ {
		for _, v := range vs {
			if err := env.prune(ctx); err != nil {
				return nil, nil, err
			}
			for _, cache := range []string{cacheCold, cacheWarm} {
				r := results[cache+"/"+v.name]
				var rec *recorder
				if timeline && v.name == variantFrontend && i == runs {
					rec = &recorder{}
				}
				d, layers, err := buildOnce(ctx, env, v, fmt.Sprintf("%d-%s-%d", size>>20, cache, i), rec)
				if err != nil {
					return nil, nil, fmt.Errorf("%s, %s, %s run %d: %w", bytesText(size), v.label, cache, i, err)
				}
				if rec != nil {
					if tls == nil {
						tls = map[string]*Timeline{}
					}
					tls[cache] = rec.timeline(d, env.bed.RegistryAddr)
				}
				stored, err := env.cacheBytes(ctx)
				if err != nil {
					return nil, nil, err
				}
				r.add(d, classify(layers, want, upstream), stored)
				logf("%-9s %-5s %-36s run %d/%d: %6.2fs  layers %d  new layer bytes %d  upstream %v  daemon cache %d",
					bytesText(size), cache, v.label, i, runs, r.Seconds[len(r.Seconds)-1], len(layers), r.NewLayerBytes, r.LayersAreUpstream, stored)
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
	return rep, tls, nil
}

// buildOnce builds one variant, pushes it under tag and reads back its
// layers. The time is the solve's, push included.
func buildOnce(ctx context.Context, env *benchEnv, v variant, tag string, rec *recorder) (time.Duration, []layer, error) {
	b := v.build
	b.Push = env.bed.Ref(v.repo + ":" + tag)
	if rec != nil {
		b.OnStatus = rec.add
	}
	start := time.Now()
	if rec != nil {
		rec.start = start
	}
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

// blobSize is the compressed size of the fixture layer blob d.
func blobSize(set fixtures.Set, d string) (int64, error) {
	for _, f := range set {
		if i := slices.Index(f.Layers, d); i >= 0 {
			layers, err := f.Image.Layers()
			if err != nil {
				return 0, err
			}
			return layers[i].Size()
		}
	}
	return 0, fmt.Errorf("no fixture has the layer %s", d)
}

// recorder keeps the vertices of one solve's progress stream.
type recorder struct {
	start    time.Time
	vertices map[digest.Digest]*client.Vertex
	order    []digest.Digest
}

func (r *recorder) add(s *client.SolveStatus) {
	if r.vertices == nil {
		r.vertices = map[digest.Digest]*client.Vertex{}
	}
	for _, v := range s.Vertexes {
		old, ok := r.vertices[v.Digest]
		if !ok {
			r.order = append(r.order, v.Digest)
			c := *v
			r.vertices[v.Digest] = &c
			continue
		}
		if v.Started != nil && old.Started == nil {
			old.Started = v.Started
		}
		if v.Completed != nil {
			old.Completed = v.Completed
		}
		old.Cached = old.Cached || v.Cached
		if v.Name != "" {
			old.Name = v.Name
		}
	}
}

func (r *recorder) timeline(total time.Duration, registry string) *Timeline {
	vs := make([]*client.Vertex, 0, len(r.order))
	for _, d := range r.order {
		vs = append(vs, r.vertices[d])
	}
	return newTimeline(r.start, total, vs, registry)
}
