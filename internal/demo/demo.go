// Package demo builds the whole image set offline: the same specs and the
// same docker-bake.hcl as a real build, against fixture packages (and a
// fixture JRE) in an embedded BuildKit test bed's registry. Only the lock
// (STAGEX_LOCK), where its packages are pulled from (STAGEX_REGISTRY) and
// the registry pushed to (REGISTRY) are overridden, and the frontend image
// packs a binary built here instead of compiling in pallet-go.
//
// It also builds the reference application (examples/, bake group
// "examples") from source on the base-go it just built, runs it in its
// image, checks its answers, and builds it a second time without cache to
// show the same digest.
//
// What a person reads is a short summary (Summary, on stdout): the images
// with their digests, sizes, layer efficiency and check results, and where
// the digests, the SBOM, the provenance and the full log are. buildx's
// progress goes to the log file only (LogFile under the work folder),
// without terminal escapes.
package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/bake"
	"edp.buildth.ing/devfw-cicd/stagex/internal/imageset"
	"edp.buildth.ing/devfw-cicd/stagex/internal/offline"
)

// Work is the demo's folder under .cache/imageset/ (imageset.WorkDir).
const Work = "demo"

// LogFile is the full progress log, in the work folder.
const LogFile = "demo.log"

// Options of a demo run.
type Options struct {
	Root string // the repository
	Bed  string // the test bed to build on
	// Keep leaves the bed running afterwards.
	Keep bool
	// Show is the image whose SBOM and provenance are written out.
	Show string
	// Progress is buildx's --progress for the log (default plain).
	Progress string
	// Stdout receives the summary; Stderr one line per step, and the log's
	// tail when a step fails.
	Stdout, Stderr io.Writer
}

// Run runs the demo and prints its summary.
func Run(ctx context.Context, o Options) (err error) {
	if os.Geteuid() != 0 {
		return fmt.Errorf("the demo starts an embedded BuildKit (runc, overlayfs) and needs root; try: sudo make demo")
	}
	work, err := imageset.WorkDir(o.Root, Work)
	if err != nil {
		return err
	}
	logPath := filepath.Join(work, LogFile)
	f, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer f.Close()
	log := NewPlainWriter(f)
	r := &runner{o: o, log: log, logPath: logPath}
	defer func() {
		if err != nil {
			r.failed()
		}
	}()
	sum, err := r.run(ctx, work)
	if err != nil {
		return err
	}
	sum.Log = r.rel(logPath)
	return WriteSummary(o.Stdout, sum)
}

type runner struct {
	o       Options
	log     io.Writer
	logPath string
}

// step says what the demo does now, on stderr and in the log.
func (r *runner) step(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	fmt.Fprintf(r.o.Stderr, "demo: %s\n", msg)
	fmt.Fprintf(r.log, "\n==> %s\n", msg)
}

