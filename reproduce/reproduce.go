// Package reproduce checks that the image set's digests depend on the
// specs and the lock only. It builds the whole set twice, on two test beds
// that differ in everything that must not matter, and compares every
// platform manifest digest:
//
//   - two clones of the repository at different paths with different origin
//     URLs (one https with credentials, one a local path), so buildx passes
//     different git facts;
//   - build one is a new user's `make demo` in the first clone (buildx bake,
//     registry 127.0.0.1:<port>, packages from <registry>/stagex); build two
//     is buildctl in the second clone, target by target as `buildx bake
//     --print` resolves them, without cache, on another daemon, with another
//     registry host and port (localhost:<port>) and the packages from a
//     mirror path (<registry>/mirror/stagex as STAGEX_REGISTRY);
//   - some seconds apart.
//
// The lock is the same file in both (it is an input). It also checks that
// `make demo` leaves the clone's `git status` clean.
package reproduce

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/bake"
	"edp.buildth.ing/devfw-cicd/stagex/internal/bed"
	"edp.buildth.ing/devfw-cicd/stagex/internal/demo"
	"edp.buildth.ing/devfw-cicd/stagex/internal/frontendimage"
	"edp.buildth.ing/devfw-cicd/stagex/internal/imageset"
	"edp.buildth.ing/devfw-cicd/stagex/internal/offline"
	"edp.buildth.ing/devfw-cicd/stagex/internal/solve"
)

// MinGap is the least wall-clock time between the end of the first build
// and the start of the second, so that a timestamp taken from the clock at
// second resolution cannot come out equal by luck.
const MinGap = 3 * time.Second

// Origins of the two clones: what buildx would pass as vcs:source.
const (
	// OriginWithCredentials is the first clone's origin: an https URL
	// carrying credentials (never to appear anywhere).
	OriginWithCredentials = "https://builder:s3cret-token@git.example.invalid/devfw-cicd/stagex.git"
)

// Options of a check.
type Options struct {
	Root string // the repository; its work tree (committed or not) is what is built
	// Beds are two running beds of the repository's bed folder; each
	// one's RegistryAddr is how its build addresses the registry
	// (127.0.0.1:<port> for the first, localhost:<port> for the second).
	Beds     [2]*bed.Bed
	Buildctl string // the pinned buildctl
	Buildx   string // the pinned buildx (bake --print)
	ToolsBin string // STAGEX_TOOLS_BIN for `make demo`
	Log      io.Writer
}

// Build is one of the two builds.
type Build struct {
	How            string // "make demo (buildx bake)", "buildctl"
	Clone          string // the checkout it ran in
	Origin         string // the clone's origin URL
	Registry       string // REGISTRY prefix the images were pushed to
	StagexRegistry string // where the packages were pulled from
	Images         map[string]string
	Refs           map[string]string // target → pushed index reference
}

// Report is a check's outcome.
type Report struct {
	Builds [2]Build
	Lock   string // STAGEX_LOCK of both builds
	// Targets are the targets compared: the bake file's default group.
	Targets []string
	// Differ are the targets whose platform manifests differ (or that one
	// build lacks).
	Differ []string
	work   string
}

// Close removes the clones.
func (r *Report) Close() error {
	if r == nil || r.work == "" {
		return nil
	}
	return os.RemoveAll(r.work)
}

