package frontend

import (
	"context"
	"slices"
	"strings"
	"testing"

	"edp.buildth.ing/devfw-cicd/stagex/spec"
	bkllb "github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/dockerui"
)

// brokenRequest is a request whose spec (or, with a lock, whose lock) did
// not load, as load leaves it.
func brokenRequest(t *testing.T, specYAML, lockYAML string) *request {
	t.Helper()
	const file, lockFile = "stagex.yaml", "stagex.lock.yaml"
	local := bkllb.Local(dockerui.DefaultLocalNameDockerfile)
	def, err := local.Marshal(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sm := bkllb.NewSourceMap(&local, file, specLanguage, []byte(specYAML))
	sm.Definition = def // as dockerui's ReadEntrypoint sets it
	r := &request{src: &dockerui.Source{SourceMap: sm}, files: map[string][]byte{file: []byte(specYAML)}}
	s, err := spec.ParseSpec(file, []byte(specYAML))
	if err == nil {
		r.spec = s
		r.files[lockFile] = []byte(lockYAML)
		r.lockSrc = bkllb.NewSourceMap(&local, lockFile, specLanguage, []byte(lockYAML))
		r.lockSrc.Definition = def
		_, err = spec.ParseLock(lockFile, []byte(lockYAML))
	}
	if err == nil {
		t.Fatal("the request loads")
	}
	r.loadErr = withSource(err, r.files)
	return r
}

// Subrequests answer on a spec or lock that does not load: outline and
// targets with what there is, lint with the errors as its build error at
// their lines, in the file they are in.
func TestSubrequestsOnBrokenSpec(t *testing.T) {
	ctx := context.Background()
	r := brokenRequest(t, "version: 1\nname: broken\npackages: core-musl\nconfig:\n  workdir: /a/../../b\n", "")
	o, err := r.outline(ctx)
	if err != nil || len(o.Args) == 0 {
		t.Fatalf("outline = %+v, %v; want the build args", o, err)
	}
	tl, err := r.targets(ctx)
	if err != nil || len(tl.Targets) != 1 || tl.Targets[0].Name != "default" {
		t.Fatalf("targets = %+v, %v; want the default target", tl, err)
	}
	l, err := r.lint(ctx)
	if err != nil || l.Error == nil {
		t.Fatalf("lint = %+v, %v; want a build error", l, err)
	}
	var lines []int32
	for _, rg := range l.Error.Location.Ranges {
		lines = append(lines, rg.Start.Line)
	}
	if !strings.Contains(l.Error.Message, "stagex.yaml:3:") || !strings.Contains(l.Error.Message, "stagex.yaml:5:") ||
		!slices.Equal(lines, []int32{3, 5}) || l.Sources[l.Error.Location.SourceIndex].Filename != "stagex.yaml" {
		t.Errorf("lint error %q at lines %v of %s, want lines 3 and 5 of stagex.yaml", l.Error.Message, lines,
			l.Sources[l.Error.Location.SourceIndex].Filename)
	}

	r = brokenRequest(t, "version: 1\npackages: [core-musl]\n", "version: 1\nregistry: r.example/stagex\npackages: [x]\n")
	l, err = r.lint(ctx)
	if err != nil || l.Error == nil {
		t.Fatalf("lint = %+v, %v; want a build error", l, err)
	}
	src := l.Sources[l.Error.Location.SourceIndex]
	if src.Filename != "stagex.lock.yaml" || len(l.Error.Location.Ranges) != 1 || l.Error.Location.Ranges[0].Start.Line != 3 {
		t.Errorf("lint error %q at %v of %s, want line 3 of stagex.lock.yaml", l.Error.Message, l.Error.Location.Ranges, src.Filename)
	}
}
