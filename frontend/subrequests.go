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
		Args:    outlineArgs(),
		Sources: [][]byte{r.src.Data},
	}
	if r.spec != nil {
		o.Name, o.Description = r.spec.Name, r.spec.Description
	}
	return o, nil
}

// targets answers `buildx build --call targets`: a spec builds one image,
// whether or not it loads.
func (r *request) targets(context.Context) (*targets.List, error) {
	var description string
	if r.spec != nil {
		description = r.spec.Description
	}
	return &targets.List{
		Targets: []targets.Target{{
			Name:        "default",
			Default:     true,
			Description: description,
			Location:    &pb.Location{SourceIndex: 0, Ranges: []*pb.Range{lineRange(spec.Pos{Line: 1, Column: 1})}},
		}},
		Sources: [][]byte{r.src.Data},
	}, nil
}

// lint answers `buildx build --check`: the spec's lint warnings for each
// requested platform, each pointing at its line. A spec or lock that does
// not load or resolve is reported as the lint result's build error.
func (r *request) lint(context.Context) (*lint.LintResults, error) {
	res := &lint.LintResults{}
	idx := res.AddSource(r.src.SourceMap)
	if r.loadErr != nil {
		res.Error = r.lintError(res, r.loadErr)
		return res, nil
	}
	ps := r.bc.TargetPlatforms
	if len(ps) == 0 {
		ps = []platforms.Platform{platforms.DefaultSpec()}
	}
	seen := map[string]bool{}
	for _, p := range ps {
		resolved, err := r.resolve(platforms.Normalize(p))
		if err != nil {
			res.Error = r.lintError(res, err)
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

// lintError is err as a lint result's build error, located in the file its
// first problem is in (the spec, or the lock, added as a source of its own).
func (r *request) lintError(res *lint.LintResults, err error) *lint.BuildError {
	list := specErrors(err)
	file := r.src.Filename
	if len(list) > 0 {
		file = list[0].File
	}
	sm := r.src.SourceMap
	if r.lockSrc != nil && file == r.lockSrc.Filename {
		sm = r.lockSrc
	}
	idx := res.AddSource(sm) // the spec's own index when it is the spec
	return &lint.BuildError{Message: err.Error(), Location: pb.Location{
		SourceIndex: int32(idx),
		Ranges:      errorRanges(list, file),
	}}
}
