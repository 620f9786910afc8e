// Command images builds the whole image set with docker-bake.hcl and prints
// image, platform manifest digest, size and number of layers.
//
//	go run ./hack/images [-digests DIGESTS.md] [target ...]
//
// Without targets it builds the bake file's default group (all images and
// the frontend); DIGESTS.md is written only for such a whole build.
//
// `make images` runs it. It builds on your buildx builder when you have one
// (BUILDX_BUILDER, or a current builder with the docker-container,
// kubernetes or remote driver): with PUSH=1 it pushes to $REGISTRY (the bake
// file's default is edp.buildth.ing/devfw-cicd), otherwise it exports OCI
// layouts into .cache/imageset/images/oci/. Without a builder it starts the
// embedded BuildKit and registry of the test bed (bed "images", buildx
// remote driver, no Docker) and pushes there; the bed stays up so that the
// images can be pulled from it.
//
// The packages come from docker.io/stagex, or from the mirror in
// STAGEX_REGISTRY; when that cannot be reached it says so at once, with the
// ways out. REGISTRY, TAG, SOURCE_DATE_EPOCH, STAGEX_REGISTRY and
// STAGEX_LOCK in the environment reach the bake file as its variables.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"edp.buildth.ing/devfw-cicd/stagex/hack/imageset"
	"edp.buildth.ing/devfw-cicd/stagex/internal/repo"

	"edp.buildth.ing/devfw-cicd/stagex/spec"
)

// exitUnreachable is the exit status when the package registry cannot be
// reached, so scripts can tell it from a failed build.
const exitUnreachable = 3

func main() {
	bedName := flag.String("bed", "images", "test bed to build on when you have no buildx builder")
	digests := flag.String("digests", "", "write this DIGESTS.md from the build")
	progress := flag.String("progress", "auto", "buildx --progress")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	targets := flag.Args()
	for _, t := range targets {
		if !slices.Contains(imageset.AllTargets(), t) {
			fmt.Fprintf(os.Stderr, "images: unknown target %q (targets: %s)\n", t, strings.Join(imageset.AllTargets(), " "))
			os.Exit(2)
		}
	}
	if len(targets) > 0 && *digests != "" {
		fmt.Fprintf(os.Stderr, "images: building %s only: %s is written for whole builds, left as it is\n", strings.Join(targets, " "), *digests)
		*digests = ""
	}
	if len(targets) == 0 {
		targets = imageset.AllTargets()
	}
	if err := run(ctx, *bedName, *digests, *progress, targets); err != nil {
		var u unreachable
		if errors.As(err, &u) {
			fmt.Fprint(os.Stderr, u.Error())
			os.Exit(exitUnreachable)
		}
		fmt.Fprintf(os.Stderr, "images: %v\n", err)
		os.Exit(1)
	}
}

// unreachable is the package registry (or the JRE's host) not answering.
type unreachable struct{ msg string }

func (u unreachable) Error() string { return u.msg }

// checkNetwork probes what the build pulls from outside, through the lock
// in effect (STAGEX_LOCK or images/stagex.lock.yaml) and STAGEX_REGISTRY,
// before anything is started, so that an offline machine hears it at once.
func checkNetwork(ctx context.Context, root string) error {
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
		return unreachable{fmt.Sprintf(`make images: cannot reach %s (%v).
The StageX packages, and pallet-go that compiles the frontend, come from %s.
Two ways out:
  STAGEX_REGISTRY=<mirror>/stagex make images   a mirror serving the same digests (e.g. quay.io/stagex)
  make demo                                     the same specs and bake file, offline, against fixture packages
`, what, err, registry)}
	}
	specs, err := imageset.Specs(root)
	if err != nil {
		return err
	}
	for _, t := range imageset.Images {
		for _, a := range specs[t].Archives {
			u := a.URL
			if la, ok := lock.Archives[a.Name]; ok {
				u = la.URL
			}
			if err := imageset.ProbeURL(ctx, u); err != nil {
				fmt.Fprintf(os.Stderr, "images: warning: cannot reach %s for archive %s of %s (%v): %s will fail unless the lock pins a reachable copy (archives.%s: url, sha256)\n",
					u, a.Name, t, err, t, a.Name)
			}
		}
	}
	return nil
}

func run(ctx context.Context, bedName, digests, progress string, targets []string) (err error) {
	root, err := repo.Root()
	if err != nil {
		return err
	}
	if err := checkNetwork(ctx, root); err != nil {
		return err
	}
	work, err := imageset.WorkDir(root, "images")
	if err != nil {
		return err
	}

	bk := imageset.Bake{Root: root, Targets: targets, Progress: progress, Output: os.Stderr, Vars: map[string]string{}}
	builder := imageset.UserBuilder(ctx)
	var layouts map[string]string
	switch {
	case builder != nil && os.Getenv("PUSH") == "1":
		fmt.Fprintf(os.Stderr, "==> building on %s, pushing to $REGISTRY (PUSH=1)\n", builder.Desc)
		bk.Push = true
	case builder != nil:
		fmt.Fprintf(os.Stderr, "==> building on %s into OCI layouts in %s (PUSH=1 pushes to $REGISTRY instead)\n", builder.Desc, filepath.Join(work, "oci"))
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
		buildx, err := imageset.Buildx(ctx, root, os.Stderr)
		if err != nil {
			return err
		}
		bed, err := imageset.StartBed(ctx, root, bedName, os.Stderr)
		if err != nil {
			return err
		}
		if builder, err = imageset.RemoteBuilder(ctx, buildx, filepath.Join(work, "buildx"), "stagex-images", bed.BuildkitAddr); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "==> no buildx builder of yours; building on the embedded BuildKit (bed %s), pushing to %s\n", bedName, bed.RegistryAddr)
		defer fmt.Fprintf(os.Stderr, "==> the images are in the bed's registry %s; stop it with: make bed-down BED=%s\n", bed.RegistryAddr, bedName)
		bk.Vars["REGISTRY"] = bed.RegistryAddr + "/devfw-cicd"
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
	if err := imageset.WriteTable(os.Stdout, imgs); err != nil {
		return err
	}
	if digests != "" {
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
		info := imageset.DigestsInfo{Command: "make images", Lock: lock, Epoch: epoch, Revision: imageset.Revision(ctx, root), Builder: builder.Desc}
		if err := imageset.WriteDigests(digests, info, imgs); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "==> wrote %s\n", digests)
	}
	return nil
}
