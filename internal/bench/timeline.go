package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/moby/buildkit/client"
)

// Timeline is where one build's wall time went, from BuildKit's own
// progress stream: each vertex with its start and end after the client
// sent the solve, and the stretches in which no vertex ran (the frontend
// container starting, the frontend's own work between its requests, the
// session's set-up and tear-down).
type Timeline struct {
	TotalMS float64 `json:"total_ms"`
	Steps   []Step  `json:"steps"`
}

// Step is one vertex of the build, or a gap between vertices (Gap set).
type Step struct {
	Name    string  `json:"name"`
	StartMS float64 `json:"start_ms"`
	EndMS   float64 `json:"end_ms"`
	Cached  bool    `json:"cached,omitempty"`
	Gap     bool    `json:"gap,omitempty"`
}

// minGap is the shortest stretch without a running vertex that the
// timeline shows.
const minGap = 5 * time.Millisecond

var digestRe = regexp.MustCompile(`sha256:([0-9a-f]{12})[0-9a-f]{52}`)

// stepName shortens a vertex name: digests to 12 hex digits, the bed's
// registry address to <registry>.
func stepName(name, registry string) string {
	if registry != "" {
		name = strings.ReplaceAll(name, registry, "<registry>")
	}
	return digestRe.ReplaceAllString(name, "sha256:$1")
}

func newTimeline(start time.Time, total time.Duration, vs []*client.Vertex, registry string) *Timeline {
	ms := func(t time.Time) float64 { return round3(float64(t.Sub(start).Microseconds()) / 1000) }
	tl := &Timeline{TotalMS: round3(float64(total.Microseconds()) / 1000)}
	var steps []Step
	for _, v := range vs {
		if v.Started == nil {
			continue
		}
		end := *v.Started
		if v.Completed != nil {
			end = *v.Completed
		}
		steps = append(steps, Step{Name: stepName(v.Name, registry), StartMS: ms(*v.Started), EndMS: ms(end), Cached: v.Cached})
	}
	slices.SortStableFunc(steps, func(a, b Step) int {
		switch {
		case a.StartMS < b.StartMS:
			return -1
		case a.StartMS > b.StartMS:
			return 1
		}
		return 0
	})
	gapMS := float64(minGap.Microseconds()) / 1000
	busyUntil := 0.0
	for _, s := range steps {
		if s.StartMS-busyUntil >= gapMS {
			tl.Steps = append(tl.Steps, Step{Name: "(no vertex running)", StartMS: busyUntil, EndMS: s.StartMS, Gap: true})
		}
		tl.Steps = append(tl.Steps, s)
		busyUntil = max(busyUntil, s.EndMS)
	}
	if tl.TotalMS-busyUntil >= gapMS {
		tl.Steps = append(tl.Steps, Step{Name: "(no vertex running: the solve returns)", StartMS: busyUntil, EndMS: tl.TotalMS, Gap: true})
	}
	return tl
}

// readJSON reads a progress stream as buildx --progress=rawjson prints it:
// one SolveStatus a line (other lines are skipped).
func (r *recorder) readJSON(in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var s client.SolveStatus
		if err := json.Unmarshal(line, &s); err != nil {
			return err
		}
		r.add(&s)
	}
	return sc.Err()
}

// longSteps are the steps that took at least a twentieth of the whole (the
// gaps included), for a timeline too long to show whole.
func (tl *Timeline) longSteps() []Step {
	var out []Step
	for _, s := range tl.Steps {
		if s.EndMS-s.StartMS >= tl.TotalMS/20 {
			out = append(out, s)
		}
	}
	return out
}
