package llb

import (
	"context"
	"fmt"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/spec"
	bkllb "github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// Input is everything one platform's composition depends on.
type Input struct {
	Spec     *spec.Spec
	Resolved *spec.Resolved // for this platform, every package pinned
	// Images holds the manifest digest and config of the base and of every
	// package, keyed by spec.Package.Ref.
	Images   map[string]ImageInfo
	Platform ocispecs.Platform
	Epoch    time.Time
	// BaseFS reads the filesystem the archives and the generated layer lie
	// on, the packages merged (Packages); nil when there is none to read.
	BaseFS BaseFS
	// Contexts are the build contexts copies may read from: "context" is
	// the main one, the others are named contexts.
	Contexts map[string]bkllb.State
	// SourceMap, when set, ties each op to the spec line that asked for it,
	// for error messages and the provenance build config.
	SourceMap *bkllb.SourceMap
	Meta      Meta
}

// Meta is what the image's OCI labels say beyond the spec.
type Meta struct {
	Version  string // org.opencontainers.image.version
	Revision string // org.opencontainers.image.revision (the VCS commit)
	Source   string // org.opencontainers.image.source (the VCS URL)
}

// Result is one platform's composed image.
type Result struct {
	State bkllb.State
	Image dockerspec.DockerOCIImage
	// Parts are the merge inputs in order, with the layers each adds; the
	// exported image's layers are these, then one per archive, then the
	// generated one if any.
	Parts     []Part
	Generated bool
	// Archives are the layers from outside StageX, in order (spec archives).
	Archives []ArchiveInfo
	// GeneratedFiles lists what the generated layer writes, for the SBOM.
	GeneratedFiles []GeneratedFile
	// GeneratedLayer is the generated layer alone (nil when there is
	// none), for CheckCopies to read.
	GeneratedLayer *bkllb.State

	plan *layerPlan
	spec *spec.Spec
}

// Compose builds the LLB state and image config for one platform.
func Compose(ctx context.Context, in *Input) (*Result, error) {
	if err := checkLabels(in.Spec); err != nil {
		return nil, err
	}
	basePasswd, baseGroup, err := readBaseAccounts(ctx, in)
	if err != nil {
		return nil, err
	}
	if err := in.Spec.CheckUser(parseAccountDB(basePasswd).names, parseAccountDB(baseGroup).names); err != nil {
		return nil, err
	}
	parts, err := Plan(in.Resolved, in.Images)
	if err != nil {
		return nil, err
	}
	inputs := packageInputs(parts, in.Platform, in.locationAt)
	archives, archiveInfos, err := archiveLayers(ctx, in)
	if err != nil {
		return nil, err
	}
	inputs = append(inputs, archives...)
	gen, plan, err := generatedLayer(ctx, in, basePasswd, baseGroup)
	if err != nil {
		return nil, err
	}
	var genFiles []GeneratedFile
	if gen != nil {
		inputs = append(inputs, *gen)
		genFiles = plan.files
	}
	st := bkllb.Merge(inputs, bkllb.WithCustomName(fmt.Sprintf("[stagex] merge %d inputs", len(inputs))))
	return &Result{
		State:     st,
		Image:     imageConfig(in, parts, archiveInfos, gen != nil),
		Parts:     parts,
		Generated: gen != nil,
		Archives:  archiveInfos,

		GeneratedFiles: genFiles,
		GeneratedLayer: gen,
		plan:           plan,
		spec:           in.Spec,
	}, nil
}

// packageInputs are the merge inputs of the packages, as the plan says.
func packageInputs(parts []Part, platform ocispecs.Platform, at func(spec.Pos) bkllb.ConstraintsOpt) []bkllb.State {
	var inputs []bkllb.State
	var base bkllb.State
	for _, p := range parts {
		img := bkllb.Image(p.Package.Ref,
			bkllb.Platform(platform),
			bkllb.WithCustomName(fmt.Sprintf("[stagex] %s %s", p.Package.Name, p.Package.Ref)),
			at(p.Package.Pos),
		)
		switch p.Mode {
		case ModeBase:
			base = img
			inputs = append(inputs, img)
		case ModeDiff:
			inputs = append(inputs, bkllb.Diff(base, img, at(p.Package.Pos)))
		case ModeWhole:
			inputs = append(inputs, img)
		}
	}
	return inputs
}

// Packages is the merge of the packages alone, what the archives and the
// generated layer lie on: the filesystem a BaseFS reads. Its ops are the
// ones Compose merges (names and source locations are metadata), so
// BuildKit solves them once for both.
func Packages(parts []Part, platform ocispecs.Platform) bkllb.State {
	inputs := packageInputs(parts, platform, func(spec.Pos) bkllb.ConstraintsOpt { return noLocation })
	if len(inputs) == 1 {
		return inputs[0]
	}
	return bkllb.Merge(inputs, bkllb.WithCustomName(fmt.Sprintf("[stagex] merge %d packages", len(inputs))))
}

// readBaseAccounts reads the base's /etc/passwd and /etc/group once for the
// composition: config.user is checked against them, and the spec's accounts
// are appended to them. They are read only when one of these needs them, so
// a numeric user never costs a pull of the base.
func readBaseAccounts(ctx context.Context, in *Input) (passwd, group []byte, err error) {
	if in.BaseFS == nil || !hasAccounts(in.Spec) && in.Spec.CheckUser(nil, nil) == nil {
		return nil, nil, nil
	}
	if passwd, err = in.BaseFS.ReadFile(ctx, "/etc/passwd"); err != nil {
		return nil, nil, err
	}
	if group, err = in.BaseFS.ReadFile(ctx, "/etc/group"); err != nil {
		return nil, nil, err
	}
	return passwd, group, nil
}

// location ties an op to the line of a spec field.
func (in *Input) location(field string) bkllb.ConstraintsOpt {
	return in.locationAt(in.Spec.Pos(field))
}

func (in *Input) locationAt(pos spec.Pos) bkllb.ConstraintsOpt {
	if in.SourceMap == nil || pos.Line < 1 {
		return noLocation
	}
	return in.SourceMap.Location([]*pb.Range{{
		Start: &pb.Position{Line: int32(pos.Line)},
		End:   &pb.Position{Line: int32(pos.Line)},
	}})
}

// noLocation is a constraints option that adds nothing: Location on a nil
// source map is a no-op.
var noLocation = (*bkllb.SourceMap)(nil).Location(nil)
