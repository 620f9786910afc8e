package frontend

import (
	"context"

	"edp.buildth.ing/devfw-cicd/stagex/spec"
	"github.com/containerd/platforms"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/subrequests/lint"
	"github.com/moby/buildkit/frontend/subrequests/outline"
	"github.com/moby/buildkit/frontend/subrequests/targets"
	"github.com/moby/buildkit/solver/pb"
)

// outline answers `buildx build --call outline`: the build args this
// frontend reads, with their defaults and descriptions.
func (r *request) outline(context.Context) (*outline.Outline, error) {
	o := &outline.Outline{
		Name:        r.spec.Name,
		Description: r.spec.Description,
		Args:        outlineArgs(),
		Sources:     [][]byte{r.src.Data},
	}
	return o, nil
}

// targets answers `buildx build --call targets`: a spec builds one image.
func (r *request) targets(context.Context) (*targets.List, error) {
	return &targets.List{
		Targets: []targets.Target{{
			Name:        "default",
			Default:     true,
			Description: r.spec.Description,
			Location:    &pb.Location{SourceIndex: 0, Ranges: []*pb.Range{lineRange(spec.Pos{Line: 1, Column: 1})}},
		}},
		Sources: [][]byte{r.src.Data},
	}, nil
}

// lint answers `buildx build --check`: the spec's lint warnings for each
// requested platform, each pointing at its line. A spec that does not
// resolve is reported as the build error.
func (r *request) lint(context.Context) (*lint.LintResults, error) {
	res := &lint.LintResults{}
	idx := res.AddSource(r.src.SourceMap)
	ps := r.bc.TargetPlatforms
	if len(ps) == 0 {
		ps = []platforms.Platform{platforms.DefaultSpec()}
	}
	seen := map[string]bool{}
	for _, p := range ps {
		resolved, err := r.resolve(platforms.Normalize(p))
		if err != nil {
			res.Error = &lint.BuildError{Message: err.Error(), Location: pb.Location{
				SourceIndex: int32(idx),
				Ranges:      errorRanges(specErrors(err), r.src.Filename),
			}}
			return res, nil
		}
		for _, w := range spec.Lint(r.spec, resolved) {
			key := w.Rule + "\x00" + w.Error.Error()
			if seen[key] {
				continue
			}
			seen[key] = true
			loc := parser.Range{Start: parser.Position{Line: w.Pos.Line}, End: parser.Position{Line: w.Pos.Line}}
			res.AddWarning(w.Rule, w.Description, w.URL, w.Msg, idx, []parser.Range{loc})
		}
	}
	return res, nil
}
