package llb

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/spec"
	bkllb "github.com/moby/buildkit/client/llb"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// BenchmarkCompose measures the frontend's own work for one request: from
// the spec and lock bytes to the marshalled LLB definition (ParseSpec,
// ParseLock, Resolve, Compose, Marshal). Registry look-ups are not part of
// it: the image configs are generated up front, as the frontend would have
// resolved them. internal/bench runs it and puts the numbers in its report.
func BenchmarkCompose(b *testing.B) {
	for _, n := range []int{1, 10, 50} {
		w := syntheticWorld(b, n)
		b.Run(fmt.Sprintf("packages=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var ops int
			for b.Loop() {
				ops = w.compose(b)
			}
			b.ReportMetric(float64(ops), "llb-ops")
		})
	}
}

// TestSyntheticWorldComposes checks that the benchmark measures a full,
// valid composition: every synthetic package is diffed onto the base, and
// the generated layer is there.
func TestSyntheticWorldComposes(t *testing.T) {
	for _, n := range []int{1, 10, 50} {
		w := syntheticWorld(t, n)
		res, def := w.run(t)
		if len(res.Parts) != n+1 || res.Parts[0].Mode != ModeBase {
			t.Fatalf("n=%d: %d parts, want the base and %d packages", n, len(res.Parts), n)
		}
		for _, p := range res.Parts[1:] {
			if p.Mode != ModeDiff || len(p.DiffIDs) != 1 {
				t.Errorf("n=%d: %s merged as %s with %d layers, want diff with 1", n, p.Package.Name, p.Mode, len(p.DiffIDs))
			}
		}
		if !res.Generated {
			t.Errorf("n=%d: no generated layer for the accounts and paths", n)
		}
		// Base + n images, n diffs, the merge, the generated layer's file
		// ops and the terminal op: well over 2n+2.
		if len(def.Def) < 2*n+3 {
			t.Errorf("n=%d: %d LLB ops, want at least %d", n, len(def.Def), 2*n+3)
		}
	}
}

// benchWorld is the input of one request: spec and lock bytes, and the
// configs of every image they name.
type benchWorld struct {
	specYAML, lockYAML []byte
	images             map[string]ImageInfo
}

// syntheticName is the short name of synthetic package i.
func syntheticName(i int) string { return fmt.Sprintf("synth-%03d", i) }

// syntheticDigest is a stable manifest digest for a name.
func syntheticDigest(name string) digest.Digest { return digest.FromString("manifest " + name) }

// syntheticWorld builds a lock of core-filesystem plus n packages, each
// StageX-shaped (the filesystem's layer plus one of its own), and a spec that
// names all n and adds an account and a directory, so the generated layer is
// part of the work, as in a typical application image.
func syntheticWorld(tb testing.TB, n int) benchWorld {
	tb.Helper()
	var lock strings.Builder
	lock.WriteString("version: 1\nrelease: bench\nregistry: registry.test/stagex\npackages:\n")
	names := []string{"core-filesystem"}
	for i := 1; i <= n; i++ {
		names = append(names, syntheticName(i))
	}
	for _, name := range names {
		fmt.Fprintf(&lock, "  %s:\n    version: 1.0.0\n    license: MIT\n    digests: {linux/amd64: %q}\n", name, syntheticDigest(name))
	}
	var sp strings.Builder
	sp.WriteString("version: 1\nname: bench\npackages:\n")
	for _, name := range names[1:] {
		fmt.Fprintf(&sp, "  - %s\n", name)
	}
	sp.WriteString(`config:
  user: app
  workdir: /home/app
  entrypoint: [/usr/bin/app]
accounts:
  groups: [{name: app, gid: 65532}]
  users:  [{name: app, uid: 65532, gid: 65532, home: /home/app}]
paths:
  - {path: /home/app, type: directory, mode: "0750", uid: 65532, gid: 65532}
`)
	images := map[string]ImageInfo{}
	for _, name := range names {
		ids := []digest.Digest{fsLayer}
		if name != "core-filesystem" {
			ids = append(ids, digest.FromString("layer "+name))
		}
		img := ocispecs.Image{Platform: amd64}
		img.RootFS = ocispecs.RootFS{Type: "layers", DiffIDs: ids}
		ref := "registry.test/stagex/" + name + "@" + syntheticDigest(name).String()
		images[ref] = ImageInfo{Digest: syntheticDigest(name), Config: img}
	}
	return benchWorld{specYAML: []byte(sp.String()), lockYAML: []byte(lock.String()), images: images}
}

// run does one request and returns the composition and its definition.
func (w benchWorld) run(tb testing.TB) (*Result, *bkllb.Definition) {
	ctx := context.Background()
	s, err := spec.ParseSpec("stagex.yaml", w.specYAML)
	if err != nil {
		tb.Fatal(err)
	}
	l, err := spec.ParseLock("stagex.lock.yaml", w.lockYAML)
	if err != nil {
		tb.Fatal(err)
	}
	r, err := spec.Resolve(s, l, spec.ResolveOptions{Platform: "linux/amd64"})
	if err != nil {
		tb.Fatal(err)
	}
	res, err := Compose(ctx, &Input{
		Spec:      s,
		Resolved:  r,
		Images:    w.images,
		Platform:  amd64,
		Epoch:     time.Unix(0, 0).UTC(),
		BaseFS:    filesystem,
		Contexts:  map[string]bkllb.State{"context": bkllb.Local("context", bkllb.LocalUniqueID("bench"))},
		SourceMap: bkllb.NewSourceMap(nil, s.File, "YAML", w.specYAML),
	})
	if err != nil {
		tb.Fatal(err)
	}
	def, err := res.State.Marshal(ctx, bkllb.Platform(amd64))
	if err != nil {
		tb.Fatal(err)
	}
	return res, def
}

// compose is run for the benchmark loop; it returns the number of LLB ops.
func (w benchWorld) compose(tb testing.TB) int {
	_, def := w.run(tb)
	return len(def.Def)
}
