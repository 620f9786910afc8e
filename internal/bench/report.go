package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Cache states of a compose run.
const (
	cacheCold = "cold"
	cacheWarm = "warm"
)

// Report is everything one run of the benchmark measured. The JSON file,
// the printed table and the Markdown block are all rendered from it.
type Report struct {
	Date            string  `json:"date"`
	Machine         Machine `json:"machine"`
	BuildKitVersion string  `json:"buildkit_version,omitempty"`
	// LoadStart and LoadEnd are the 1-minute load average when the run
	// started and ended: the machine may be shared.
	LoadStart float64 `json:"load_start"`
	LoadEnd   float64 `json:"load_end"`
	Runs      int     `json:"runs"`
	// NoSyntaxRow says why the `# syntax=` Dockerfile row is missing.
	NoSyntaxRow string         `json:"no_syntax_row,omitempty"`
	Compose     *ComposeReport `json:"compose,omitempty"`
	Overhead    []Overhead     `json:"overhead,omitempty"`
	Bake        *BakeReport    `json:"bake,omitempty"`
}

// ComposeReport is the composition built by every variant, at each size.
type ComposeReport struct {
	Sizes []SizeReport `json:"sizes"`
	// Timelines are the last cold and the last warm frontend build of the
	// largest size, vertex by vertex, by cache state.
	Timelines map[string]*Timeline `json:"timelines,omitempty"`
}

// SizeReport is the composition with core-large of one size.
type SizeReport struct {
	// LargeBytes is core-large's payload.
	LargeBytes int64 `json:"large_bytes"`
	// Packages is the composition, base first.
	Packages []string `json:"packages"`
	// UpstreamLayerBytes is the size of the upstream layer blobs the
	// composition is made of.
	UpstreamLayerBytes int64 `json:"upstream_layer_bytes"`
	// Results: every variant cold, then every variant warm.
	Results []Result `json:"results"`
	// Ratios is, per variant and cache state, the variant's median over
	// the frontend's.
	Ratios map[string]map[string]float64 `json:"ratios"`
}

// Result is one variant in one cache state over all runs.
type Result struct {
	Cache         string    `json:"cache"`
	Variant       string    `json:"variant"`
	Label         string    `json:"label"`
	Seconds       []float64 `json:"seconds"`
	MedianSeconds float64   `json:"median_seconds"`
	MinSeconds    float64   `json:"min_seconds"`
	MaxSeconds    float64   `json:"max_seconds"`
	// Layers, LayerBytes and NewLayerBytes describe the last run's image.
	Layers        int   `json:"layers"`
	LayerBytes    int64 `json:"layer_bytes"`
	NewLayerBytes int64 `json:"new_layer_bytes"`
	// LayersAreUpstream holds when every run's layers were exactly the
	// upstream blobs.
	LayersAreUpstream bool `json:"layers_are_upstream"`
	// LayerDigests are the last run's layer blobs; SameLayersEveryRun
	// tells whether every run pushed these same blobs.
	LayerDigests       []string `json:"layer_digests"`
	SameLayersEveryRun bool     `json:"same_layers_every_run"`
	// CacheBytes is the daemon's build cache size after the last run: what
	// the build pulled, unpacked and wrote (the frontend image included).
	CacheBytes int64 `json:"daemon_cache_bytes"`
}

func (r *Result) add(d time.Duration, l imageLayers, cacheBytes int64) {
	first := len(r.Seconds) == 0
	r.Seconds = append(r.Seconds, round3(d.Seconds()))
	r.SameLayersEveryRun = first || (r.SameLayersEveryRun && slices.Equal(r.LayerDigests, l.Digests))
	r.Layers, r.LayerBytes, r.NewLayerBytes, r.LayerDigests = l.Count, l.Bytes, l.NewBytes, l.Digests
	r.CacheBytes = cacheBytes
	r.LayersAreUpstream = l.IsUpstream && (first || r.LayersAreUpstream)
}

func (r *Result) summarize() {
	r.MedianSeconds = round3(median(r.Seconds))
	r.MinSeconds = slices.Min(r.Seconds)
	r.MaxSeconds = slices.Max(r.Seconds)
}

