// Command demo builds the whole image set offline: the same specs and the
// same docker-bake.hcl as a real build, against fixture packages (and a
// fixture JRE) in an embedded BuildKit test bed's registry. Only the lock
// (STAGEX_LOCK), where its packages are pulled from (STAGEX_REGISTRY) and
// the registry pushed to (REGISTRY) are overridden, and the frontend image
// packs a binary built here instead of compiling in pallet-go.
//
// It prints the platform manifest digests and writes them under .cache/
// (.cache/imageset/demo/DIGESTS.md and digests.json; never the tracked
// DIGESTS.md, which only a release build writes), then the SBOM and the
// provenance of one image as `buildx imagetools inspect` shows them. It
// also builds the reference application (examples/, bake group "examples")
// from source on the base-go it just built, runs it in its image, checks its
// answers, and builds it a second time without cache to show the same
// digest.
//
//	go run ./hack/demo [-bed demo] [-keep] [-show base-java]
//
// `make demo` runs it. It needs root (the test bed does) and no network.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/hack/imageset"
	"edp.buildth.ing/devfw-cicd/stagex/internal/repo"
)

func main() {
	bedName := flag.String("bed", "demo", "test bed to build on (started, and taken down afterwards unless -keep)")
	keep := flag.Bool("keep", os.Getenv("KEEP_BED") == "1", "leave the bed running afterwards (KEEP_BED=1)")
	show := flag.String("show", "base-java", "image whose SBOM and provenance to show")
	progress := flag.String("progress", "auto", "buildx --progress")
	lines := flag.Int("lines", 40, "show at most this many lines of the SBOM and of the provenance (0: all)")
	flag.Parse()
	if !slices.Contains(imageset.Images, *show) {
		fail("-show %s: not an image of the set (%s)", *show, strings.Join(imageset.Images, ", "))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *bedName, *keep, *show, *progress, *lines); err != nil {
		fail("%v", err)
	}
}

func run(ctx context.Context, bedName string, keep bool, show, progress string, lines int) (err error) {
	root, err := repo.Root()
	if err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("the demo starts an embedded BuildKit (runc, overlayfs) and needs root; try: sudo make demo")
	}
	work, err := imageset.WorkDir(root, imageset.DemoWork)
	if err != nil {
		return err
	}
	step("tools")
	buildx, err := imageset.Buildx(ctx, root, os.Stderr)
	if err != nil {
		return err
	}
	step("test bed %q (BuildKit + registry on loopback)", bedName)
	bed, err := imageset.StartBed(ctx, root, bedName, os.Stderr)
	if err != nil {
		return err
	}
	if keep {
		defer fmt.Fprintf(os.Stderr, "[demo] the bed is still up (-keep): eval \"$(hack/bed env %s)\"; stop it with: make bed-down BED=%s\n", bedName, bedName)
	} else {
		defer func() {
			if derr := bed.Down(); derr != nil && err == nil {
				err = derr
			}
		}()
	}

	step("fixture packages, fixture JRE and frontend binary")
	off, err := imageset.PrepareOffline(ctx, root, bed.RegistryAddr, work)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "[demo] %d fixture packages and %d fixture archive(s) in %s; lock images/%s\n",
		len(off.Fixtures.Set), len(off.Fixtures.Archives), bed.RegistryAddr, off.Fixtures.LockPath)
	builder, err := imageset.RemoteBuilder(ctx, buildx, filepath.Join(work, "buildx"), "stagex-demo", bed.BuildkitAddr)
	if err != nil {
		return err
	}

	prefix := bed.RegistryAddr + "/devfw-cicd"
	bk := off.Bake(prefix)
	bk.Progress, bk.Output = progress, os.Stderr
	step("docker buildx bake: %d targets, STAGEX_LOCK=%s STAGEX_REGISTRY=%s REGISTRY=%s", len(bk.Targets), off.Fixtures.LockPath, off.Fixtures.Mirror, prefix)
	start := time.Now()
	results, err := builder.Run(ctx, bk)
	if err != nil {
		return err
	}
	imgs, err := imageset.InspectAll(ctx, bk.Targets, results)
	if err != nil {
		return err
	}
	step("built in %s", time.Since(start).Round(time.Second))

	app, err := referenceApp(ctx, root, work, prefix, progress, off, builder)
	if err != nil {
		return err
	}
	imgs = append(imgs, app)
	step("the images (fixture packages, NOT StageX):")
	if err := imageset.WriteTable(os.Stdout, imgs); err != nil {
		return err
	}
	step("build-time check and smoke tests, from each image's check attestation: %s are checked strictly and run their tests; the others' packages are stand-ins (check warns, tests not run: fixture)",
		strings.Join(imageset.FixtureTestImages, ", "))
	if err := imageset.WriteCheckTable(os.Stdout, imgs); err != nil {
		return err
	}
	info := imageset.DigestsInfo{
		Command: "make demo",
		Notes: []string{
			"**Offline demo build: fixture packages, not StageX, and a fixture JRE, not Temurin.**",
			"These digests describe the fixtures; the tracked DIGESTS.md is written by a release build only.",
		},
		Lock:     fmt.Sprintf("`images/%s`: release %q, registry `%s`, packages from `%s`", off.Fixtures.LockPath, off.Fixtures.Lock.Release, off.Fixtures.Lock.Registry, off.Fixtures.Mirror),
		Epoch:    "0 (the bake file's default)",
		Revision: imageset.Revision(ctx, root),
		Builder:  "embedded BuildKit test bed (hack/bed), buildx remote driver",
	}
	md, record := filepath.Join(work, "DIGESTS.md"), filepath.Join(work, imageset.RecordFile)
	if err := imageset.WriteDigests(md, info, imgs); err != nil {
		return err
	}
	if err := imageset.WriteRecord(record, imageset.NewRecord(off.Fixtures.LockPath, off.Fixtures.Mirror, imgs)); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "[demo] wrote %s and %s\n", md, record)

	var shown *imageset.Image
	for _, img := range imgs {
		if img.Target == show {
			shown = img
		}
	}
	ref := prefix + "/" + imageset.Repo(show) + "@" + shown.Index
	for _, part := range []struct{ title, format string }{
		{"SBOM", "{{json .SBOM}}"},
		{"provenance", "{{json .Provenance}}"},
	} {
		step("%s of %s: buildx imagetools inspect %s --format '%s'", part.title, imageset.Repo(show), ref, part.format)
		out, err := builder.Imagetools(ctx, ref, part.format)
		if err != nil {
			return err
		}
		file := filepath.Join(work, show+"."+strings.ToLower(part.title)+".json")
		if err := os.WriteFile(file, out, 0o644); err != nil {
			return err
		}
		printHead(out, lines, file)
	}
	return nil
}

