package frontend

import (
	"context"
	"encoding/json"
	"fmt"

	"edp.buildth.ing/devfw-cicd/stagex/llb"
	"edp.buildth.ing/devfw-cicd/stagex/spec"
	"github.com/containerd/platforms"
	"github.com/distribution/reference"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/gateway/client"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
)

// resolveImages fetches the config of the base and of every package, which
// the composition needs for the layer chains. An unpinned reference (allowed
// only with STAGEX_ALLOW_UNPINNED=1) is pinned here to the digest the
// registry serves, so that the whole build uses one image.
//
// It fails closed: a config for another platform than the one asked for, or
// a digest other than the pinned one, stops the build.
func resolveImages(ctx context.Context, c client.Client, s *spec.Spec, r *spec.Resolved, p ocispecs.Platform) (map[string]llb.ImageInfo, error) {
	pkgs := make([]*spec.Package, 0, len(r.Packages)+1)
	if r.Base != nil {
		pkgs = append(pkgs, r.Base)
	}
	for i := range r.Packages {
		pkgs = append(pkgs, &r.Packages[i])
	}
	infos := make([]llb.ImageInfo, len(pkgs))
	eg, ctx := errgroup.WithContext(ctx)
	for i, pkg := range pkgs {
		eg.Go(func() error {
			_, dgst, dt, err := c.ResolveImageConfig(ctx, pkg.Ref, sourceresolver.Opt{
				LogName:  fmt.Sprintf("[stagex] resolve %s", pkg.Ref),
				ImageOpt: &sourceresolver.ResolveImageOpt{Platform: &p},
			})
			if err != nil {
				return &spec.Error{File: s.File, Pos: pkg.Pos, Msg: fmt.Sprintf("cannot resolve %s: %v", pkg.Ref, err), Hint: "check the registry (" + ArgRegistry + " selects a mirror) and that the digest exists there"}
			}
			var img ocispecs.Image
			if err := json.Unmarshal(dt, &img); err != nil {
				return &spec.Error{File: s.File, Pos: pkg.Pos, Msg: fmt.Sprintf("%s has an unreadable image config: %v", pkg.Ref, err)}
			}
			want := platforms.Normalize(p)
			got := platforms.Normalize(ocispecs.Platform{OS: img.OS, Architecture: img.Architecture, Variant: img.Variant})
			if !platforms.OnlyStrict(want).Match(got) {
				return &spec.Error{File: s.File, Pos: pkg.Pos, Msg: fmt.Sprintf("%s is for %s, not %s", pkg.Ref, platforms.Format(got), platforms.Format(want)), Hint: "the lock must hold the " + platforms.Format(want) + " manifest digest"}
			}
			if pkg.Digest == "" {
				pinned, err := pin(pkg.Ref, dgst.String())
				if err != nil {
					return err
				}
				// Only a full reference can be unpinned, and it names
				// itself: its canonical reference is the pinned one too.
				pkg.Ref, pkg.Canonical, pkg.Digest = pinned, pinned, dgst.String()
			} else if dgst.String() != pkg.Digest {
				return &spec.Error{File: s.File, Pos: pkg.Pos, Msg: fmt.Sprintf("%s resolved to %s", pkg.Ref, dgst), Hint: "the registry served another manifest than the pinned one; refusing it"}
			}
			infos[i] = llb.ImageInfo{Digest: dgst, Config: img}
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		return nil, err
	}
	out := make(map[string]llb.ImageInfo, len(pkgs))
	for i, pkg := range pkgs {
		out[pkg.Ref] = infos[i]
	}
	return out, nil
}

// pin adds a digest to a reference, keeping its tag for readability.
func pin(ref, dgst string) (string, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", err
	}
	return named.String() + "@" + dgst, nil
}
