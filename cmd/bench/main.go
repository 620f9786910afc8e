// Command bench runs the benchmarks of package internal/bench: on a bed of
// its own (-bed NAME: started, and taken down again whatever happens), or
// on the bed the environment announces.
//
//	make bench                                       # go run ./cmd/bench -bed bench1
//	go run ./cmd/bench -markdown docs/benchmarks.md  # inside a bed's environment
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"edp.buildth.ing/devfw-cicd/stagex/internal/bed"
	"edp.buildth.ing/devfw-cicd/stagex/internal/bench"
)

func main() {
	var o bench.Options
	var parts, sizes, bedName string
	flag.StringVar(&bedName, "bed", "", "start this bed for the run and take it down afterwards (registry ports from $BED_PORT_BASE); empty: the bed of the environment")
	flag.IntVar(&o.Runs, "runs", 3, "builds per variant and cache state (the median is reported)")
	flag.StringVar(&o.Out, "out", ".cache/bench", "folder for the JSON report (relative to the repository root)")
	flag.StringVar(&o.Markdown, "markdown", "", "also write the report into the generated block of this Markdown file")
	flag.StringVar(&parts, "parts", strings.Join(bench.Parts, ","), "parts to run")
	flag.StringVar(&sizes, "sizes", "10,100,256", "core-large payloads of the compose part, in MiB")
	flag.Parse()
	o.Parts = map[string]bool{}
	for _, p := range strings.Split(parts, ",") {
		p = strings.TrimSpace(p)
		switch {
		case p == "":
		case slices.Contains(bench.Parts, p):
			o.Parts[p] = true
		default:
			fail(fmt.Errorf("unknown part %q (want one of %s)", p, strings.Join(bench.Parts, ", ")))
		}
	}
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil || n < 1 {
			fail(fmt.Errorf("-sizes: %q is not a size in MiB", s))
		}
		o.Sizes = append(o.Sizes, n<<20)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, bedName); err != nil {
		stop()
		fail(err)
	}
}

// run measures on the bed named (started here and taken down again, also
// when the run fails or is interrupted), or on the environment's.
func run(ctx context.Context, o bench.Options, bedName string) (err error) {
	if bedName != "" {
		b, err := bed.Up(ctx, bedName, bed.Options{Log: os.Stderr})
		if err != nil {
			return err
		}
		defer func() {
			if downErr := b.Down(); err == nil {
				err = downErr
			}
		}()
		o.Bed = b
	}
	_, err = bench.Run(ctx, o)
	return err
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "bench: %v\n", err)
	os.Exit(1)
}