// Run runs the check. The clones stay until Report.Close, for a rebuild
// from them.
func Run(ctx context.Context, o Options) (rep *Report, err error) {
	logf := func(format string, args ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, "[reproduce] "+format+"\n", args...)
		}
	}
	work, err := os.MkdirTemp("", "stagex-reproduce-")
	if err != nil {
		return nil, err
	}
	rep = &Report{work: work}
	defer func() {
		if err != nil {
			rep.Close()
			rep = nil
		}
	}()
	one := &rep.Builds[0]
	two := &rep.Builds[1]
	one.Clone, one.Origin = filepath.Join(work, "one", "stagex"), OriginWithCredentials
	two.Clone, two.Origin = filepath.Join(work, "two", "src", "fork-of-stagex"), o.Root
	for _, b := range []*Build{one, two} {
		if err := Clone(ctx, o.Root, b.Clone, b.Origin); err != nil {
			return rep, err
		}
	}
	logf("clones: %s (origin %s) and %s (origin %s)", one.Clone, redacted, two.Clone, two.Origin)

	// Build one: a new user's `make demo`, on bed one (shared through
	// BED_DIR, kept up for build two's archive fetch and for rebuilds).
	one.How = "make demo (buildx bake)"
	bedDir := filepath.Join(o.Root, ".cache", "bed")
	start := time.Now()
	mk := exec.CommandContext(ctx, "make", "--no-print-directory", "demo", "DEMO_FLAGS=-bed "+o.Beds[0].Name)
	mk.Dir = one.Clone
	mk.Env = append(os.Environ(), "BED_DIR="+bedDir, "KEEP_BED=1", "STAGEX_TOOLS_BIN="+o.ToolsBin)
	var demoOut bytes.Buffer
	mk.Stdout, mk.Stderr = &demoOut, &demoOut
	logf("build 1: make demo in %s on bed %s", one.Clone, o.Beds[0].Name)
	if err := mk.Run(); err != nil {
		return rep, fmt.Errorf("make demo in %s: %w\n%s", one.Clone, err, solve.TailLines(demoOut.String(), 40))
	}
	if err := demo.CheckOutput(demoOut.Bytes(), filepath.Join(one.Clone, ".cache", "imageset", demo.Work, demo.LogFile)); err != nil {
		return rep, fmt.Errorf("make demo in %s: %w\n%s", one.Clone, err, demoOut.String())
	}
	ended := time.Now()
	logf("build 1 done in %s", ended.Sub(start).Round(time.Second))
	if st, err := gitOutput(ctx, one.Clone, "status", "--porcelain", "--untracked-files=all"); err != nil || len(st) > 0 {
		return rep, fmt.Errorf("make demo left the fresh clone dirty (git status: %q, %v): its output belongs under .cache/", st, err)
	}
	// The set as clone two's bake file declares it (the same work tree).
	set, err := imageset.Read(ctx, o.Buildx, two.Clone)
	if err != nil {
		return rep, err
	}
	rec, err := imageset.ReadRecord(filepath.Join(one.Clone, ".cache", "imageset", demo.Work, imageset.RecordFile))
	if err != nil {
		return rep, err
	}
	rep.Lock, one.StagexRegistry = rec.Lock, rec.StagexRegistry
	one.Images, one.Refs = map[string]string{}, map[string]string{}
	for _, img := range rec.Images {
		// The demo also builds the reference application (from a
		// Dockerfile stage, twice, compared by the demo itself); build two
		// covers the image set, so that is what is compared.
		if !slices.Contains(set.All(), img.Target) {
			continue
		}
		one.Images[img.Target], one.Refs[img.Target] = img.Digest, img.Ref
		one.Registry = imageset.RegistryHost(img.Ref)
	}

	// Build two: buildctl in clone two, on bed two, packages from a mirror
	// path of another registry host and port, the same lock file.
	bed := o.Beds[1]
	two.How = "buildctl"
	two.StagexRegistry = bed.RegistryAddr + "/mirror/stagex"
	two.Registry = bed.RegistryAddr + "/repro"
	lock, err := os.ReadFile(filepath.Join(one.Clone, imageset.SpecDir, filepath.FromSlash(rec.Lock)))
	if err != nil {
		return rep, err
	}
	lockFile := filepath.Join(two.Clone, imageset.SpecDir, filepath.FromSlash(rec.Lock))
	if err := os.MkdirAll(filepath.Dir(lockFile), 0o755); err != nil {
		return rep, err
	}
	if err := os.WriteFile(lockFile, lock, 0o644); err != nil {
		return rep, err
	}
	if err := offline.PushFixtureMirror(ctx, two.Clone, two.StagexRegistry); err != nil {
		return rep, err
	}
	twoWork, err := imageset.WorkDir(two.Clone, "reproduce")
	if err != nil {
		return rep, err
	}
	binDir := filepath.Join(twoWork, "frontend")
	if err := frontendimage.BuildContext(ctx, two.Clone, binDir); err != nil {
		return rep, err
	}
	overrides, err := imageset.PrebuiltFrontend(two.Clone, binDir)
	if err != nil {
		return rep, err
	}
	// The same fixture overrides as the demo of build one (stand-in
	// packages: check warns, smoke tests "not run: fixture").
	overrides = append(overrides, offline.FixtureSet(set, set.All())...)
	bk := bake.Bake{Root: two.Clone, File: imageset.BakeFile, Set: overrides, Targets: set.All(),
		Vars: map[string]string{"REGISTRY": two.Registry, "STAGEX_LOCK": rec.Lock, "STAGEX_REGISTRY": two.StagexRegistry}}
	def, err := (&bake.Builder{Command: []string{o.Buildx}}).Print(ctx, bk)
	if err != nil {
		return rep, err
	}
	if wait := MinGap - time.Since(ended); wait > 0 {
		time.Sleep(wait)
	}
	logf("build 2: buildctl in %s on bed %s (%s), packages from %s, no cache, %s after build 1",
		two.Clone, bed.Name, bed.BuildkitAddr, two.StagexRegistry, time.Since(ended).Round(time.Second))
	start = time.Now()
	var ctlOut bytes.Buffer
	bc := &Buildctl{Path: o.Buildctl, Addr: bed.BuildkitAddr, Root: two.Clone, Push: true, NoCache: true, Output: &ctlOut}
	results, err := bc.Run(ctx, def.Targets)
	if err != nil {
		return rep, fmt.Errorf("%w\n%s", err, solve.TailLines(ctlOut.String(), 40))
	}
	imgs, err := imageset.InspectAll(ctx, set.All(), results)
	if err != nil {
		return rep, err
	}
	logf("build 2 done in %s", time.Since(start).Round(time.Second))
	two.Images, two.Refs = map[string]string{}, map[string]string{}
	for _, img := range imgs {
		two.Images[img.Target], two.Refs[img.Target] = img.Digest, img.Ref
	}
	rep.Targets = set.All()
	for _, t := range rep.Targets {
		if a, b := one.Images[t], two.Images[t]; a == "" || a != b {
			rep.Differ = append(rep.Differ, t)
		}
	}
	return rep, nil
}

