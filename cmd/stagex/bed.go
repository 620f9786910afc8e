package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"edp.buildth.ing/devfw-cicd/stagex/internal/bed"
)

const bedUsage = `usage:
  stagex bed up     NAME   start the bed (a running one is left alone)
  stagex bed down   NAME   stop it, unmount leftovers, remove its state (--keep or KEEP=1 keeps it)
  stagex bed env    NAME   print export lines: STAGEX_BUILDKIT_ADDR, STAGEX_REGISTRY_ADDR,
                           BUILDKIT_HOST (buildctl), BUILDX_CONFIG and BUILDX_BUILDER (buildx,
                           a remote-driver builder for the bed), PATH with the pinned tools
  stagex bed status NAME   tell whether the bed runs (exit 0) or not (exit 1)

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
	if err := fs.Parse(args[1:]); err != nil {
		return &exitError{code: 2}
	}
	if fs.NArg() != 1 {
		fmt.Fprint(stderr, bedUsage)
		return &exitError{code: 2, msg: fmt.Sprintf("bed %s: want one bed NAME", cmd)}
	}
	name := fs.Arg(0)
	opts := bed.Options{Keep: *keep, Log: stderr}
	switch cmd {
	case "up":
		_, err := bed.Up(ctx, name, opts)
		return err
	case "down", "env", "status":
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
