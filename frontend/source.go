package frontend

import (
	"context"
	"errors"
	"path"
	"slices"
	"strings"

	"edp.buildth.ing/devfw-cicd/stagex/spec"
	bkllb "github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/solver/errdefs"
	"github.com/moby/buildkit/solver/pb"
)

// specLanguage names the spec's language in source maps and warnings.
const specLanguage = "YAML"

// lockPath returns the lock's path inside the dockerfile context: the
// STAGEX_LOCK build arg, else the spec's lock field (which ParseSpec defaults
// to spec.DefaultLockFile), each relative to the spec file. It may not leave the context: BuildKit only
// sends the spec's own folder (buildx -f sends the file's folder).
func lockPath(s *spec.Spec, o Options) (string, error) {
	name, field := s.Lock, "lock"
	if o.Lock != "" {
		name, field = o.Lock, ""
	}
	p := path.Join(path.Dir(s.File), name)
	if path.IsAbs(name) || p == ".." || strings.HasPrefix(p, "../") {
		hint := "keep the lock beside the spec, or in a folder below it"
		if field == "" {
			return "", &spec.Error{File: s.File, Pos: spec.Pos{Line: 1, Column: 1}, Msg: "build arg " + ArgLock + "=" + name + " leaves the spec's folder", Hint: hint}
		}
		return "", s.Errorf(field, hint, "lock %q leaves the spec's folder", name)
	}
	return p, nil
}

// specFilename is the spec's path in its context as dockerui reads it: the
// filename option (buildx -f, bake's dockerfile), else dockerui's default.
func specFilename(opts map[string]string) string {
	if v, ok := opts["filename"]; ok {
		return v
	}
	return dockerui.DefaultDockerfileName
}

// entrypointPaths are the files to send with the spec in its one transfer:
// the spec, its ignore file (which dockerui reads from the same transfer)
// and the lock, as far as it is known before the spec is parsed: the
// STAGEX_LOCK build arg, else spec.DefaultLockFile beside the spec. A spec
// whose lock field names another file costs a second read (readLock).
func entrypointPaths(name, lockArg string) []string {
	paths := []string{name, name + ".dockerignore"}
	guess := &spec.Spec{File: name, Lock: spec.DefaultLockFile}
	if p, err := lockPath(guess, Options{Lock: lockArg}); err == nil {
		paths = append(paths, p)
	}
	return paths
}

// readLock reads the lock from the same context as the spec, as dockerui
// finds it: the local folder, the "dockerfile" input when the caller passed
// one (dockerfile.v0 forwarding, bake), or a git or HTTP context. When the
// spec's transfer sent the lock along (entrypointPaths), it solves the
// spec's own definition again, which BuildKit answers from the same
// snapshot without a second transfer; a git context is then read at one
// commit for both files. Otherwise it asks dockerui for the spec's context
// again with the lock among the files to send (only a local folder sends
// just the named files). It returns the lock and the source it was read
// from.
func (r *request) readLock(ctx context.Context, c client.Client, p string) ([]byte, *bkllb.SourceMap, error) {
	src := r.src
	if !slices.Contains(r.read, p) {
		var err error
		if src, err = r.bc.ReadEntrypoint(ctx, specLanguage, bkllb.FollowPaths([]string{r.src.Filename, p})); err != nil {
			return nil, nil, err
		}
	}
	res, err := c.Solve(ctx, client.SolveRequest{Definition: src.Definition.ToPB()})
	if err != nil {
		return nil, nil, err
	}
	ref, err := res.SingleRef()
	if err != nil {
		return nil, nil, err
	}
	data, err := dockerui.ReadFile(ctx, ref, p)
	if err != nil {
		return nil, nil, err
	}
	sm := bkllb.NewSourceMap(src.State, p, specLanguage, data)
	sm.Definition = src.Definition
	return data, sm, nil
}

// solveRef solves a state of the frontend's own (the lock's context, the
// base, an SBOM file) and returns its one reference.
func solveRef(ctx context.Context, c client.Client, st bkllb.State, opts ...bkllb.ConstraintsOpt) (client.Reference, error) {
	def, err := marshal(ctx, c, st, opts...)
	if err != nil {
		return nil, err
	}
	res, err := c.Solve(ctx, client.SolveRequest{Definition: def.ToPB()})
	if err != nil {
		return nil, err
	}
	return res.SingleRef()
}

// lockReadError locates a lock that cannot be read in the spec, which is the
// file that named it (the lock itself may not exist), and keeps the cause.
func lockReadError(s *spec.Spec, o Options, p string, err error) *spec.Error {
	const hint = "write one beside the spec, or name it with lock: or " + ArgLock
	if o.Lock != "" {
		return s.Errorf("", hint, "cannot read the lock file %s (from %s=%s): %v", p, ArgLock, o.Lock, err)
	}
	return s.Errorf("lock", hint, "cannot read the lock file %s: %v", p, err)
}

// specErrors returns the located problems err holds, if any.
func specErrors(err error) spec.ErrorList {
	var list spec.ErrorList
	var one *spec.Error
	switch {
	case errors.As(err, &list):
		return list
	case errors.As(err, &one):
		return spec.ErrorList{one}
	}
	return nil
}

// errorRanges are the lines of file that the problems point at.
func errorRanges(list spec.ErrorList, file string) []*pb.Range {
	var ranges []*pb.Range
	for _, e := range list {
		if e.File == file && e.Pos.Line > 0 {
			ranges = append(ranges, lineRange(e.Pos))
		}
	}
	return ranges
}

// withSource attaches the file that an error points into, so that buildx
// and buildctl print the offending lines under the message.
func withSource(err error, files map[string][]byte) error {
	list := specErrors(err)
	if len(list) == 0 {
		return err
	}
	file := list[0].File
	data, ok := files[file]
	if !ok {
		return err
	}
	ranges := errorRanges(list, file)
	return errdefs.WithSource(err, &errdefs.Source{
		Info:   &pb.SourceInfo{Filename: file, Data: data, Language: specLanguage},
		Ranges: ranges,
	})
}
