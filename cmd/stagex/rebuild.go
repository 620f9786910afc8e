package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"edp.buildth.ing/devfw-cicd/stagex/rebuild"
)

const rebuildUsage = `usage: stagex rebuild --source DIR --addr BUILDKIT [--frontend IMAGE@DIGEST] [--lock FILE]
                      [--revision COMMIT] [--context DIR] [--platform OS/ARCH] [--build-arg K=V]… IMAGE

Reads IMAGE's provenance (the spec file, the build args, the git revision, the
frontend), builds that revision of DIR's spec and lock on BUILDKIT, and compares
the platform manifest digests. Exit 0: the same digest; 1: another digest (what
differs is printed); 2: bad usage or the rebuild could not run.
`

func runRebuild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("rebuild", stderr)
	fs.Usage = func() { fmt.Fprint(stderr, rebuildUsage); fs.PrintDefaults() }
	var o rebuild.Options
	fs.StringVar(&o.Source, "source", "", "git checkout of the repository the image was built from")
	fs.StringVar(&o.Addr, "addr", "", "BuildKit address to rebuild on (unix://…, tcp://…); best not the one that built it")
	fs.StringVar(&o.Frontend, "frontend", "", "frontend image, when the provenance pins none (one built in the same bake run)")
	fs.StringVar(&o.Lock, "lock", "", "lock file instead of the one at the revision (a lock never committed, or a changed one)")
	fs.StringVar(&o.Revision, "revision", "", "commit to take the spec and lock from (default: the recorded one)")
	fs.StringVar(&o.ContextDir, "context", "", "the build context's folder in the repository (default: the recorded one, else the root)")
	fs.StringVar(&o.Platform, "platform", "", "platform image of the index (default: its only one)")
	var buildArgs listFlag
	fs.Var(&buildArgs, "build-arg", "K=V overriding a recorded build arg (e.g. STAGEX_REGISTRY=<your mirror>); repeatable")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || o.Source == "" || o.Addr == "" {
		fmt.Fprint(stderr, rebuildUsage)
		return &exitError{code: 2, msg: "rebuild needs --source, --addr and exactly one IMAGE"}
	}
	o.Image = pos[0]
	o.Args = map[string]string{}
	for _, a := range buildArgs {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return &exitError{code: 2, msg: fmt.Sprintf("--build-arg %q: want K=V", a)}
		}
		o.Args[k] = v
	}
	o.Log, o.Remote = stderr, remoteOptions(ctx)

	res, err := rebuild.Run(ctx, o)
	if err != nil {
		return &exitError{code: 2, msg: err.Error()}
	}
	p := res.Published
	fmt.Fprintf(stdout, "image:     %s (%s)\n", p.Ref, p.Platform)
	fmt.Fprintf(stdout, "spec:      %s at %s in %s\n", p.Build.Filename, res.Revision, o.Source)
	if o.Lock != "" {
		fmt.Fprintf(stdout, "lock:      %s (--lock)\n", o.Lock)
	}
	fmt.Fprintf(stdout, "frontend:  %s\n", res.Frontend)
	for _, k := range slices.Sorted(maps.Keys(res.Args)) {
		fmt.Fprintf(stdout, "build-arg: %s=%s\n", k, res.Args[k])
	}
	fmt.Fprintf(stdout, "published: %s\nrebuilt:   %s\n", p.Manifest, res.Rebuilt)
	if res.Same() {
		fmt.Fprintln(stdout, "SAME: the rebuild gives the published platform manifest")
		return nil
	}
	fmt.Fprintf(stdout, "DIFFERENT: %d difference(s)\n", len(res.Differences))
	for _, d := range res.Differences {
		fmt.Fprintf(stdout, "  %s\n", d)
	}
	return &exitError{code: 1, msg: "the rebuild gives another digest"}
}
