// Package images builds the whole image set with docker-bake.hcl, as
// `make images` (stagex images) does, and prints image, platform manifest
// digest, size and number of layers.
//
// It builds on the user's buildx builder when there is one (BUILDX_BUILDER,
// or a current builder with the docker-container, kubernetes or remote
// driver): with Push it pushes to $REGISTRY (the bake file's default is
// edp.buildth.ing/devfw-cicd), otherwise it exports OCI layouts into
// .cache/imageset/images/oci/. Without a builder it starts the embedded
// BuildKit and registry of the test bed (buildx remote driver, no Docker)
// and pushes there; the bed stays up so that the images can be pulled from
// it.
//
// The packages come from the lock's registry, or from the mirror in
// STAGEX_REGISTRY; when that cannot be reached it says so at once, with the
// ways out (Unreachable). REGISTRY, TAG, SOURCE_DATE_EPOCH, STAGEX_REGISTRY
// and STAGEX_LOCK in the environment reach the bake file as its variables.
package images

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"edp.buildth.ing/devfw-cicd/stagex/bake"
	"edp.buildth.ing/devfw-cicd/stagex/internal/imageset"
	"edp.buildth.ing/devfw-cicd/stagex/spec"
)

// Options of a build.
type Options struct {
	Root string
	// Bed is the test bed to build on when the user has no buildx builder.
	Bed string
	// Targets to build; none: the default group. Each must be a target of
	// the default group.
	Targets []string
	// Digests is the DIGESTS.md to write; only for a whole build.
	Digests string
	// Push pushes to $REGISTRY from the user's builder.
	Push     bool
	Progress string    // buildx --progress
	Stdout   io.Writer // the table
	Stderr   io.Writer // progress and notes
}

// Unreachable is the package registry not answering: nothing was built.
type Unreachable struct{ Msg string }

func (u *Unreachable) Error() string { return u.Msg }

// checkNetwork probes what the build pulls from outside, through the lock
// in effect (STAGEX_LOCK or images/stagex.lock.yaml) and STAGEX_REGISTRY,
// before anything is started, so that an offline machine hears it at once.
func checkNetwork(ctx context.Context, root string, set *imageset.Set, stderr io.Writer) error {
	lockFile := spec.DefaultLockFile
	if l := os.Getenv("STAGEX_LOCK"); l != "" {
		lockFile = l
	}
	data, err := os.ReadFile(filepath.Join(root, imageset.SpecDir, filepath.FromSlash(lockFile)))
	if err != nil {
		return fmt.Errorf("the lock: %w", err)
	}
	lock, err := spec.ParseLock(lockFile, data)
	if err != nil {
		return err
	}
	registry, what := lock.Registry, imageset.RegistryHost(lock.Registry)
	if r := os.Getenv("STAGEX_REGISTRY"); r != "" {
		registry, what = r, "the StageX mirror "+r+" (STAGEX_REGISTRY)"
	}
	if err := imageset.ProbeRegistry(ctx, registry); err != nil {
		return &Unreachable{fmt.Sprintf(`make images: cannot reach %s (%v).
The StageX packages, and pallet-go that compiles the frontend, come from %s.
Two ways out:
  STAGEX_REGISTRY=<mirror>/stagex make images   a mirror serving the same digests
  make demo                                     the same specs and bake file, offline, against fixture packages
`, what, err, registry)}
	}
	specs, err := set.Specs(root)
	if err != nil {
		return err
	}
	for _, t := range set.Images {
		for _, a := range specs[t].Archives {
			u := a.URL
			if la, ok := lock.Archives[a.Name]; ok {
				u = la.URL
			}
			if err := imageset.ProbeURL(ctx, u); err != nil {
				fmt.Fprintf(stderr, "images: warning: cannot reach %s for archive %s of %s (%v): %s will fail unless the lock pins a reachable copy (archives.%s: url, sha256)\n",
					u, a.Name, t, err, t, a.Name)
			}
		}
	}
	return nil
}