func (c *SizeReport) result(cache, variant string) *Result {
	for i := range c.Results {
		if c.Results[i].Cache == cache && c.Results[i].Variant == variant {
			return &c.Results[i]
		}
	}
	return nil
}

func (c *SizeReport) ratios() {
	c.Ratios = map[string]map[string]float64{}
	for _, cache := range []string{cacheCold, cacheWarm} {
		a := c.result(cache, variantFrontend)
		if a == nil || a.MedianSeconds <= 0 {
			continue
		}
		for _, r := range c.Results {
			if r.Cache != cache || r.Variant == variantFrontend {
				continue
			}
			if c.Ratios[r.Variant] == nil {
				c.Ratios[r.Variant] = map[string]float64{}
			}
			c.Ratios[r.Variant][cache] = round3(r.MedianSeconds / a.MedianSeconds)
		}
	}
}

// frontendUpstream tells whether every frontend build, at every size,
// exported exactly the upstream blobs (the property that must hold).
func (c *ComposeReport) frontendUpstream() bool {
	n := 0
	for _, s := range c.Sizes {
		for _, r := range s.Results {
			if r.Variant == variantFrontend || r.Variant == variantChecked || r.Variant == variantGateway {
				n++
				if !r.LayersAreUpstream {
					return false
				}
			}
		}
	}
	return n > 0
}

// largest is the size report of the biggest core-large, or nil.
func (c *ComposeReport) largest() *SizeReport {
	if c == nil || len(c.Sizes) == 0 {
		return nil
	}
	return &c.Sizes[len(c.Sizes)-1]
}

// Target is one of the speed targets the run is held against.
type Target struct {
	Name          string  `json:"name"`
	LimitSeconds  float64 `json:"limit_seconds"`
	MedianSeconds float64 `json:"median_seconds"`
	Met           bool    `json:"met"`
}

// Targets are the frontend's speed goals, in the numbers of this run: a
// warm no-change build of one image, a warm no-change bake of all images,
// and the frontend's cold build of the largest composition.
func (r *Report) Targets() []Target {
	var ts []Target
	add := func(name string, limit, got float64) {
		ts = append(ts, Target{Name: name, LimitSeconds: limit, MedianSeconds: got, Met: got <= limit})
	}
	if l := r.Compose.largest(); l != nil {
		if w := l.result(cacheWarm, variantFrontend); w != nil {
			add("warm no-change build of one image (frontend, "+bytesText(l.LargeBytes)+")", 0.15, w.MedianSeconds)
		}
	}
	if b := r.Bake; b != nil && len(b.Warm) > 0 {
		add("warm no-change bake of all images", 1.5, b.WarmMedian)
	}
	if l := r.Compose.largest(); l != nil {
		if c := l.result(cacheCold, variantFrontend); c != nil {
			add("frontend's cold build, "+bytesText(l.LargeBytes)+" package", 0.5, c.MedianSeconds)
		}
	}
	return ts
}

// Overhead is one size of BenchmarkCompose.
type Overhead struct {
	Packages    int     `json:"packages"`
	NsPerOp     float64 `json:"ns_per_op"`
	BytesPerOp  float64 `json:"bytes_per_op"`
	AllocsPerOp float64 `json:"allocs_per_op"`
	LLBOps      float64 `json:"llb_ops"`
}

// BakeReport is the wall times of whole bakes, in seconds.
type BakeReport struct {
	Targets []string  `json:"targets,omitempty"`
	Cold    []float64 `json:"cold_seconds,omitempty"`
	Warm    []float64 `json:"warm_seconds,omitempty"`
	// Median per cache state.
	ColdMedian float64 `json:"cold_median_seconds,omitempty"`
	WarmMedian float64 `json:"warm_median_seconds,omitempty"`
	// WarmTimeline is the last warm bake, every target's vertices.
	WarmTimeline *Timeline `json:"warm_timeline,omitempty"`
}

func (b *BakeReport) summarize() {
	b.ColdMedian = round3(median(b.Cold))
	b.WarmMedian = round3(median(b.Warm))
}

func round3(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }

// median of a non-empty list (the mean of the middle two for an even count).
func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// table is a rendered table: a header and rows of cells.
type table struct {
	title  string
	header []string
	rows   [][]string
	note   string // a line under the table
}

