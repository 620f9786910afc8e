package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"edp.buildth.ing/devfw-cicd/stagex/internal/bed"
	"edp.buildth.ing/devfw-cicd/stagex/internal/fixtures"
	"edp.buildth.ing/devfw-cicd/stagex/internal/frontendimage"
	"edp.buildth.ing/devfw-cicd/stagex/internal/repo"
	"edp.buildth.ing/devfw-cicd/stagex/spec"
)

const bedUsage = `usage:
  stagex bed up     NAME   start the bed (a running one is left alone)
  stagex bed down   NAME   stop it, unmount leftovers, remove its state (--keep or KEEP=1 keeps it)
  stagex bed env    NAME   print export lines: STAGEX_BUILDKIT_ADDR, STAGEX_REGISTRY_ADDR,
                           BUILDKIT_HOST (buildctl), BUILDX_CONFIG and BUILDX_BUILDER (buildx,
                           a remote-driver builder for the bed), PATH with the pinned tools
  stagex bed status NAME   tell whether the bed runs (exit 0) or not (exit 1)
  stagex bed fixtures NAME [--lock FILE] [--extra PKG,…] [--large]
                           push the fixture packages (StageX-shaped test images, NOT
                           StageX) and the frontend image (built from this checkout) to
                           the bed's registry, write the lock that pins the packages to
                           FILE (default ./stagex.lock.yaml: put it beside your spec), and
                           print the frontend image's reference for "# syntax=" or
                           BUILDKIT_SYNTAX

A bed is an embedded buildkitd (OCI worker, runc, overlayfs; needs root) and a
registry, both on loopback, with its state in ${BED_DIR:-<repo>/.cache/bed}/NAME.
Environment: BED_DIR, BED_PORT_BASE (first registry port, default 5000),
BED_TIMEOUT (seconds per service, default 60), STAGEX_TOOLS_BIN (the pinned
binaries; default: what hack/tools.sh builds), KEEP=1.
See docs/development.md.
`

func runBed(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, bedUsage)
		return &exitError{code: 2}
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, bedUsage)
		return nil
	}
	cmd := args[0]
	fs := flag.NewFlagSet("stagex bed "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, bedUsage) }
	keep := fs.Bool("keep", os.Getenv(bed.EnvKeep) == "1", "down: keep the state folder")
	lockFile := fs.String("lock", spec.DefaultLockFile, "fixtures: the lock to write")
	extra := fs.String("extra", "", "fixtures: further package names to generate (comma-separated)")
	large := fs.Bool("large", false, "fixtures: also core-large (200 MiB of seeded random data)")
	// Flags may come before or after NAME.
	if err := fs.Parse(args[1:]); err != nil {
		return &exitError{code: 2}
	}
	var names []string
	for fs.NArg() > 0 {
		names = append(names, fs.Arg(0))
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return &exitError{code: 2}
		}
	}
	if len(names) != 1 {
		fmt.Fprint(stderr, bedUsage)
		return &exitError{code: 2, msg: fmt.Sprintf("bed %s: want one bed NAME", cmd)}
	}
	name := names[0]
	opts := bed.Options{Keep: *keep, Log: stderr}
	switch cmd {
	case "up":
		_, err := bed.Up(ctx, name, opts)
		return err
	case "down", "env", "status", "fixtures":
	default:
		fmt.Fprint(stderr, bedUsage)
		return &exitError{code: 2, msg: fmt.Sprintf("unknown bed command %q", cmd)}
	}
	b, err := bed.Open(name, opts)
	if err != nil {
		return err
	}
	switch cmd {
	case "down":
		return b.Down()
	case "env":
		env, err := b.Env(ctx)
		if err != nil {
			return err
		}
		return bed.WriteExports(stdout, env)
	case "fixtures":
		fo := fixtures.Options{Large: *large}
		for _, n := range strings.Split(*extra, ",") {
			if n = strings.TrimSpace(n); n != "" {
				fo.Extra = append(fo.Extra, n)
			}
		}
		return bedFixtures(ctx, b, fo, *lockFile, stdout, stderr)
	default: // status
		st := b.Status()
		if _, err := st.WriteTo(stdout); err != nil {
			return err
		}
		if !st.Up() {
			return &exitError{code: 1}
		}
		return nil
	}
}

// bedFixtures pushes the fixture packages and the frontend image to the
// bed's registry, writes the lock and prints the frontend reference.
func bedFixtures(ctx context.Context, b *bed.Bed, opts fixtures.Options, lockFile string, stdout, stderr io.Writer) error {
	if !b.Status().Up() {
		return fmt.Errorf("bed %s is not up; run: hack/bed up %s", b.Name, b.Name)
	}
	root, err := repo.Root()
	if err != nil {
		return err
	}
	set, err := fixtures.Setup(ctx, b.RegistryAddr, opts)
	if err != nil {
		return fmt.Errorf("fixtures: %w", err)
	}
	fmt.Fprintf(stderr, "[bed %s] %d fixture packages pushed to %s/%s\n", b.Name, len(set), b.RegistryAddr, fixtures.RepoPrefix)
	if err := os.MkdirAll(filepath.Dir(lockFile), 0o755); err != nil {
		return err
	}
	if err := fixtures.WriteLock(lockFile, b.RegistryAddr, set); err != nil {
		return fmt.Errorf("write lock: %w", err)
	}
	fmt.Fprintf(stderr, "[bed %s] lock written to %s (fixture packages, NOT StageX)\n", b.Name, lockFile)
	c, err := b.Client(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	work, err := os.MkdirTemp("", "stagex-bed-frontend-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	ref, err := frontendimage.BuildAndPush(ctx, c, root, work, b.RegistryAddr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "[bed %s] frontend image pushed; put it in your spec's first line: # syntax=%s\n", b.Name, ref)
	_, err = fmt.Fprintln(stdout, ref)
	return err
}
