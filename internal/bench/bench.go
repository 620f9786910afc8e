// Package bench measures what this project promises to be fast: composing
// StageX packages with the frontend against the Dockerfile chain it
// replaces (FROM scratch + one COPY --from per package; reproducible, plain
// and through a `# syntax=` Dockerfile frontend image), at several package
// sizes, cold and warm; where a warm frontend build's time goes; the
// frontend's own overhead per request; and a bake of all images.
//
// It runs on a test bed (internal/bed): the one Options names, or the one
// the environment announces (STAGEX_BUILDKIT_ADDR, STAGEX_REGISTRY_ADDR). It is a benchmark, not a test: it asserts no times.
// Run fails only when a build fails, or when the frontend's output layers
// are not the upstream blobs, which must hold whatever the timings.
package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/internal/bed"
	"edp.buildth.ing/devfw-cicd/stagex/internal/repo"
)

// Parts of the benchmark.
const (
	PartCompose  = "compose"
	PartOverhead = "overhead"
	PartBake     = "bake"
)

// Parts lists every part, in the order they run.
var Parts = []string{PartCompose, PartOverhead, PartBake}

// Options select what Run measures and where it writes.
type Options struct {
	// Bed is the test bed to measure on; nil reads it from the
	// environment (bed.FromEnv).
	Bed *bed.Bed
	// Runs is the number of builds per variant and cache state (the
	// median is reported).
	Runs int
	// Sizes are core-large's payloads for the compose part (default
	// DefaultSizes).
	Sizes []int64
	// Parts to run (default all).
	Parts map[string]bool
	// Out is the folder of the JSON report, relative to the repository
	// root unless absolute.
	Out string
	// Markdown, when set, is a file whose generated block Run rewrites.
	Markdown string
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[bench] "+format+"\n", args...)
}

// ErrUpstream marks the one result that fails the benchmark although every
// build succeeded: the frontend's layers are not the upstream blobs.
var ErrUpstream = errors.New("the frontend's output layers are not the upstream blobs")

// Run measures the selected parts on the bed of the environment, prints
// the report and writes it as JSON (and into the Markdown file).
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Runs < 1 {
		return nil, fmt.Errorf("runs must be at least 1")
	}
	if len(o.Sizes) == 0 {
		o.Sizes = DefaultSizes
	}
	if o.Parts == nil {
		o.Parts = map[string]bool{}
		for _, p := range Parts {
			o.Parts[p] = true
		}
	}
	root, err := repo.Root()
	if err != nil {
		return nil, err
	}
	outDir := o.Out
	if !filepath.IsAbs(outDir) {
		outDir = filepath.Join(root, outDir)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	rep := &Report{Date: now.Format(time.RFC3339), Machine: readMachine(), Runs: o.Runs, LoadStart: loadAverage()}

	var verdict error
	if o.Parts[PartCompose] || o.Parts[PartBake] {
		b := o.Bed
		if b == nil {
			if b, err = bed.FromEnv(); err != nil {
				return nil, fmt.Errorf("%w; `make bench` starts a bed of its own", err)
			}
		}
		env, err := setUp(ctx, b)
		if err != nil {
			return nil, err
		}
		defer env.close()
		rep.BuildKitVersion = env.buildkitVersion
		if o.Parts[PartCompose] {
			if env.dockerfileFrontendErr != nil {
				rep.NoSyntaxRow = env.dockerfileFrontendErr.Error()
			}
			if rep.Compose, err = benchCompose(ctx, env, o.Sizes, o.Runs); err != nil {
				return nil, err
			}
			if !rep.Compose.frontendUpstream() {
				verdict = ErrUpstream
			}
		}
		if o.Parts[PartBake] {
			if rep.Bake, err = benchBake(ctx, env, root, o.Runs, filepath.Join(outDir, "bake-warm-progress-"+now.Format(stamp)+".jsonl")); err != nil {
				return nil, err
			}
		}
	}
	if o.Parts[PartOverhead] {
		if rep.Overhead, err = benchOverhead(ctx, root); err != nil {
			return nil, err
		}
	}
	rep.LoadEnd = loadAverage()

	fmt.Print(rep.Text())
	path, err := rep.WriteJSON(outDir, now)
	if err != nil {
		return nil, err
	}
	logf("wrote %s", path)
	if o.Markdown != "" {
		if err := rep.UpdateMarkdown(o.Markdown); err != nil {
			return nil, err
		}
		logf("wrote %s", o.Markdown)
	}
	return rep, verdict
}
