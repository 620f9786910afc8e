package llb

import (
	"context"
	"fmt"
	"path"
	"strings"

	"edp.buildth.ing/devfw-cicd/stagex/spec"
	bkllb "github.com/moby/buildkit/client/llb"
	digest "github.com/opencontainers/go-digest"
)

// archiveFile is the name BuildKit stores the download under before
// unpacking. Whether it unpacks is decided by the content, not the name.
const archiveFile = "archive"

// archiveLayers returns one layer per archive, in spec order, and what each
// holds. BuildKit downloads the archive, checks its sha256 (a mismatch fails
// the build) and unpacks it; the layer then holds the archive's files below
// dst, owned by root (as tar --no-same-owner unpacks them), and the parent
// folders dst needs, with the base's metadata where the base has them.
//
// Like the generated layer it is built in steps, and the last one copies the
// tree onto scratch with every time at the epoch: unpacking keeps the
// archive's own times, and creating entries moves directory times to the
// wall clock. That last step also takes the base's read ops as inputs
// (foldReads), which adds nothing to the layer.
func archiveLayers(ctx context.Context, in *Input) ([]bkllb.State, []spec.ResolvedArchive, error) {
	var layers []bkllb.State
	var placed []spec.ResolvedArchive
	for _, a := range in.Resolved.Archives {
		loc := in.locationAt(a.At.Entry.Pos)
		dst, err := resolveParent(ctx, in.BaseFS, a.Dst)
		if err != nil {
			return nil, nil, in.Spec.ErrorAt(a.At.Dst, "", "%v", err)
		}
		parents, err := archiveParents(ctx, in, dst, a.At.Dst)
		if err != nil {
			return nil, nil, err
		}

		fetched := bkllb.HTTP(a.FetchURL(),
			bkllb.Checksum(digest.Digest(a.Digest())),
			bkllb.Filename(archiveFile),
			bkllb.WithCustomName(fmt.Sprintf("[stagex] fetch archive %s %s (%s)", a.Name, a.FetchURL(), spec.NotFromStageX)),
			loc,
		)
		unpacked := bkllb.Scratch().File(
			bkllb.Copy(fetched, "/"+archiveFile, "/", &bkllb.CopyInfo{AttemptUnpack: true}),
			bkllb.WithCustomName(fmt.Sprintf("[stagex] unpack archive %s", a.Name)), loc,
		)
		// strip-components n: the entries n levels down are what dst holds,
		// so copy the contents of every folder matched by n "/*" elements.
		// (A file above that level is copied into dst too, where tar would
		// drop it; release archives keep everything in their top folder.)
		src, wildcard := "/", false
		if a.StripComponents > 0 {
			src, wildcard = strings.Repeat("/*", a.StripComponents), true
		}
		var fa *bkllb.FileAction
		for _, mk := range parents {
			fa = mk(fa)
		}
		fa = fa.Copy(unpacked, src, dst, &bkllb.CopyInfo{
			AllowWildcard:       wildcard,
			CopyDirContentsOnly: true,
			ChownOpt:            &bkllb.ChownOpt{User: &bkllb.UserOpt{UID: 0}, Group: &bkllb.UserOpt{UID: 0}},
		})
		staged := bkllb.Scratch().File(fa,
			bkllb.WithCustomName(fmt.Sprintf("[stagex] place archive %s at %s", a.Name, dst)), loc)
		epoch := in.Epoch
		layers = append(layers, bkllb.Scratch().File(
			foldReads(bkllb.Copy(staged, "/", "/", &bkllb.CopyInfo{CopyDirContentsOnly: true, CreatedTime: &epoch}), in.BaseFS),
			bkllb.WithCustomName(fmt.Sprintf("[stagex] archive layer %s (%s)", a.Name, spec.NotFromStageX)),
		))
		a.Dst = dst // where it is in the image, the base's symlinks followed
		placed = append(placed, a)
	}
	return layers, placed, nil
}

// archiveParents returns the mkdir actions for dst and every folder above
// it, parents first, each as baseDir says.
func archiveParents(ctx context.Context, in *Input, dst string, at spec.Field) ([]func(*bkllb.FileAction) *bkllb.FileAction, error) {
	var dirs []string
	for d := dst; d != "/"; d = path.Dir(d) {
		dirs = append([]string{d}, dirs...)
	}
	var out []func(*bkllb.FileAction) *bkllb.FileAction
	for _, d := range dirs {
		e, refused, err := baseDir(ctx, in.BaseFS, d)
		if err != nil {
			return nil, err
		}
		if refused != "" {
			return nil, in.Spec.ErrorAt(at, "unpack it into a folder of its own, somewhere else", "cannot unpack below %s: %s", d, refused)
		}
		out = append(out, mkdir(d, e.mode, e.uid, e.gid, in.Epoch))
	}
	return out, nil
}
