// Command frontend is the StageX BuildKit frontend. BuildKit runs it from the
// frontend image when a spec's first line is "# syntax=<frontend image>".
//
// With STAGEX_CHECK on, the frontend also runs this binary, from its own
// image, inside containers of the build (hidden modes, not for users):
//
//	frontend check --root DIR --layers DIR --job FILE --out FILE
//	frontend test-run --user USER --out FILE -- PROGRAM [ARG...]
//
// and, to read the packages' files while it composes, in an exec on them:
//
//	frontend facts --root DIR --out FILE [--dir PATH]... [--file PATH]...
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"edp.buildth.ing/devfw-cicd/stagex/frontend"
	"github.com/moby/buildkit/frontend/gateway/grpcclient"
	"github.com/moby/buildkit/util/appcontext"
)

func main() {
	if len(os.Args) > 1 {
		if err := runMode(appcontext.Context(), os.Args[1], os.Args[2:]); err != nil {
			fmt.Fprintf(os.Stderr, "stagex frontend %s: %v\n", os.Args[1], err)
			os.Exit(1)
		}
		return
	}
	if err := grpcclient.RunFromEnvironment(appcontext.Context(), frontend.Build); err != nil {
		fmt.Fprintf(os.Stderr, "stagex frontend: %v\n", err)
		os.Exit(1)
	}
}

// runMode runs one of the hidden modes the frontend runs in containers of
// the build.
func runMode(ctx context.Context, mode string, args []string) error {
	fs := flag.NewFlagSet(mode, flag.ContinueOnError)
	switch mode {
	case "check":
		root := fs.String("root", "", "the merged rootfs")
		layers := fs.String("layers", "", "the folder holding each merge input as 0, 1, …")
		job := fs.String("job", "", "the check job (JSON)")
		out := fs.String("out", "", "the report to write (JSON)")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if *root == "" || *layers == "" || *job == "" || *out == "" || fs.NArg() > 0 {
			return fmt.Errorf("usage: frontend check --root DIR --layers DIR --job FILE --out FILE")
		}
		return frontend.RunCheckJob(*root, *layers, *job, *out)
	case "test-run":
		user := fs.String("user", "", "the image's config user")
		out := fs.String("out", "", "the result to write (JSON)")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if *out == "" || fs.NArg() == 0 {
			return fmt.Errorf("usage: frontend test-run --user USER --out FILE -- PROGRAM [ARG...]")
		}
		return frontend.RunTest(ctx, *user, *out, fs.Args())
	case "facts":
		root := fs.String("root", "", "the packages merged")
		out := fs.String("out", "", "the facts to write (JSON)")
		var dirs, files []string
		fs.Func("dir", "a folder to list (repeatable)", func(v string) error { dirs = append(dirs, v); return nil })
		fs.Func("file", "a file to read (repeatable)", func(v string) error { files = append(files, v); return nil })
		if err := fs.Parse(args); err != nil {
			return err
		}
		if *root == "" || *out == "" || fs.NArg() > 0 {
			return fmt.Errorf("usage: frontend facts --root DIR --out FILE [--dir PATH]... [--file PATH]...")
		}
		return frontend.RunFacts(*root, *out, dirs, files)
	}
	return fmt.Errorf("unknown mode %q (the frontend takes no arguments when BuildKit runs it)", mode)
}
