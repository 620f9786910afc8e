// Command bench measures what this project promises to be fast: composing
// StageX packages with the frontend against the Dockerfile chain it
// replaces (FROM scratch + one COPY --from per package), cold and warm, the
// frontend's own overhead per request, and a bake of all images.
//
//	make bench                                        # starts its own bed, runs, takes it down
//	go run ./hack/bench -markdown docs/benchmarks.md   # inside a bed's environment
//
// It needs a test bed (STAGEX_BUILDKIT_ADDR, STAGEX_REGISTRY_ADDR; `make
// bench` provides one). It prints a table and writes the same as JSON into
// -out. It is a benchmark, not a test: it asserts no times. It fails only
// when a build fails, or when the frontend's output layers are not the
// upstream blobs, which must hold whatever the timings.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/internal/bed"
	"edp.buildth.ing/devfw-cicd/stagex/internal/repo"
)

// Parts of the benchmark, selectable with -parts.
const (
	partCompose  = "compose"
	partOverhead = "overhead"
	partBake     = "bake"
)

type options struct {
	runs     int
	out      string
	markdown string
	parts    map[string]bool
}

func main() {
	var o options
	var parts string
	flag.IntVar(&o.runs, "runs", 5, "builds per variant and cache state (the median is reported)")
	flag.StringVar(&o.out, "out", ".cache/bench", "folder for the JSON report (relative to the repository root)")
	flag.StringVar(&o.markdown, "markdown", "", "also write the report into this Markdown file, between "+markBegin+" and "+markEnd)
	flag.StringVar(&parts, "parts", strings.Join([]string{partCompose, partOverhead, partBake}, ","), "parts to run")
	flag.Parse()
	o.parts = map[string]bool{}
	for _, p := range strings.Split(parts, ",") {
		switch p = strings.TrimSpace(p); p {
		case partCompose, partOverhead, partBake:
			o.parts[p] = true
		case "":
		default:
			fail(fmt.Errorf("unknown part %q (want %s, %s or %s)", p, partCompose, partOverhead, partBake))
		}
	}
	if o.runs < 1 {
		fail(fmt.Errorf("-runs must be at least 1"))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		stop()
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "bench: %v\n", err)
	os.Exit(1)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[bench] "+format+"\n", args...)
}

// errUpstream marks the one result that fails the benchmark although every
// build succeeded: the frontend's layers are not the upstream blobs.
var errUpstream = errors.New("the frontend's output layers are not the upstream blobs")

func run(ctx context.Context, o options) error {
	root, err := repo.Root()
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	rep := &Report{Date: now.Format(time.RFC3339), Machine: readMachine(), Runs: o.runs}

	var verdict error
	if o.parts[partCompose] || o.parts[partBake] {
		bed, err := bed.FromEnv()
		if err != nil {
			return fmt.Errorf("%w; `make bench` starts a bed of its own", err)
		}
		env, err := setUp(ctx, bed)
		if err != nil {
			return err
		}
		defer env.close()
		rep.BuildKitVersion = env.buildkitVersion
		if o.parts[partCompose] {
			if rep.Compose, err = benchCompose(ctx, env, o.runs); err != nil {
				return err
			}
			if !rep.Compose.frontendUpstream() {
				verdict = errUpstream
			}
		}
		if o.parts[partBake] {
			if rep.Bake, err = benchBake(ctx, env, root, o.runs); err != nil {
				return err
			}
		}
	}
	if o.parts[partOverhead] {
		if rep.Overhead, err = benchOverhead(ctx, root); err != nil {
			return err
		}
	}

	fmt.Print(rep.Text())
	outDir := o.out
	if !filepath.IsAbs(outDir) {
		outDir = filepath.Join(root, outDir)
	}
	path, err := rep.WriteJSON(outDir, now)
	if err != nil {
		return err
	}
	logf("wrote %s", path)
	if o.markdown != "" {
		if err := rep.UpdateMarkdown(o.markdown); err != nil {
			return err
		}
		logf("wrote %s", o.markdown)
	}
	return verdict
}
