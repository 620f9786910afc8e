package llb

import (
	"fmt"
	"slices"

	"edp.buildth.ing/devfw-cicd/stagex/spec"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// ImageInfo is what the caller resolved about one pinned image: its manifest
// digest and its image config (for the layer chain and nothing else; the
// package's own config is never inherited).
type ImageInfo struct {
	Digest digest.Digest
	Config ocispecs.Image
}

// Mode says how one package joins the composition.
type Mode string

const (
	// ModeBase is the first input of the merge, the base image itself.
	ModeBase Mode = "base"
	// ModeDiff adds only the layers above the base: Diff(base, package).
	ModeDiff Mode = "diff"
	// ModeWhole merges the whole image, for a package whose layer chain does
	// not start with the base's.
	ModeWhole Mode = "whole"
)

// Part is one package of the composition: what resolution made of its
// entry, and how it is merged. The image's layers and history, the check
// and the SBOM all read it.
type Part struct {
	Package spec.Package
	Mode    Mode
	Digest  digest.Digest   // the manifest digest BuildKit pulls (for an unpinned reference, the one it resolved to)
	DiffIDs []digest.Digest // the uncompressed layer digests this part adds
}

// Plan decides, from the layer chains alone, how each package is merged.
// It is the part of the composition that the exported image's layer list and
// history follow from, so it is computed once and shared by both.
func Plan(r *spec.Resolved, images map[string]ImageInfo) ([]Part, error) {
	var parts []Part
	var baseIDs []digest.Digest
	if r.Base != nil {
		info, ok := images[r.Base.Ref]
		if !ok {
			return nil, fmt.Errorf("internal error: no image config for base %s", r.Base.Ref)
		}
		baseIDs = info.Config.RootFS.DiffIDs
		parts = append(parts, Part{Package: *r.Base, Mode: ModeBase, Digest: info.Digest, DiffIDs: baseIDs})
	}
	for _, p := range r.Packages {
		info, ok := images[p.Ref]
		if !ok {
			return nil, fmt.Errorf("internal error: no image config for package %s", p.Ref)
		}
		ids := info.Config.RootFS.DiffIDs
		if len(baseIDs) > 0 && len(ids) >= len(baseIDs) && slices.Equal(ids[:len(baseIDs)], baseIDs) {
			parts = append(parts, Part{Package: p, Mode: ModeDiff, Digest: info.Digest, DiffIDs: ids[len(baseIDs):]})
			continue
		}
		parts = append(parts, Part{Package: p, Mode: ModeWhole, Digest: info.Digest, DiffIDs: ids})
	}
	return parts, nil
}
