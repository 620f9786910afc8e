package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/bake"
	"edp.buildth.ing/devfw-cicd/stagex/internal/bed"
	"edp.buildth.ing/devfw-cicd/stagex/internal/imageset"
	"edp.buildth.ing/devfw-cicd/stagex/internal/solve"
	"github.com/moby/buildkit/client"
)

// TestSharedRegistryCache bakes the image set on bed a with the bake file's
// CACHE_TO (BuildKit's registry cache, mode=max, one ref per target), then
// on bed b, emptied first, with CACHE_FROM, as two CI runners sharing one
// registry would. It checks that
//   - every image b builds has the platform manifest digest a built: the
//     cache changes no image;
//   - b unpacks no package layer: the images' merges, the frontend's reads of
//     the packages' files (`frontend facts`), the build-time check and the
//     smoke tests all come from the registry cache (BuildKit's own progress:
//     no "extracting sha256:<package layer>");
//   - the frontend target's Dockerfile steps are CACHED on b.
//
// Negative controls, so that neither check passes for want of work: emptied
// again and without CACHE_FROM, b does unpack package layers, and the
// frontend target's steps are not CACHED.
func TestSharedRegistryCache(t *testing.T) {
	a, b := requireBed(t), requireSecondBed(t)
	s := bakeAll(t) // fixtures, the frontend binary and the builder on bed a
	buildx, err := bed.Tool("buildx")
	if err != nil {
		t.Fatal(err)
	}
	buildctl, err := bed.Tool("buildctl")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	tmp, err := tempRoot()
	if err != nil {
		t.Fatal(err)
	}
	cacheRepo := a.RegistryAddr + "/it-cache/stagex-cache"
	builderB, err := bake.RemoteBuilder(ctx, buildx, tmp+"/buildx-cache-b", "stagex-it-cache-b", b.BuildkitAddr)
	if err != nil {
		t.Fatal(err)
	}

	onA := cacheBake(ctx, t, bakeBuilder, s.offline.Bake(a.RegistryAddr+"/it-cache-a"), "CACHE_TO", cacheRepo)
	emptyDaemon(ctx, t, buildctl, b.BuildkitAddr)
	onB := cacheBake(ctx, t, builderB, s.offline.Bake(b.RegistryAddr+"/it-cache-b"), "CACHE_FROM", cacheRepo)

	targets := s.set.All()
	imgsA, err := imageset.InspectAll(ctx, targets, onA.results)
	if err != nil {
		t.Fatal(err)
	}
	imgsB, err := imageset.InspectAll(ctx, targets, onB.results)
	if err != nil {
		t.Fatal(err)
	}
	if diff := imageset.Compare(imgsA, imgsB); len(diff) > 0 {
		t.Errorf("bed b with the registry cache built other images than bed a: %v", diff)
	}
	layers := map[string]string{}
	for name, f := range s.offline.Fixtures.Set {
		for _, l := range f.Layers {
			layers[l] = name
		}
	}
	if got := onB.extracted(layers); len(got) > 0 {
		t.Errorf("emptied bed b with CACHE_FROM unpacked %d of the %d fixture package layers, which bed a exported to %s:\n  %s",
			len(got), len(layers), cacheRepo, strings.Join(got, "\n  "))
	}
	emptyDaemon(ctx, t, buildctl, b.BuildkitAddr)
	cold := cacheBake(ctx, t, builderB, s.offline.Bake(b.RegistryAddr+"/it-cache-b"), "", "")
	if len(cold.extracted(layers)) == 0 {
		t.Errorf("without CACHE_FROM, emptied bed b unpacked no package layer: the check above proves nothing")
	}

	// The frontend target from the registry cache on an empty daemon.
	emptyDaemon(ctx, t, buildctl, b.BuildkitAddr)
	withCache := cacheBake(ctx, t, builderB, s.offline.Bake(b.RegistryAddr+"/it-cache-b", imageset.FrontendTarget), "CACHE_FROM", cacheRepo)
	steps := withCache.dockerfileSteps()
	if len(steps) == 0 {
		t.Fatalf("no Dockerfile step in the progress output of the frontend target:\n%s", solve.TailLines(withCache.log, 40))
	}
	for _, v := range steps {
		if !v.Cached {
			t.Errorf("emptied bed b ran %q although bed a exported it to %s:%s", v.Name, cacheRepo, imageset.FrontendTarget)
		}
	}
	emptyDaemon(ctx, t, buildctl, b.BuildkitAddr)
	without := cacheBake(ctx, t, builderB, s.offline.Bake(b.RegistryAddr+"/it-cache-b", imageset.FrontendTarget), "", "")
	for _, v := range without.dockerfileSteps() {
		if v.Cached {
			t.Errorf("without CACHE_FROM, emptied bed b reports %q CACHED: the check above proves nothing", v.Name)
		}
	}
}

