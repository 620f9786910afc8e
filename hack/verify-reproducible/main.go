// Command verify-reproducible builds the whole image set twice, on two
// independent BuildKit daemons with separate state, one after the other
// (so at different wall-clock times), without cache, against the same
// fixture packages, and compares every platform manifest digest. It exits
// 1 on any difference, naming the image.
//
//	go run ./hack/verify-reproducible
//
// With STAGEX_BUILDKIT_ADDR, STAGEX_BUILDKIT_ADDR_2 and STAGEX_REGISTRY_ADDR
// set (hack/test-integration sets them for beds a and b) it uses those two
// daemons and the first bed's registry; otherwise it starts two beds of its
// own (-beds repro1,repro2) and takes them down afterwards. Both builds read
// the fixtures from one registry: the registry address is part of every
// image's history, so it is an input like the lock.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/hack/imageset"
	"edp.buildth.ing/devfw-cicd/stagex/integration/testbed"
)

// minGap is the least wall-clock time between the end of the first build
// and the start of the second, so that a timestamp taken from the clock at
// second resolution cannot come out equal by luck.
const minGap = 2 * time.Second

func main() {
	beds := flag.String("beds", "repro1,repro2", "beds to start when the environment names none")
	progress := flag.String("progress", "quiet", "buildx --progress")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	differ, err := run(ctx, strings.Split(*beds, ","), *progress)
	if err != nil {
		fmt.Fprintf(os.Stderr, "verify-reproducible: %v\n", err)
		os.Exit(2)
	}
	if len(differ) > 0 {
		fmt.Fprintf(os.Stderr, "verify-reproducible: NOT reproducible: %s\n", strings.Join(differ, ", "))
		os.Exit(1)
	}
}

type daemon struct {
	name, addr string
}

func run(ctx context.Context, bedNames []string, progress string) (differ []string, err error) {
	root, err := testbed.RepoRoot()
	if err != nil {
		return nil, err
	}
	work, err := imageset.WorkDir(root, "verify-reproducible")
	if err != nil {
		return nil, err
	}
	buildx, err := imageset.Buildx(ctx, root, os.Stderr)
	if err != nil {
		return nil, err
	}

	var daemons []daemon
	registry := os.Getenv("STAGEX_REGISTRY_ADDR")
	if a, b := os.Getenv("STAGEX_BUILDKIT_ADDR"), os.Getenv("STAGEX_BUILDKIT_ADDR_2"); a != "" && b != "" && registry != "" {
		daemons = []daemon{{"a", a}, {"b", b}}
		logf("daemons from the environment: %s and %s; fixtures in %s", a, b, registry)
	} else {
		if len(bedNames) != 2 {
			return nil, fmt.Errorf("-beds: want two names, got %q", bedNames)
		}
		for _, n := range bedNames {
			bed, err := imageset.StartBed(ctx, root, n, os.Stderr)
			if err != nil {
				return nil, err
			}
			defer func() {
				if derr := bed.Stop(root, os.Stderr); derr != nil && err == nil {
					err = derr
				}
			}()
			daemons = append(daemons, daemon{n, bed.BuildkitAddr})
			if registry == "" {
				registry = bed.RegistryAddr
			}
		}
		logf("started beds %s; fixtures in %s", strings.Join(bedNames, " and "), registry)
	}
	if daemons[0].addr == daemons[1].addr {
		return nil, fmt.Errorf("both builds would run on %s: two independent daemons are needed", daemons[0].addr)
	}

	off, err := imageset.PrepareOffline(ctx, root, registry, work)
	if err != nil {
		return nil, err
	}
	var runs [2][]*imageset.Image
	var ended time.Time
	for i, d := range daemons {
		if i > 0 {
			if wait := minGap - time.Since(ended); wait > 0 {
				time.Sleep(wait)
			}
		}
		builder, err := imageset.RemoteBuilder(ctx, buildx, filepath.Join(work, "buildx-"+d.name), "stagex-repro-"+d.name, d.addr)
		if err != nil {
			return nil, err
		}
		bk := off.Bake(registry + "/repro-" + d.name)
		bk.NoCache, bk.Progress, bk.Output = true, progress, os.Stderr
		start := time.Now()
		logf("build %d of 2 on daemon %s (%s), no cache", i+1, d.name, d.addr)
		results, err := builder.Run(ctx, bk)
		if err != nil {
			return nil, err
		}
		ended = time.Now()
		if runs[i], err = imageset.InspectAll(ctx, bk.Targets, results); err != nil {
			return nil, err
		}
		logf("build %d done in %s", i+1, ended.Sub(start).Round(time.Second))
	}

	differ = imageset.Compare(runs[0], runs[1])
	second := map[string]string{}
	for _, img := range runs[1] {
		second[img.Target] = img.Digest
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "IMAGE\tPLATFORM MANIFEST (daemon %s)\tDAEMON %s\n", daemons[0].name, daemons[1].name)
	for _, a := range runs[0] {
		verdict := "same"
		if slices.Contains(differ, a.Target) {
			verdict = "DIFFERS: " + second[a.Target]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", imageset.Repo(a.Target), a.Digest, verdict)
	}
	if err := tw.Flush(); err != nil {
		return nil, err
	}
	for i, t := range differ {
		differ[i] = imageset.Repo(t)
	}
	if len(differ) == 0 {
		logf("all %d platform manifests are the same on both daemons", len(runs[0]))
	}
	return differ, nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[verify-reproducible] "+format+"\n", args...)
}
