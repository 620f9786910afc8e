package frontend

import (
	"context"
	"errors"
	"path"
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

// DefaultLock is the lock file read when neither the spec nor STAGEX_LOCK
// names one: stagex.lock.yaml beside the spec.
const DefaultLock = "stagex.lock.yaml"

// lockPath returns the lock's path inside the dockerfile context: the
// STAGEX_LOCK build arg, else the spec's lock field, else DefaultLock, each
// relative to the spec file. It may not leave the context: BuildKit only
// sends the spec's own folder (buildx -f sends the file's folder).
func lockPath(s *spec.Spec, o Options) (string, error) {
	name, field := s.Lock, "lock"
	if o.Lock != "" {
		name, field = o.Lock, ""
	}
	if name == "" {
		name = DefaultLock
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

// readLock reads and parses the lock from the same context as the spec: the
// "dockerfile" input when the caller passed one (dockerfile.v0 forwarding,
// bake), else the client's local folder.
func readLock(ctx context.Context, c client.Client, p string) (*spec.Lock, []byte, error) {
	opts := c.BuildOpts().Opts
	localName := dockerui.DefaultLocalNameDockerfile
	if v, ok := opts["dockerfilekey"]; ok {
		localName = v
	}
	var st *bkllb.State
	if _, forced := opts["dockerfilekey"]; !forced {
		if inputs, err := c.Inputs(ctx); err == nil {
			if in, ok := inputs[localName]; ok {
				st = &in
			}
		}
	}
	if st == nil {
		sessionID := c.BuildOpts().SessionID
		if v, ok := opts["local-sessionid:"+localName]; ok {
			sessionID = v
		}
		l := bkllb.Local(localName,
			bkllb.FollowPaths([]string{p}),
			bkllb.SessionID(sessionID),
			bkllb.SharedKeyHint(localName),
			dockerui.WithInternalName("load lock "+p),
			bkllb.Differ(bkllb.DiffNone, false),
		)
		st = &l
	}
	def, err := st.Marshal(ctx)
	if err != nil {
		return nil, nil, err
	}
	res, err := c.Solve(ctx, client.SolveRequest{Definition: def.ToPB()})
	if err != nil {
		return nil, nil, err
	}
	ref, err := res.SingleRef()
	if err != nil {
		return nil, nil, err
	}
	data, err := ref.ReadFile(ctx, client.ReadRequest{Filename: p})
	if err != nil {
		return nil, nil, &spec.Error{File: p, Pos: spec.Pos{Line: 1, Column: 1}, Msg: "cannot read the lock file", Hint: "write one beside the spec, or name it with lock: or " + ArgLock}
	}
	l, err := spec.ParseLock(p, data)
	return l, data, err
}

// withSource attaches the file that an error points into, so that buildx
// and buildctl print the offending lines under the message.
func withSource(err error, files map[string][]byte) error {
	var list spec.ErrorList
	var one *spec.Error
	switch {
	case errors.As(err, &list) && len(list) > 0:
	case errors.As(err, &one):
		list = spec.ErrorList{one}
	default:
		return err
	}
	file := list[0].File
	data, ok := files[file]
	if !ok {
		return err
	}
	var ranges []*pb.Range
	for _, e := range list {
		if e.File == file && e.Pos.Line > 0 {
			ranges = append(ranges, &pb.Range{
				Start: &pb.Position{Line: int32(e.Pos.Line), Character: int32(e.Pos.Column - 1)},
				End:   &pb.Position{Line: int32(e.Pos.Line), Character: int32(e.Pos.Column - 1)},
			})
		}
	}
	return errdefs.WithSource(err, &errdefs.Source{
		Info:   &pb.SourceInfo{Filename: file, Data: data, Language: specLanguage},
		Ranges: ranges,
	})
}