// cacheRun is one bake with buildx's rawjson progress: BuildKit's own
// account of each step (cached or run) and of each layer it unpacked.
type cacheRun struct {
	results  map[string]bake.Result
	vertexes []*client.Vertex // by digest and name, in order of appearance; Cached if any update said so
	statuses []string         // status IDs, e.g. "extracting sha256:…"
	log      string
}

// cacheBake bakes bk with the bake variable key=value (none
// when key is empty) and reads the progress.
func cacheBake(ctx context.Context, t *testing.T, builder *bake.Builder, bk bake.Bake, key, value string) *cacheRun {
	t.Helper()
	var out bytes.Buffer
	if key != "" {
		bk.Vars[key] = value
	}
	bk.Progress = "rawjson"
	bk.Output = &out
	res, err := builder.Run(ctx, bk)
	if err != nil {
		t.Fatalf("%v\n%s", err, solve.TailLines(out.String(), 40))
	}
	r := &cacheRun{results: res, log: out.String()}
	byDigest := map[string]*client.Vertex{}
	seen := map[string]bool{}
	sc := bufio.NewScanner(&out)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for sc.Scan() {
		var st client.SolveStatus
		if json.Unmarshal(sc.Bytes(), &st) != nil {
			continue // buildx's own lines
		}
		for _, v := range st.Vertexes {
			// bake names a step shared by several targets once per target
			k := v.Digest.String() + " " + v.Name
			if byDigest[k] == nil {
				byDigest[k] = &client.Vertex{Digest: v.Digest, Name: v.Name}
				r.vertexes = append(r.vertexes, byDigest[k])
			}
			byDigest[k].Cached = byDigest[k].Cached || v.Cached
		}
		for _, s := range st.Statuses {
			if !seen[s.ID] {
				seen[s.ID] = true
				r.statuses = append(r.statuses, s.ID)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return r
}

// dockerfileSteps are the Dockerfile build steps of a bake run (the
// frontend target's), which bake and BuildKit name "[<target> ]<stage> n/m] …";
// the images' steps are named by the stagex frontend ("[base stagex] …").
func (r *cacheRun) dockerfileSteps() []*client.Vertex {
	var out []*client.Vertex
	for _, v := range r.vertexes {
		if dockerfileStep.MatchString(v.Name) {
			out = append(out, v)
		}
	}
	return out
}

var dockerfileStep = regexp.MustCompile(`^\[(?:[a-z0-9._-]+ )?[a-z0-9._-]+ [0-9]+/[0-9]+\] `)

// extracted are the layers of known (digest → package) that BuildKit
// reported unpacking, sorted.
func (r *cacheRun) extracted(known map[string]string) []string {
	var out []string
	for _, id := range r.statuses {
		if d, ok := strings.CutPrefix(id, "extracting "); ok && known[d] != "" {
			out = append(out, known[d]+" "+d)
		}
	}
	slices.Sort(out)
	return out
}

// emptyDaemon removes everything from a daemon's build cache, so that what
// it builds next can only come from its inputs or an imported cache.
func emptyDaemon(ctx context.Context, t *testing.T, buildctl, addr string) {
	t.Helper()
	if out, err := exec.CommandContext(ctx, buildctl, "--addr", addr, "prune", "--all").CombinedOutput(); err != nil {
		t.Fatalf("buildctl prune --all: %v\n%s", err, out)
	}
	out, err := exec.CommandContext(ctx, buildctl, "--addr", addr, "du").CombinedOutput()
	if err != nil {
		t.Fatalf("buildctl du: %v\n%s", err, out)
	}
	total := ""
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "Total:"); ok {
			total = strings.TrimSpace(v)
		}
	}
	if total != "0B" {
		t.Fatalf("bed b's build cache is not empty after prune --all:\n%s", out)
	}
}
