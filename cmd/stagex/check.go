package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/check"
	"github.com/containerd/platforms"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

const checkUsage = `usage: stagex check [--format table|json] [--spec SPEC] [--no-shell] [--platform OS/ARCH] [--timeout D] IMAGE

Checks that the image can run: the ELF closure as musl's loader resolves it,
the layers' efficiency and the image's hygiene. Exits 1 when an error is not
accepted, 2 when the image or the spec cannot be read.

`

func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("check", stderr)
	fs.Usage = func() { fmt.Fprint(stderr, checkUsage+check.SourceHelp+"\n\nflags:\n"); fs.PrintDefaults() }
	format := fs.String("format", "table", "output: table or json")
	specFile := fs.String("spec", "", "the image's spec: its check.accept entries are accepted, and a static image must have no shell")
	noShell := fs.Bool("no-shell", false, "fail on any shell in the image")
	platform := fs.String("platform", "linux/"+runtime.GOARCH, "the platform to pick from an index")
	timeout := fs.Duration("timeout", 10*time.Minute, "limit on reading the image")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || (*format != "table" && *format != "json") {
		fs.Usage()
		return &exitError{code: 2, msg: "check needs exactly one IMAGE and --format table or json"}
	}
	p, err := platforms.Parse(*platform)
	if err != nil {
		return &exitError{code: 2, msg: fmt.Sprintf("--platform %s: %v", *platform, err)}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	r, err := check.CheckImage(ctx, check.ImageRequest{
		Source:   pos[0],
		Platform: v1.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant},
		SpecFile: *specFile,
		NoShell:  *noShell,
	}, remoteOptions(ctx)...)
	if err != nil {
		return &exitError{code: 2, msg: err.Error()}
	}
	if *format == "json" {
		err = r.WriteJSON(stdout)
	} else {
		err = r.WriteTable(stdout)
	}
	if err != nil {
		return err
	}
	if r.Failed() {
		return &exitError{code: 1, msg: fmt.Sprintf("%s: the check failed (%d errors)", pos[0], r.Summary["error"])}
	}
	return nil
}