// referenceApp bakes the reference application (group "examples": built
// from source in base-go, composed on base-static's packages, then run in
// its image and asked on loopback, network none), compares its answers with
// examples/test/expected, builds it a second time without cache and fails
// unless both builds give the same platform manifest digest.
func referenceApp(ctx context.Context, root, work, prefix, progress string, off *imageset.Offline, builder *imageset.Builder) (*imageset.Image, error) {
	testOut := filepath.Join(work, imageset.AppTestTarget)
	if err := os.RemoveAll(testOut); err != nil {
		return nil, err
	}
	var builds []*imageset.Image
	for i, noCache := range []bool{false, true} {
		bk := off.BakeExamples(prefix, testOut, noCache)
		bk.Progress, bk.Output = progress, os.Stderr
		what := "build, run and ask it"
		if noCache {
			what = "second build, without cache"
		}
		step("reference application (examples/), %s: buildx bake %s", what, strings.Join(bk.Targets, " "))
		results, err := builder.Run(ctx, bk)
		if err != nil {
			return nil, err
		}
		img, err := imageset.InspectAll(ctx, []string{imageset.AppTarget}, results)
		if err != nil {
			return nil, err
		}
		builds = append(builds, img[0])
		if i > 0 {
			continue
		}
		answers, err := imageset.CheckAppAnswers(root, testOut)
		for _, a := range answers {
			fmt.Printf("%s answered %s: %s\n", imageset.Repo(imageset.AppTarget), a.File, a.Got)
		}
		if err != nil {
			return nil, err
		}
		fmt.Printf("the answers are examples/test/expected's\n")
	}
	if differ := imageset.Compare(builds[:1], builds[1:]); len(differ) > 0 {
		return nil, fmt.Errorf("the reference application is not reproducible: %s, then %s", builds[0].Digest, builds[1].Digest)
	}
	fmt.Printf("%s: %s in both builds\n", imageset.Repo(imageset.AppTarget), builds[0].Digest)
	return builds[0], nil
}

// printHead prints the first n lines of out, and where the rest is.
func printHead(out []byte, n int, file string) {
	ls := bytes.Split(bytes.TrimRight(out, "\n"), []byte("\n"))
	if len(ls) == 1 && len(ls[0]) <= 2 {
		fmt.Printf("%s   (empty: the image carries no such attestation)\n", ls[0])
		return
	}
	if n <= 0 || len(ls) <= n {
		os.Stdout.Write(append(bytes.Join(ls, []byte("\n")), '\n'))
		return
	}
	os.Stdout.Write(append(bytes.Join(ls[:n], []byte("\n")), '\n'))
	fmt.Printf("… %d more lines: %s\n", len(ls)-n, file)
}

func step(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "\n==> "+format+"\n", args...)
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "demo: "+format+"\n", args...)
	os.Exit(1)
}
