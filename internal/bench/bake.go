package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/bake"
	"edp.buildth.ing/devfw-cicd/stagex/internal/imageset"
	"edp.buildth.ing/devfw-cicd/stagex/internal/offline"
	"edp.buildth.ing/devfw-cicd/stagex/internal/solve"
)

// metadataProvenanceOff is the buildx setting that leaves the provenance
// out of the metadata file (buildx v0.38.2: BUILDX_METADATA_PROVENANCE).
const metadataProvenanceOff = "BUILDX_METADATA_PROVENANCE=disabled"

// benchBake measures `buildx bake` of the whole image set against the
// fixtures, the way `make demo` runs it (package offline: fixture packages
// and archives, a fixture lock, the frontend packed from a local binary),
// on the bed's own buildx builder, runs times cold (cache pruned) and warm
// (again right after).
//
// The last warm bake's progress stream (buildx --progress=rawjson, every
// vertex and sub-step with its times) is kept in progressFile, the trace
// behind the bake's timeline table.
func benchBake(ctx context.Context, env *benchEnv, root string, runs int, progressFile string) (*BakeReport, error) {
	bin, err := imageset.Buildx(ctx, root, os.Stderr)
	if err != nil {
		return nil, err
	}
	work, err := imageset.WorkDir(root, "bench")
	if err != nil {
		return nil, err
	}
	bedEnv, err := env.bed.Env(ctx)
	if err != nil {
		return nil, err
	}
	b, err := bake.FromEnv(bin, bedEnv)
	if err != nil {
		return nil, err
	}
	// bake.Builder.Run passes --metadata-file (for the digests), and with
	// one buildx also fetches every target's provenance from the daemon
	// after its export ("resolving provenance for metadata file"), work a
	// user's `docker buildx bake` without --metadata-file never does. The
	// bench's bakes skip it, so that they time what a user waits for.
	b.Env = append(slices.Clone(b.Env), metadataProvenanceOff)
	set, err := imageset.Load(ctx, b, root)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	off, err := offline.Prepare(ctx, root, set, env.bed.RegistryAddr, work)
	if err != nil {
		return nil, fmt.Errorf("bake fixtures: %w", err)
	}
	// The fixture lock is this bed's alone (named after its registry).
	defer os.Remove(off.Fixtures.LockFile)
	logf("bake: fixtures for the image set pushed in %s", since(start))

	rep := &BakeReport{}
	for i := 1; i <= runs; i++ {
		if err := env.prune(ctx); err != nil {
			return nil, err
		}
		for _, cache := range []string{cacheCold, cacheWarm} {
			bk := off.Bake(env.bed.Ref("bench-bake"))
			bk.Vars["TAG"] = fmt.Sprintf("%s-%d", cache, i)
			var out bytes.Buffer
			bk.Output = &out
			last := cache == cacheWarm && i == runs
			if last {
				bk.Progress = "rawjson" // for the timeline
			}
			start := time.Now()
			res, err := b.Run(ctx, bk)
			d := time.Since(start)
			if err != nil {
				return nil, fmt.Errorf("bake, %s run %d: %w\n--- buildx output (tail) ---\n%s", cache, i, err, solve.TailLines(out.String(), 40))
			}
			if last {
				if err := os.WriteFile(progressFile, out.Bytes(), 0o644); err != nil {
					return nil, err
				}
				logf("bake: the last warm bake's progress stream is in %s", progressFile)
				rec := &recorder{start: start}
				if err := rec.readJSON(&out); err != nil {
					return nil, fmt.Errorf("bake progress: %w", err)
				}
				rep.WarmTimeline = rec.timeline(d, env.bed.RegistryAddr)
			}
			targets := make([]string, 0, len(res))
			for t := range res {
				targets = append(targets, t)
			}
			slices.Sort(targets)
			rep.Targets = targets
			secs := round3(d.Seconds())
			if cache == cacheCold {
				rep.Cold = append(rep.Cold, secs)
			} else {
				rep.Warm = append(rep.Warm, secs)
			}
			logf("bake  %-5s run %d/%d: %6.2fs  %d targets", cache, i, runs, secs, len(targets))
		}
	}
	rep.summarize()
	return rep, nil
}