// Run builds the set (or o.Targets) and prints the table.
func Run(ctx context.Context, o Options) error {
	work, err := imageset.WorkDir(o.Root, "images")
	if err != nil {
		return err
	}
	bin, err := imageset.Buildx(ctx, o.Root, o.Stderr)
	if err != nil {
		return err
	}
	set, err := imageset.Read(ctx, bin, o.Root)
	if err != nil {
		return err
	}
	for _, t := range o.Targets {
		if _, ok := set.Targets[t]; !ok {
			return fmt.Errorf("unknown target %q (targets of %s: %s)", t, imageset.BakeFile, strings.Join(set.All(), " "))
		}
	}
	digests := o.Digests
	if len(o.Targets) > 0 && digests != "" {
		fmt.Fprintf(o.Stderr, "images: building %s only: %s is written for whole builds, left as it is\n", strings.Join(o.Targets, " "), digests)
		digests = ""
	}
	targets := o.Targets
	if len(targets) == 0 {
		targets = set.All()
	}
	if err := checkNetwork(ctx, o.Root, set, o.Stderr); err != nil {
		return err
	}

	bk := bake.Bake{Root: o.Root, File: imageset.BakeFile, Targets: targets, Progress: o.Progress, Output: o.Stderr, Vars: map[string]string{}}
	builder := bake.UserBuilder(ctx)
	var layouts map[string]string
	switch {
	case builder != nil && o.Push:
		fmt.Fprintf(o.Stderr, "==> building on %s, pushing to $REGISTRY (PUSH=1)\n", builder.Desc)
		bk.Push = true
	case builder != nil:
		fmt.Fprintf(o.Stderr, "==> building on %s into OCI layouts in %s (PUSH=1 pushes to $REGISTRY instead)\n", builder.Desc, filepath.Join(work, "oci"))
		layouts = map[string]string{}
		for _, t := range bk.Targets {
			dir := filepath.Join(work, "oci", t)
			if err := os.RemoveAll(dir); err != nil {
				return err
			}
			layouts[t] = dir
			bk.Set = append(bk.Set, t+".output=type=oci,oci-mediatypes=true,tar=false,dest="+dir)
		}
	default:
		if os.Geteuid() != 0 {
			return fmt.Errorf("no buildx builder configured, and the embedded BuildKit needs root: create a builder (docker buildx create --use) or run as root")
		}
		b, err := imageset.StartBed(ctx, o.Root, o.Bed, o.Stderr)
		if err != nil {
			return err
		}
		env, err := b.Env(ctx)
		if err != nil {
			return err
		}
		if builder, err = bake.FromEnv(bin, env); err != nil {
			return err
		}
		fmt.Fprintf(o.Stderr, "==> no buildx builder of yours; building on the embedded BuildKit (bed %s), pushing to %s\n", o.Bed, b.RegistryAddr)
		defer fmt.Fprintf(o.Stderr, "==> the images are in the bed's registry %s; stop it with: make bed-down BED=%s\n", b.RegistryAddr, o.Bed)
		bk.Vars["REGISTRY"] = b.RegistryAddr + "/devfw-cicd"
		bk.Push = true
	}

	results, err := builder.Run(ctx, bk)
	if err != nil {
		return err
	}
	var imgs []*imageset.Image
	if layouts != nil {
		for _, t := range bk.Targets {
			img, err := imageset.InspectLayout(t, layouts[t])
			if err != nil {
				return err
			}
			imgs = append(imgs, img)
		}
	} else if imgs, err = imageset.InspectAll(ctx, bk.Targets, results); err != nil {
		return err
	}
	if err := imageset.WriteTable(o.Stdout, imgs); err != nil {
		return err
	}
	if digests == "" {
		return nil
	}
	lock := "`images/stagex.lock.yaml`"
	if l := os.Getenv("STAGEX_LOCK"); l != "" {
		lock = "`images/" + l + "` (STAGEX_LOCK)"
	}
	if r := os.Getenv("STAGEX_REGISTRY"); r != "" {
		lock += ", packages from the mirror `" + r + "`"
	}
	epoch := os.Getenv("SOURCE_DATE_EPOCH")
	if epoch == "" {
		epoch = "0 (the bake file's default)"
	}
	info := imageset.DigestsInfo{Command: "make images", Lock: lock, Epoch: epoch, Revision: imageset.Revision(ctx, o.Root), Builder: builder.Desc}
	if err := imageset.WriteDigests(digests, info, imgs); err != nil {
		return err
	}
	fmt.Fprintf(o.Stderr, "==> wrote %s\n", digests)
	return nil
}