func (r *Report) tables() []table {
	var ts []table
	if c := r.Compose; c != nil && len(c.Sizes) > 0 {
		ts = append(ts, headline(c, r.Runs))
		if t, ok := floorTable(c); ok {
			ts = append(ts, t)
		}
		for _, s := range c.Sizes {
			ts = append(ts, sizeTable(s, r.Runs))
		}
		for _, cache := range []string{cacheWarm, cacheCold} {
			if tl := c.Timelines[cache]; tl != nil {
				ts = append(ts, timelineTable(tl, cache, c.largest().LargeBytes))
			}
		}
	}
	if len(r.Overhead) > 0 {
		t := table{
			title:  "Frontend overhead: spec + lock bytes to the LLB definition (go test -bench BenchmarkCompose ./llb, no daemon)",
			header: []string{"packages", "time/op", "allocs/op", "bytes/op", "LLB ops"},
		}
		for _, o := range r.Overhead {
			t.rows = append(t.rows, []string{
				fmt.Sprint(o.Packages), durationText(o.NsPerOp), fmt.Sprintf("%.0f", o.AllocsPerOp),
				bytesText(int64(o.BytesPerOp)), fmt.Sprintf("%.0f", o.LLBOps),
			})
		}
		ts = append(ts, t)
	}
	if b := r.Bake; b != nil && len(b.Cold) > 0 && len(b.Warm) > 0 {
		row := func(cache string, secs []float64, med float64) []string {
			return []string{cache, secondsText(med), secondsText(slices.Min(secs)), secondsText(slices.Max(secs))}
		}
		ts = append(ts, table{
			title: fmt.Sprintf("All images: buildx bake of docker-bake.hcl against the fixtures (%s), median of %d runs, push included",
				strings.Join(b.Targets, ", "), len(b.Cold)),
			header: []string{"cache", "median", "min", "max"},
			rows:   [][]string{row(cacheCold, b.Cold, b.ColdMedian), row(cacheWarm, b.Warm, b.WarmMedian)},
		})
	}
	if b := r.Bake; b != nil && b.WarmTimeline != nil {
		t := timelineTable(&Timeline{TotalMS: b.WarmTimeline.TotalMS, Steps: b.WarmTimeline.longSteps()}, cacheWarm, 0)
		t.title = fmt.Sprintf("Warm bake: the last warm bake's steps that took a twentieth of its %s or more (all targets at once), from buildx's progress stream",
			msText(b.WarmTimeline.TotalMS))
		ts = append(ts, t)
	}
	if tg := r.Targets(); len(tg) > 0 {
		ts = append(ts, targetsTable(tg))
	}
	return ts
}

func (r *Report) machineText() string {
	m := r.Machine
	s := fmt.Sprintf("%d cores (%s), %s memory, %s", m.Cores, m.CPU, bytesText(m.MemoryBytes), m.Kernel)
	if r.BuildKitVersion != "" {
		s += ", BuildKit " + r.BuildKitVersion
	}
	s += ", " + r.Date
	if r.LoadStart >= 0 && r.LoadEnd >= 0 {
		s += fmt.Sprintf("; load average %.2f at the start, %.2f at the end", r.LoadStart, r.LoadEnd)
	}
	return s
}

// headline is the frontend against the reproducible chain at every size.
func headline(c *ComposeReport, runs int) table {
	t := table{
		title: fmt.Sprintf("Headline: the frontend against the reproducible Dockerfile chain (SOURCE_DATE_EPOCH + rewrite-timestamp=true), median of %d runs, push included", runs),
		header: []string{"core-large", "upstream layers", "cold: frontend", "cold: chain", "cold: chain ÷ frontend",
			"warm: frontend", "warm: chain", "warm: chain ÷ frontend"},
	}
	for _, s := range c.Sizes {
		row := []string{bytesText(s.LargeBytes), bytesText(s.UpstreamLayerBytes)}
		for _, cache := range []string{cacheCold, cacheWarm} {
			a, b := s.result(cache, variantFrontend), s.result(cache, variantRepro)
			if a == nil || b == nil {
				row = append(row, "", "", "")
				continue
			}
			row = append(row, secondsText(a.MedianSeconds), secondsText(b.MedianSeconds), ratioText(s.Ratios[variantRepro][cache]))
		}
		t.rows = append(t.rows, row)
	}
	return t
}

