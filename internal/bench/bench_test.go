package bench

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"edp.buildth.ing/devfw-cicd/stagex/internal/bed"
	"edp.buildth.ing/devfw-cicd/stagex/internal/fixtures"
	"edp.buildth.ing/devfw-cicd/stagex/spec"
)

const registry = "127.0.0.1:5999"

// fixtureSet builds the small fixtures in memory (no registry, no busybox
// binary needed) with a core-large of 1 KiB: the same shapes as the real run.
func fixtureSet(t *testing.T) fixtures.Set {
	t.Helper()
	set, err := fixtures.Build(fixtures.Options{Busybox: []byte("busybox stand-in"), Large: true, LargeSize: 1024})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{9, 1, 1, 1, 9}, 1},
	} {
		in := slices.Clone(tc.in)
		if got := median(in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
		if !slices.Equal(in, tc.in) {
			t.Errorf("median reordered its input: %v", in)
		}
	}
}

// TestSpecIsValid: the spec the frontend variant builds parses and resolves
// through the fixture lock to the composition, in order, on the filesystem.
func TestSpecIsValid(t *testing.T) {
	set := fixtureSet(t)
	src := specYAML(registry+"/stagex-frontend@sha256:"+strings.Repeat("a", 64), composition)
	if !strings.HasPrefix(src, "# syntax="+registry+"/stagex-frontend@sha256:") {
		t.Fatalf("spec does not start with the syntax line:\n%s", src)
	}
	s, err := spec.ParseSpec("stagex.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	lock, err := fixtures.NewLock(registry, set).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	l, err := spec.ParseLock("stagex.lock.yaml", lock)
	if err != nil {
		t.Fatal(err)
	}
	r, err := spec.Resolve(s, l, spec.ResolveOptions{Platform: "linux/amd64"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Base == nil || r.Base.Name != fixtures.Filesystem || r.Base.Digest != set[fixtures.Filesystem].Digest {
		t.Fatalf("base = %+v, want %s", r.Base, fixtures.Filesystem)
	}
	var got []string
	for _, p := range r.Packages {
		got = append(got, p.Name)
		if p.Ref != set[p.Name].Ref(registry) {
			t.Errorf("%s resolves to %s, want %s", p.Name, p.Ref, set[p.Name].Ref(registry))
		}
	}
	if !slices.Equal(got, composition) {
		t.Errorf("packages = %v, want %v", got, composition)
	}
}

// TestChainDockerfile: one pinned stage per package, then FROM scratch and
// one whole-image COPY per package, base first.
func TestChainDockerfile(t *testing.T) {
	set := fixtureSet(t)
	src, err := chainDockerfile(registry, set, composition)
	if err != nil {
		t.Fatal(err)
	}
	res, err := parser.Parse(strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range res.AST.Children {
		got = append(got, strings.ToUpper(n.Value)+" "+strings.Join(flagsAndArgs(n), " "))
	}
	all := append([]string{fixtures.Filesystem}, composition...)
	var want []string
	for _, p := range all {
		want = append(want, "FROM "+set[p].Ref(registry)+" AS "+p)
	}
	want = append(want, "FROM scratch")
	for _, p := range all {
		want = append(want, "COPY --from="+p+" / /")
	}
	if !slices.Equal(got, want) {
		t.Errorf("Dockerfile =\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if _, err := chainDockerfile(registry, set, []string{"core-nope"}); err == nil {
		t.Error("a package without a fixture gave a Dockerfile")
	}
}

func flagsAndArgs(n *parser.Node) []string {
	out := slices.Clone(n.Flags)
	for a := n.Next; a != nil; a = a.Next {
		out = append(out, a.Value)
	}
	return out
}

// TestClassify: the upstream list is the base's layer and each package's own
// layer; an image of exactly those is upstream with no new bytes, the chain's
// shape (fresh blobs) is not, and neither is the right blobs in another order.
func TestClassify(t *testing.T) {
	set := fixtureSet(t)
	want, err := upstreamLayers(registry, set, composition)
	if err != nil {
		t.Fatal(err)
	}
	expect := []string{set[fixtures.Filesystem].Layers[0]}
	for _, p := range composition {
		if len(set[p].Layers) != 2 {
			t.Fatalf("fixture %s has %d layers, want 2", p, len(set[p].Layers))
		}
		expect = append(expect, set[p].Layers[1])
	}
	if !slices.Equal(want, expect) {
		t.Fatalf("upstream layers = %v, want %v", want, expect)
	}
	pallet, err := upstreamLayers(registry, set, []string{fixtures.PalletTools})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(pallet, append(slices.Clone(set[fixtures.Filesystem].Layers), set[fixtures.PalletTools].Layers...)) {
		t.Errorf("pallet-tools (not built on the base) does not contribute all its layers: %v", pallet)
	}

	upstream := upstreamBlobs(set)
	var same []layer
	for _, d := range want {
		same = append(same, layer{Digest: d, Size: 100})
	}
	if got := classify(same, want, upstream); !reflect.DeepEqual(got, imageLayers{Count: 5, Bytes: 500, NewBytes: 0, IsUpstream: true, Digests: want}) {
		t.Errorf("upstream image: %+v", got)
	}

	chain := []layer{{Digest: "sha256:" + strings.Repeat("1", 64), Size: 7}, {Digest: want[1], Size: 100}, {Digest: "sha256:" + strings.Repeat("2", 64), Size: 3000}}
	chainDigests := []string{chain[0].Digest, chain[1].Digest, chain[2].Digest}
	if got := classify(chain, want, upstream); !reflect.DeepEqual(got, imageLayers{Count: 3, Bytes: 3107, NewBytes: 3007, IsUpstream: false, Digests: chainDigests}) {
		t.Errorf("chain image: %+v", got)
	}

	swapped := slices.Clone(same)
	swapped[1], swapped[2] = swapped[2], swapped[1]
	if got := classify(swapped, want, upstream); got.IsUpstream || got.NewBytes != 0 {
		t.Errorf("reordered upstream blobs: %+v, want not upstream with no new bytes", got)
	}
}

func TestParseGoBench(t *testing.T) {
	out := `goos: linux
goarch: amd64
pkg: edp.buildth.ing/devfw-cicd/stagex/llb
cpu: AMD EPYC
BenchmarkCompose/packages=1-2         	    4510	    266496 ns/op	         7.000 llb-ops	  119113 B/op	    1330 allocs/op
BenchmarkCompose/packages=10-2        	    1828	    689605 ns/op	        25.00 llb-ops	  304509 B/op	    3426 allocs/op
BenchmarkCompose/packages=50          	     506	   2406742 ns/op	       105.0 llb-ops	 1100403 B/op	   12487 allocs/op
BenchmarkOther-2 	 1 	 5 ns/op
PASS
ok  	edp.buildth.ing/devfw-cicd/stagex/llb	3.699s
`
	got, err := parseGoBench(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []Overhead{
		{Packages: 1, NsPerOp: 266496, BytesPerOp: 119113, AllocsPerOp: 1330, LLBOps: 7},
		{Packages: 10, NsPerOp: 689605, BytesPerOp: 304509, AllocsPerOp: 3426, LLBOps: 25},
		{Packages: 50, NsPerOp: 2406742, BytesPerOp: 1100403, AllocsPerOp: 12487, LLBOps: 105},
	}
	if !slices.Equal(got, want) {
		t.Errorf("parsed\n  %+v\nwant\n  %+v", got, want)
	}
	if _, err := parseGoBench("BenchmarkCompose/packages=1-2 10 5 B/op\n"); err == nil {
		t.Error("a line without ns/op parsed")
	}
}

func sampleReport() *Report {
	r := &Report{
		Date:            "2026-01-02T03:04:05Z",
		Machine:         Machine{Cores: 2, CPU: "Test CPU", MemoryBytes: 24 << 30, Kernel: "Linux 6.1"},
		BuildKitVersion: "v0.34.2",
		LoadStart:       1.5,
		LoadEnd:         2.25,
		Runs:            3,
		Compose:         &ComposeReport{},
	}
	size := SizeReport{LargeBytes: 200 << 20, Packages: []string{"core-filesystem", "core-large"}, UpstreamLayerBytes: 200 << 20}
	add := func(cache, variant, label string, secs []float64, l imageLayers, stored int64) {
		res := Result{Cache: cache, Variant: variant, Label: label}
		for _, s := range secs {
			res.add(time.Duration(s*float64(time.Second)), l, stored)
		}
		res.summarize()
		size.Results = append(size.Results, res)
	}
	up := imageLayers{Count: 2, Bytes: 200 << 20, IsUpstream: true, Digests: []string{"sha256:f", "sha256:l"}}
	chain := imageLayers{Count: 2, Bytes: 201 << 20, NewBytes: 201 << 20, Digests: []string{"sha256:c1", "sha256:c2"}}
	add(cacheCold, variantFrontend, "a", []float64{2, 1, 3}, up, 25<<20)
	add(cacheCold, variantRepro, "b", []float64{10, 30, 20}, chain, 800<<20)
	add(cacheCold, variantChecked, "e", []float64{3, 3, 4}, up, 30<<20)
	add(cacheWarm, variantFrontend, "a", []float64{0.5, 0.5, 0.4}, up, 25<<20)
	add(cacheWarm, variantRepro, "b", []float64{1, 1, 1}, chain, 800<<20)
	add(cacheWarm, variantChecked, "e", []float64{0.5, 0.5, 0.5}, up, 30<<20)
	size.ratios()
	r.Compose.Sizes = append(r.Compose.Sizes, size)
	r.Overhead = []Overhead{{Packages: 1, NsPerOp: 266496, BytesPerOp: 119113, AllocsPerOp: 1330, LLBOps: 7}}
	return r
}

func TestReport(t *testing.T) {
	r := sampleReport()
	c := &r.Compose.Sizes[0]
	if a := c.result(cacheCold, variantFrontend); a.MedianSeconds != 2 || a.MinSeconds != 1 || a.MaxSeconds != 3 {
		t.Errorf("cold frontend: %+v", a)
	}
	if c.Ratios[variantRepro][cacheCold] != 10 || c.Ratios[variantRepro][cacheWarm] != 2 {
		t.Errorf("chain ratios = %v, want cold 10, warm 2", c.Ratios[variantRepro])
	}
	if c.Ratios[variantChecked][cacheCold] != 1.5 || c.Ratios[variantChecked][cacheWarm] != 1 {
		t.Errorf("check ratios = %v, want cold 1.5, warm 1", c.Ratios[variantChecked])
	}
	if _, ok := c.Ratios[variantFrontend]; ok {
		t.Errorf("the frontend has a ratio over itself: %v", c.Ratios)
	}
	if !r.Compose.frontendUpstream() {
		t.Error("frontendUpstream() = false for upstream results")
	}
	// One run that is not upstream spoils the variant.
	c.Results[0].add(time.Second, imageLayers{Count: 3, NewBytes: 1, Digests: []string{"sha256:x"}}, 0)
	if c.Results[0].LayersAreUpstream || r.Compose.frontendUpstream() {
		t.Error("a frontend run with a new layer still counts as upstream")
	}
	if c.Results[0].SameLayersEveryRun {
		t.Error("SameLayersEveryRun holds after a run with other layers")
	}
	if !c.Results[1].SameLayersEveryRun {
		t.Error("SameLayersEveryRun fails for runs with the same layers")
	}
	// A later upstream run does not make up for it.
	c.Results[0].add(time.Second, imageLayers{Count: 2, IsUpstream: true}, 0)
	if c.Results[0].LayersAreUpstream {
		t.Error("LayersAreUpstream recovered after a run that was not")
	}

	r = sampleReport()
	text := r.Text()
	for _, want := range []string{
		"2 cores (Test CPU), 24.0 GiB memory, Linux 6.1, BuildKit v0.34.2, 2026-01-02T03:04:05Z; load average 1.50 at the start, 2.25 at the end",
		"core-filesystem + core-large, core-large 200.0 MiB (200.0 MiB upstream layers): median of 3 runs",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	md := r.Markdown()
	for _, want := range []string{
		"| core-large | upstream layers | cold: frontend | cold: chain | cold: chain ÷ frontend | warm: frontend | warm: chain | warm: chain ÷ frontend |\n",
		"| 200.0 MiB | 200.0 MiB | 2.00 s | 20.00 s | 10.0× | 0.50 s | 1.00 s | 2.00× |\n",
		"| cache | variant | median | min | max | ÷ a | layers | new layer bytes | layers = upstream | daemon cache |\n|---|---|---|---|---|---|---|---|---|---|\n",
		"| cold | a | 2.00 s | 1.00 s | 3.00 s |  | 2 | 0 B | true | 25.0 MiB |\n",
		"| cold | b | 20.00 s | 10.00 s | 30.00 s | 10.0× | 2 | 201.0 MiB | false | 800.0 MiB |\n",
		"| warm | b | 1.00 s | 1.00 s | 1.00 s | 2.00× | 2 | 201.0 MiB | false | 800.0 MiB |\n",
		"| cold | e | 3.00 s | 3.00 s | 4.00 s | 1.50× | 2 | 0 B | true | 30.0 MiB |\n",
		"| 1 | 266.5 µs | 1330 | 116.3 KiB | 7 |\n",
		"The same layer blobs in every run: cold frontend true, cold chain-reproducible true, cold frontend-check true, warm frontend true, warm chain-reproducible true, warm frontend-check true.\n",
		"| warm no-change build of one image (frontend, 200.0 MiB) | ≤ 0.15 s | 0.50 s | no, 0.35 s over |\n",
		"| frontend's cold build, 200.0 MiB package | ≤ 0.50 s | 2.00 s | no, 1.50 s over |\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "buildx bake of") || strings.Contains(md, "bake of all images") {
		t.Errorf("a report without a bake has a bake table or target:\n%s", md)
	}
	if strings.Contains(md, "No `# syntax=`") {
		t.Errorf("a note on a missing syntax row without a reason:\n%s", md)
	}

	r.Bake = &BakeReport{Targets: []string{"base", "frontend"}, Cold: []float64{30, 10, 20}, Warm: []float64{2, 1, 1.25}}
	r.Bake.summarize()
	r.NoSyntaxRow = "go build failed"
	md = r.Markdown()
	for _, want := range []string{
		"All images: buildx bake of docker-bake.hcl against the fixtures (base, frontend), median of 3 runs, push included\n",
		"| cold | 20.00 s | 10.00 s | 30.00 s |\n| warm | 1.25 s | 1.00 s | 2.00 s |\n",
		"| warm no-change bake of all images | ≤ 1.50 s | 1.25 s | yes |\n",
		"No `# syntax=` Dockerfile row: go build failed\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

// TestTimeline: vertices are ordered by start, stretches of 5 ms or more
// without a running vertex become gaps (overlapping vertices leave none),
// digests are cut and the registry address hidden.
func TestTimeline(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) *time.Time { x := t0.Add(time.Duration(ms) * time.Millisecond); return &x }
	dg := "sha256:" + strings.Repeat("ab", 32)
	vs := []*client.Vertex{
		{Name: "resolve 127.0.0.1:5999/stagex/x@" + dg, Started: at(40), Completed: at(60)},
		{Name: "load spec", Started: at(0), Completed: at(30)},
		{Name: "merge", Started: at(50), Completed: at(70), Cached: true},
		{Name: "never started"},
		{Name: "export", Started: at(72), Completed: at(90)},
	}
	tl := newTimeline(t0, 100*time.Millisecond, vs, registry)
	want := []Step{
		{Name: "load spec", StartMS: 0, EndMS: 30},
		{Name: "(no vertex running)", StartMS: 30, EndMS: 40, Gap: true},
		{Name: "resolve <registry>/stagex/x@sha256:abababababab", StartMS: 40, EndMS: 60},
		{Name: "merge", StartMS: 50, EndMS: 70, Cached: true},
		{Name: "export", StartMS: 72, EndMS: 90},
		{Name: "(no vertex running: the solve returns)", StartMS: 90, EndMS: 100, Gap: true},
	}
	if tl.TotalMS != 100 || !reflect.DeepEqual(tl.Steps, want) {
		t.Errorf("timeline = %v %+v\nwant %+v", tl.TotalMS, tl.Steps, want)
	}
	md := timelineTable(tl, cacheWarm, 10<<20)
	if !strings.HasPrefix(md.title, "Warm path: the last warm frontend build (core-large 10.0 MiB), 100 ms in all") {
		t.Errorf("title = %q", md.title)
	}
	if got := md.rows[1]; !slices.Equal(got, []string{"30 ms", "40 ms", "10 ms", "(no vertex running)"}) {
		t.Errorf("gap row = %q", got)
	}
	if got := md.rows[3]; !slices.Equal(got, []string{"50 ms", "70 ms", "20 ms", "`merge (cached)`"}) {
		t.Errorf("cached row = %q", got)
	}
}

// TestVariants: the reproducible chain carries the epoch and the
// exporter's rewrite-timestamp; the plain chain neither; the syntax row is
// the reproducible chain behind the Dockerfile frontend image's syntax
// line, and exists only with that image.
func TestVariants(t *testing.T) {
	set := fixtureSet(t)
	env := &benchEnv{bed: &bed.Bed{RegistryAddr: registry}, frontend: registry + "/stagex-frontend@sha256:" + strings.Repeat("a", 64)}
	dir := t.TempDir()
	vs, err := variants(env, set, dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, v := range vs {
		names = append(names, v.name)
	}
	if want := []string{variantFrontend, variantRepro, variantChain, variantChecked, variantGateway}; !slices.Equal(names, want) {
		t.Fatalf("variants without a Dockerfile frontend image = %v, want %v", names, want)
	}
	if b := vs[1].build; b.BuildArgs["SOURCE_DATE_EPOCH"] != Epoch || b.ExportAttrs["rewrite-timestamp"] != "true" {
		t.Errorf("reproducible chain: %+v", b)
	}
	if b := vs[2].build; len(b.BuildArgs) != 0 || len(b.ExportAttrs) != 0 {
		t.Errorf("plain chain: %+v", b)
	}
	env.dockerfileFrontend = registry + "/dockerfile@sha256:" + strings.Repeat("b", 64)
	vs, err = variants(env, set, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 7 || vs[3].name != variantSyntax || vs[3].build.ExportAttrs["rewrite-timestamp"] != "true" {
		t.Fatalf("variants with a Dockerfile frontend image: %+v", vs)
	}
	// f is c through the same image: the same Dockerfile as d, built as c
	// is built (no epoch, no rewrite).
	if f := vs[5]; f.name != variantSyntaxFloor || f.build.DockerfileDir != vs[3].build.DockerfileDir ||
		len(f.build.BuildArgs) != 0 || len(f.build.ExportAttrs) != 0 || f.build.Frontend != "" {
		t.Errorf("syntax floor: %+v", f)
	}
	// g is a's spec, named to the gateway frontend by the client.
	if g := vs[6]; g.name != variantGateway || g.build.Frontend != "gateway.v0" || g.build.Attrs["source"] != env.frontend ||
		g.build.DockerfileDir != vs[0].build.DockerfileDir || g.build.Filename != "stagex.yaml" || g.build.BuildArgs["SOURCE_DATE_EPOCH"] != Epoch {
		t.Errorf("gateway variant: %+v", g)
	}
	got, err := os.ReadFile(filepath.Join(vs[3].build.DockerfileDir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	chain, _ := os.ReadFile(filepath.Join(vs[1].build.DockerfileDir, "Dockerfile"))
	if string(got) != "# syntax="+env.dockerfileFrontend+"\n"+string(chain) {
		t.Errorf("syntax Dockerfile =\n%s", got)
	}
}

func TestWriteJSONAndMarkdown(t *testing.T) {
	r := sampleReport()
	dir := t.TempDir()
	path, err := r.WriteJSON(filepath.Join(dir, "out"), time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(path) != "bench-20260102T030405Z.json" {
		t.Errorf("JSON written to %s", path)
	}
	a, _ := os.ReadFile(path)
	b, _ := os.ReadFile(filepath.Join(dir, "out", "latest.json"))
	if len(a) == 0 || string(a) != string(b) || !strings.Contains(string(a), `"new_layer_bytes": 210763776`) {
		t.Errorf("JSON files differ or lack the results:\n%s", a)
	}

	doc := filepath.Join(dir, "bench.md")
	if err := os.WriteFile(doc, []byte("# Title\n\nprose\n\n"+markBegin+"\nold numbers\n"+markEnd+"\n\nmore prose\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.UpdateMarkdown(doc); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(doc)
	want := "# Title\n\nprose\n\n" + markBegin + "\n" + r.Markdown() + markEnd + "\n\nmore prose\n"
	if string(got) != want {
		t.Errorf("markdown =\n%s\nwant\n%s", got, want)
	}

	if err := os.WriteFile(doc, []byte("no markers\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.UpdateMarkdown(doc); err == nil {
		t.Error("a file without markers was overwritten")
	}
	fresh := filepath.Join(dir, "new.md")
	if err := r.UpdateMarkdown(fresh); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(fresh); string(got) != markBegin+"\n"+r.Markdown()+markEnd+"\n" {
		t.Errorf("new file =\n%s", got)
	}
}

func TestParseMemTotal(t *testing.T) {
	if got := parseMemTotal("24576000 kB"); got != 24576000*1024 {
		t.Errorf("parseMemTotal = %d", got)
	}
	if got := parseMemTotal("junk"); got != 0 {
		t.Errorf("parseMemTotal(junk) = %d", got)
	}
}

// TestReadRawJSON: buildx's rawjson progress (one status a line, a vertex
// repeated as it starts and completes) becomes the vertices with their
// times; the long steps are those of a twentieth of the whole or more.
func TestReadRawJSON(t *testing.T) {
	d1, d2 := "sha256:"+strings.Repeat("1", 64), "sha256:"+strings.Repeat("2", 64)
	in := `#0 building with "stagex-bench" instance using remote driver
{"vertexes":[{"digest":"` + d1 + `","name":"[base] load spec","started":"2026-01-01T00:00:00.010Z"}]}
{"vertexes":[{"digest":"` + d1 + `","name":"[base] load spec","started":"2026-01-01T00:00:00.010Z","completed":"2026-01-01T00:00:00.400Z"}]}
{"vertexes":[{"digest":"` + d2 + `","name":"[base] merge","started":"2026-01-01T00:00:00.500Z","completed":"2026-01-01T00:00:00.510Z","cached":true}]}
`
	rec := &recorder{start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	if err := rec.readJSON(strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	tl := rec.timeline(time.Second, "")
	want := []Step{
		{Name: "(no vertex running)", StartMS: 0, EndMS: 10, Gap: true},
		{Name: "[base] load spec", StartMS: 10, EndMS: 400},
		{Name: "(no vertex running)", StartMS: 400, EndMS: 500, Gap: true},
		{Name: "[base] merge", StartMS: 500, EndMS: 510, Cached: true},
		{Name: "(no vertex running: the solve returns)", StartMS: 510, EndMS: 1000, Gap: true},
	}
	if !reflect.DeepEqual(tl.Steps, want) {
		t.Errorf("steps = %+v\nwant %+v", tl.Steps, want)
	}
	if got := tl.longSteps(); len(got) != 3 || got[0].Name != "[base] load spec" || got[1].StartMS != 400 || !got[2].Gap {
		t.Errorf("long steps = %+v", got)
	}
	if err := rec.readJSON(strings.NewReader("{not json\n")); err == nil {
		t.Error("a broken status line was read")
	}
}

// The floor table puts a beside f (and g and c where measured), and is
// left out of a run without row f.
func TestFloorTable(t *testing.T) {
	r := sampleReport()
	if strings.Contains(r.Markdown(), "The floor of a `# syntax=` frontend") {
		t.Error("a run without row f has a floor table")
	}
	s := &r.Compose.Sizes[0]
	for _, x := range []struct {
		variant string
		secs    float64
	}{{variantSyntaxFloor, 0.3}, {variantGateway, 0.45}} {
		res := Result{Cache: cacheWarm, Variant: x.variant, Label: x.variant}
		res.add(time.Duration(x.secs*float64(time.Second)), imageLayers{}, 0)
		res.summarize()
		s.Results = append(s.Results, res)
	}
	md := r.Markdown()
	for _, want := range []string{
		"| core-large | cache | a: frontend | f: # syntax= floor | a − f | g: gateway.v0 | c: plain chain |\n",
		"| 200.0 MiB | warm | 0.50 s | 0.30 s | 0.20 s | 0.45 s |  |\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	// No cold f: no cold row.
	if strings.Contains(md, "| 200.0 MiB | cold | 2.00 s") {
		t.Errorf("a cold row without a cold f:\n%s", md)
	}
}
