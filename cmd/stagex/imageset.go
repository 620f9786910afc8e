package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"edp.buildth.ing/devfw-cicd/stagex/internal/demo"
	"edp.buildth.ing/devfw-cicd/stagex/internal/images"
	"edp.buildth.ing/devfw-cicd/stagex/internal/repo"
	"edp.buildth.ing/devfw-cicd/stagex/reproduce"
)

const imagesUsage = `usage: stagex images [--bed NAME] [--digests FILE] [--push] [--progress MODE] [TARGET…]

Builds the image set with docker-bake.hcl (the default group, or the targets
named) on your buildx builder, or on the embedded BuildKit of test bed NAME
when you have none, and prints image, platform manifest digest, size, layers
and attestations. --digests writes DIGESTS.md for a whole build. Exit 3: the
package registry cannot be reached (nothing was built). make images runs it.
`

// exitUnreachable is the exit status when the package registry cannot be
// reached, so scripts can tell it from a failed build.
const exitUnreachable = 3

func runImages(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("images", stderr)
	fs.Usage = func() { fmt.Fprint(stderr, imagesUsage); fs.PrintDefaults() }
	o := images.Options{Stdout: stdout, Stderr: stderr}
	fs.StringVar(&o.Bed, "bed", "images", "test bed to build on when you have no buildx builder")
	fs.StringVar(&o.Digests, "digests", "", "write this DIGESTS.md from the build")
	fs.BoolVar(&o.Push, "push", os.Getenv("PUSH") == "1", "push to $REGISTRY from your buildx builder (PUSH=1)")
	fs.StringVar(&o.Progress, "progress", "auto", "buildx --progress")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	o.Targets = pos
	if o.Root, err = repo.Root(); err != nil {
		return err
	}
	err = images.Run(ctx, o)
	var u *images.Unreachable
	if errors.As(err, &u) {
		fmt.Fprint(stderr, u.Msg)
		return &exitError{code: exitUnreachable}
	}
	return err
}

const demoUsage = `usage: stagex demo [--bed NAME] [--keep] [--show IMAGE] [--progress MODE]

Builds the image set offline, against fixture packages, on test bed NAME
(started, and taken down afterwards unless --keep), with the reference
application, and prints a short summary: digests, sizes, layer efficiency,
check results, and where the SBOM, the provenance, the digests and the full
progress log (.cache/imageset/demo/demo.log) are. Needs root, no network.
make demo runs it.
`

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", stderr)
	fs.Usage = func() { fmt.Fprint(stderr, demoUsage); fs.PrintDefaults() }
	o := demo.Options{Stdout: stdout, Stderr: stderr}
	fs.StringVar(&o.Bed, "bed", "demo", "test bed to build on")
	fs.BoolVar(&o.Keep, "keep", os.Getenv("KEEP_BED") == "1", "leave the bed running afterwards (KEEP_BED=1)")
	fs.StringVar(&o.Show, "show", "base-java", "image whose SBOM and provenance to write out")
	fs.StringVar(&o.Progress, "progress", "plain", "buildx --progress, into the log")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		fmt.Fprint(stderr, demoUsage)
		return &exitError{code: 2, msg: fmt.Sprintf("demo takes no arguments, got %q", pos)}
	}
	if o.Root, err = repo.Root(); err != nil {
		return err
	}
	return demo.Run(ctx, o)
}

const reproduceUsage = `usage: stagex reproduce [--beds NAME1,NAME2]

Builds the image set twice, by a new user's make demo and by buildctl, from
two clones with other origins, on two test beds with other registry hosts,
ports and a mirror path, some seconds apart, and compares every platform
manifest digest. With the environment of hack/test-integration it uses its
beds; otherwise it starts the two beds named and takes them down afterwards.
Exit 1 names the images that differ; exit 2: the check could not run.
make verify-reproducible runs it.
`

func runReproduce(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("reproduce", stderr)
	fs.Usage = func() { fmt.Fprint(stderr, reproduceUsage); fs.PrintDefaults() }
	beds := fs.String("beds", "repro1,repro2", "two beds to start when the environment names none")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	names := strings.Split(*beds, ",")
	if len(names) != 2 || len(pos) > 0 {
		fmt.Fprint(stderr, reproduceUsage)
		return &exitError{code: 2, msg: fmt.Sprintf("--beds: want two names and no arguments, got %q and %q", *beds, pos)}
	}
	root, err := repo.Root()
	if err != nil {
		return &exitError{code: 2, msg: err.Error()}
	}
	differ, err := reproduce.Check(ctx, root, [2]string{names[0], names[1]}, stdout, stderr)
	if err != nil {
		return &exitError{code: 2, msg: err.Error()}
	}
	if len(differ) > 0 {
		return &exitError{code: 1, msg: "NOT reproducible: " + strings.Join(differ, ", ")}
	}
	return nil
}