// floorTable puts the frontend (a) beside the floor of any `# syntax=`
// frontend (f: the plain chain through upstream's Dockerfile frontend
// image) and beside the frontend named by the client (g), at every size and
// cache state; ok is false without row f.
func floorTable(c *ComposeReport) (table, bool) {
	t := table{
		title:  "The floor of a `# syntax=` frontend: a beside f (the plain chain c through upstream's Dockerfile frontend image) and g (a named by the client, gateway.v0), medians",
		header: []string{"core-large", "cache", "a: frontend", "f: # syntax= floor", "a − f", "g: gateway.v0", "c: plain chain"},
	}
	text := func(r *Result) string {
		if r == nil {
			return ""
		}
		return secondsText(r.MedianSeconds)
	}
	for _, s := range c.Sizes {
		for _, cache := range []string{cacheCold, cacheWarm} {
			a, f := s.result(cache, variantFrontend), s.result(cache, variantSyntaxFloor)
			if a == nil || f == nil {
				continue
			}
			t.rows = append(t.rows, []string{bytesText(s.LargeBytes), cache, text(a), text(f),
				secondsText(a.MedianSeconds - f.MedianSeconds), text(s.result(cache, variantGateway)), text(s.result(cache, variantChain))})
		}
	}
	return t, len(t.rows) > 0
}

func sizeTable(s SizeReport, runs int) table {
	t := table{
		title: fmt.Sprintf("Compose %s, core-large %s (%s upstream layers): median of %d runs, push included",
			strings.Join(s.Packages, " + "), bytesText(s.LargeBytes), bytesText(s.UpstreamLayerBytes), runs),
		header: []string{"cache", "variant", "median", "min", "max", "÷ a", "layers", "new layer bytes", "layers = upstream", "daemon cache"},
	}
	for _, res := range s.Results {
		ratio := ""
		if v, ok := s.Ratios[res.Variant][res.Cache]; ok {
			ratio = ratioText(v)
		}
		t.rows = append(t.rows, []string{
			res.Cache, res.Label,
			secondsText(res.MedianSeconds), secondsText(res.MinSeconds), secondsText(res.MaxSeconds),
			ratio, fmt.Sprint(res.Layers), bytesText(res.NewLayerBytes), fmt.Sprint(res.LayersAreUpstream),
			bytesText(res.CacheBytes),
		})
	}
	var same []string
	for _, res := range s.Results {
		same = append(same, fmt.Sprintf("%s %s %v", res.Cache, res.Variant, res.SameLayersEveryRun))
	}
	t.note = "The same layer blobs in every run: " + strings.Join(same, ", ") + "."
	return t
}

func timelineTable(tl *Timeline, cache string, size int64) table {
	title := "Warm path: the last warm frontend build"
	if cache == cacheCold {
		title = "Cold path: the last cold frontend build"
	}
	t := table{
		title: fmt.Sprintf("%s (core-large %s), %s in all, from BuildKit's progress stream (times after the client sent the solve)",
			title, bytesText(size), msText(tl.TotalMS)),
		header: []string{"from", "to", "took", "step"},
	}
	for _, s := range tl.Steps {
		name := s.Name
		if s.Cached {
			name += " (cached)"
		}
		if !s.Gap {
			name = "`" + strings.ReplaceAll(name, "|", "/") + "`"
		}
		t.rows = append(t.rows, []string{msText(s.StartMS), msText(s.EndMS), msText(s.EndMS - s.StartMS), name})
	}
	return t
}

func targetsTable(ts []Target) table {
	t := table{title: "Targets, in this run", header: []string{"target", "limit", "median", "met"}}
	for _, x := range ts {
		met := "yes"
		if !x.Met {
			met = fmt.Sprintf("no, %s over", secondsText(x.MedianSeconds-x.LimitSeconds))
		}
		t.rows = append(t.rows, []string{x.Name, "≤ " + secondsText(x.LimitSeconds), secondsText(x.MedianSeconds), met})
	}
	return t
}