// redacted stands for the credentials-carrying origin in messages.
const redacted = "https://…@git.example.invalid/devfw-cicd/stagex.git"

// Clone clones the repository at root into dst with the given origin URL,
// carrying over the work tree's changes (tracked and untracked, not
// ignored), committed in the clone with a fixed author and date: two clones
// of the same work tree get the same commit, and `git status` is clean.
func Clone(ctx context.Context, root, dst, origin string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if _, err := gitOutput(ctx, "", "clone", "--quiet", "--no-hardlinks", root, dst); err != nil {
		return err
	}
	files, err := gitOutput(ctx, root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	if err != nil {
		return err
	}
	for _, f := range strings.Split(strings.TrimRight(files, "\x00"), "\x00") {
		if f == "" {
			continue
		}
		if err := copyFile(filepath.Join(root, f), filepath.Join(dst, f)); err != nil {
			return err
		}
	}
	if _, err := gitOutput(ctx, dst, "add", "--all"); err != nil {
		return err
	}
	if st, err := gitOutput(ctx, dst, "status", "--porcelain"); err != nil {
		return err
	} else if st != "" {
		if _, err := gitOutput(ctx, dst, "-c", "user.name=stagex reproduce", "-c", "user.email=reproduce@stagex.invalid",
			"commit", "--quiet", "--no-verify", "--date=2000-01-01T00:00:00Z", "-m", "the work tree under test"); err != nil {
			return err
		}
	}
	_, err = gitOutput(ctx, dst, "remote", "set-url", "origin", origin)
	return err
}

// copyFile copies a file (or re-creates a symlink), with its mode; a file
// deleted from the work tree is deleted in the copy.
func copyFile(src, dst string) error {
	fi, err := os.Lstat(src)
	if os.IsNotExist(err) {
		return os.RemoveAll(dst)
	}
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		os.Remove(dst)
		return os.Symlink(target, dst)
	}
	if !fi.Mode().IsRegular() {
		return nil // a submodule or the like: left as cloned
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, fi.Mode().Perm())
}

func gitOutput(ctx context.Context, dir string, args ...string) (string, error) {
	if dir != "" {
		args = append([]string{"-C", dir}, args...)
	}
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Env = append(os.Environ(), "GIT_COMMITTER_DATE=2000-01-01T00:00:00Z", "GIT_CONFIG_NOSYSTEM=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}