// failed shows the end of the log, where buildx's error is.
func (r *runner) failed() {
	data, err := os.ReadFile(r.logPath)
	if err != nil {
		return
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	fmt.Fprintf(r.o.Stderr, "demo: the last lines of the log %s:\n%s\n", r.rel(r.logPath), strings.Join(lines, "\n"))
}

// rel is p relative to the repository, as a person types it.
func (r *runner) rel(p string) string {
	if rel, err := filepath.Rel(r.o.Root, p); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return p
}

func (r *runner) run(ctx context.Context, work string) (_ *Summary, err error) {
	o := r.o
	r.step("log: %s", r.rel(r.logPath))
	bin, err := imageset.Buildx(ctx, o.Root, r.log)
	if err != nil {
		return nil, err
	}
	set, err := imageset.Read(ctx, bin, o.Root)
	if err != nil {
		return nil, err
	}
	show := o.Show
	if !set.IsImage(show) {
		return nil, fmt.Errorf("--show %s: not an image of the set (%s)", show, strings.Join(set.Images, ", "))
	}
	r.step("test bed %q (BuildKit + registry on loopback)", o.Bed)
	b, err := imageset.StartBed(ctx, o.Root, o.Bed, r.log)
	if err != nil {
		return nil, err
	}
	if !o.Keep {
		defer func() {
			if derr := b.Down(); derr != nil && err == nil {
				err = derr
			}
		}()
	}
	env, err := b.Env(ctx)
	if err != nil {
		return nil, err
	}
	builder, err := bake.FromEnv(bin, env)
	if err != nil {
		return nil, err
	}

	r.step("fixture packages, fixture archives and the frontend binary")
	off, err := offline.Prepare(ctx, o.Root, set, b.RegistryAddr, work)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(r.log, "%d fixture packages and %d fixture archive(s) in %s; lock images/%s\n",
		len(off.Fixtures.Set), len(off.Fixtures.Archives), b.RegistryAddr, off.Fixtures.LockPath)

	prefix := b.RegistryAddr + "/devfw-cicd"
	bk := off.Bake(prefix)
	bk.Progress, bk.Output = r.progress(), r.log
	r.step("buildx bake: %d targets (%s)", len(bk.Targets), strings.Join(bk.Targets, " "))
	fmt.Fprintf(r.log, "STAGEX_LOCK=%s STAGEX_REGISTRY=%s REGISTRY=%s\n", off.Fixtures.LockPath, off.Fixtures.Mirror, prefix)
	start := time.Now()
	results, err := builder.Run(ctx, bk)
	if err != nil {
		return nil, err
	}
	imgs, err := imageset.InspectAll(ctx, bk.Targets, results)
	if err != nil {
		return nil, err
	}
	took := time.Since(start).Round(time.Second)

	app, err := r.referenceApp(ctx, work, prefix, off, builder)
	if err != nil {
		return nil, err
	}
	imgs = append(imgs, app.Image)

	info := imageset.DigestsInfo{
		Command: "make demo",
		Notes: []string{
			"**Offline demo build: fixture packages, not StageX, and a fixture JRE, not Temurin.**",
			"These digests describe the fixtures; the tracked DIGESTS.md is written by a release build only.",
		},
		Lock:     fmt.Sprintf("`images/%s`: release %q, registry `%s`, packages from `%s`", off.Fixtures.LockPath, off.Fixtures.Lock.Release, off.Fixtures.Lock.Registry, off.Fixtures.Mirror),
		Epoch:    "0 (the bake file's default)",
		Revision: imageset.Revision(ctx, o.Root),
		Builder:  "embedded BuildKit test bed (hack/bed), buildx remote driver",
	}
	md, record := filepath.Join(work, "DIGESTS.md"), filepath.Join(work, imageset.RecordFile)
	if err := imageset.WriteDigests(md, info, imgs); err != nil {
		return nil, err
	}
	if err := imageset.WriteRecord(record, imageset.NewRecord(off.Fixtures.LockPath, off.Fixtures.Mirror, imgs)); err != nil {
		return nil, err
	}

	sum := &Summary{
		Bed: o.Bed, KeptBed: o.Keep, Registry: prefix, Took: took,
		Images: imgs, StrictImages: offline.FixtureTestImages, App: app,
		Digests: r.rel(md), Record: r.rel(record), Shown: show,
	}
	var shown *imageset.Image
	for _, img := range imgs {
		if img.Target == show {
			shown = img
		}
	}
	ref := prefix + "/" + imageset.Repo(show) + "@" + shown.Index
	for _, part := range []struct {
		title, format string
		into          *Attestation
	}{
		{"sbom", "{{json .SBOM}}", &sum.SBOM},
		{"provenance", "{{json .Provenance}}", &sum.Provenance},
	} {
		fmt.Fprintf(r.log, "\n==> buildx imagetools inspect %s --format '%s'\n", ref, part.format)
		out, err := builder.Imagetools(ctx, ref, part.format)
		if err != nil {
			return nil, err
		}
		file := filepath.Join(work, show+"."+part.title+".json")
		if err := os.WriteFile(file, out, 0o644); err != nil {
			return nil, err
		}
		*part.into = Attestation{File: r.rel(file), About: describeAttestation(out)}
	}
	return sum, nil
}

func (r *runner) progress() string {
	if r.o.Progress != "" {
		return r.o.Progress
	}
	return "plain"
}

// App is what the reference application showed.
type App struct {
	Image   *imageset.Image
	Answers []imageset.AppAnswer
	// Rebuilt is the platform manifest digest of the second build,
	// without cache (the same as Image.Digest, or the demo fails).
	Rebuilt string
}

// referenceApp bakes the reference application (group "examples": built
// from source in base-go, composed on base-static's packages, then run in
// its image and asked on loopback, network none), compares its answers with
// examples/test/expected, builds it a second time without cache and fails
// unless both builds give the same platform manifest digest.
func (r *runner) referenceApp(ctx context.Context, work, prefix string, off *offline.Offline, builder *bake.Builder) (*App, error) {
	testOut := filepath.Join(work, imageset.AppTestTarget)
	if err := os.RemoveAll(testOut); err != nil {
		return nil, err
	}
	app := &App{}
	for _, noCache := range []bool{false, true} {
		bk := off.BakeExamples(prefix, testOut, noCache)
		bk.Progress, bk.Output = r.progress(), r.log
		what := "build it, run it and ask it"
		if noCache {
			what = "build it again, without cache"
		}
		r.step("reference application (examples/): %s", what)
		results, err := builder.Run(ctx, bk)
		if err != nil {
			return nil, err
		}
		img, err := imageset.InspectAll(ctx, []string{imageset.AppTarget}, results)
		if err != nil {
			return nil, err
		}
		if noCache {
			app.Rebuilt = img[0].Digest
			continue
		}
		app.Image = img[0]
		if app.Answers, err = imageset.CheckAppAnswers(r.o.Root, testOut); err != nil {
			return nil, err
		}
	}
	if app.Rebuilt != app.Image.Digest {
		return nil, fmt.Errorf("the reference application is not reproducible: %s, then %s", app.Image.Digest, app.Rebuilt)
	}
	return app, nil
}

// describeAttestation says in a few words what `imagetools inspect
// --format '{{json .SBOM}}'` (or .Provenance) printed: how many packages the
// SPDX document lists, the provenance's build type and materials.
func describeAttestation(out []byte) string {
	var top map[string]json.RawMessage
	if json.Unmarshal(out, &top) != nil || len(top) == 0 {
		return "empty: the image carries no such attestation"
	}
	if raw, ok := top["SPDX"]; ok {
		var doc struct {
			SPDXVersion string            `json:"spdxVersion"`
			Packages    []json.RawMessage `json:"packages"`
			Files       []json.RawMessage `json:"files"`
		}
		if json.Unmarshal(raw, &doc) == nil {
			return fmt.Sprintf("%s, %d packages, %d files", doc.SPDXVersion, len(doc.Packages), len(doc.Files))
		}
	}
	if raw, ok := top["SLSA"]; ok {
		var p struct {
			BuildType       string            `json:"buildType"`
			Materials       []json.RawMessage `json:"materials"`
			BuildDefinition struct {
				BuildType            string            `json:"buildType"`
				ResolvedDependencies []json.RawMessage `json:"resolvedDependencies"`
			} `json:"buildDefinition"`
		}
		if json.Unmarshal(raw, &p) == nil {
			if p.BuildDefinition.BuildType != "" {
				return fmt.Sprintf("SLSA v1, build type %s, %d resolved dependencies", p.BuildDefinition.BuildType, len(p.BuildDefinition.ResolvedDependencies))
			}
			return fmt.Sprintf("SLSA v0.2, build type %s, %d materials", p.BuildType, len(p.Materials))
		}
	}
	return fmt.Sprintf("%d bytes", len(bytes.TrimSpace(out)))
}