// syntaxNote says why the run has no `# syntax=` Dockerfile row, if so.
func (r *Report) syntaxNote(syntax string) string {
	if r.NoSyntaxRow == "" {
		return ""
	}
	return "No " + syntax + " Dockerfile row: " + r.NoSyntaxRow + "\n"
}

// Text renders the report as plain tables for the terminal.
func (r *Report) Text() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "\n%s\n%s", r.machineText(), r.syntaxNote("# syntax="))
	for _, t := range r.tables() {
		fmt.Fprintf(&b, "\n%s\n", t.title)
		w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(w, strings.Join(t.header, "\t"))
		for _, row := range t.rows {
			fmt.Fprintln(w, strings.Join(row, "\t"))
		}
		w.Flush()
		if t.note != "" {
			fmt.Fprintf(&b, "%s\n", t.note)
		}
	}
	return b.String()
}

// Markdown renders the report as Markdown tables.
func (r *Report) Markdown() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Measured on %s.\n", r.machineText())
	if note := r.syntaxNote("`# syntax=`"); note != "" {
		fmt.Fprintf(&b, "\n%s", note)
	}
	for _, t := range r.tables() {
		fmt.Fprintf(&b, "\n%s\n\n", t.title)
		fmt.Fprintf(&b, "| %s |\n", strings.Join(t.header, " | "))
		fmt.Fprintf(&b, "|%s\n", strings.Repeat("---|", len(t.header)))
		for _, row := range t.rows {
			fmt.Fprintf(&b, "| %s |\n", strings.Join(row, " | "))
		}
		if t.note != "" {
			fmt.Fprintf(&b, "\n%s\n", t.note)
		}
	}
	return b.String()
}

// stamp names a run's files in the output folder by its start.
const stamp = "20060102T150405Z"

// WriteJSON writes the report into dir as bench-<date>.json and as
// latest.json, and returns the first path.
func (r *Report) WriteJSON(dir string, at time.Time) (string, error) {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", err
	}
	data = append(data, '\n')
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "bench-"+at.Format(stamp)+".json")
	for _, p := range []string{path, filepath.Join(dir, "latest.json")} {
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return "", err
		}
	}
	return path, nil
}

// The generated block of a Markdown file lies between these lines; the
// prose around it is kept.
const (
	markBegin = "<!-- bench:begin (written by make bench; do not edit by hand) -->"
	markEnd   = "<!-- bench:end -->"
)

// UpdateMarkdown puts the report into path between the markers. A missing
// file is created holding the block alone.
func (r *Report) UpdateMarkdown(path string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	out, err := spliceBlock(string(old), r.Markdown())
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, []byte(out), 0o644)
}

// spliceBlock replaces what lies between the markers in doc with block; an
// empty doc becomes the block between the markers.
func spliceBlock(doc, block string) (string, error) {
	wrapped := markBegin + "\n" + block + markEnd
	if strings.TrimSpace(doc) == "" {
		return wrapped + "\n", nil
	}
	i := strings.Index(doc, markBegin)
	j := strings.Index(doc, markEnd)
	if i < 0 || j < i {
		return "", fmt.Errorf("no %q … %q block to replace", markBegin, markEnd)
	}
	return doc[:i] + wrapped + doc[j+len(markEnd):], nil
}

func secondsText(s float64) string { return fmt.Sprintf("%.2f s", s) }

func msText(ms float64) string { return fmt.Sprintf("%.0f ms", ms) }

func ratioText(v float64) string {
	if v < 10 {
		return fmt.Sprintf("%.2f×", v)
	}
	return fmt.Sprintf("%.1f×", v)
}

func durationText(ns float64) string {
	switch {
	case ns >= 1e9:
		return fmt.Sprintf("%.2f s", ns/1e9)
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	}
	return fmt.Sprintf("%.0f ns", ns)
}

func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, u := float64(n), ""
	for _, u = range []string{"KiB", "MiB", "GiB", "TiB"} {
		f /= unit
		if f < unit {
			break
		}
	}
	return fmt.Sprintf("%.1f %s", f, u)
}
