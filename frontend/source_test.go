package frontend

import (
	"slices"
	"testing"

	"edp.buildth.ing/devfw-cicd/stagex/spec"
	"github.com/moby/buildkit/frontend/dockerui"
)

// The spec's one transfer carries the lock that lockPath will pick for a
// spec without a lock field, so that readLock needs no second transfer.
func TestEntrypointPaths(t *testing.T) {
	for _, tc := range []struct {
		name, arg string
		want      []string
	}{
		{"images/base/stagex.yaml", "", []string{"images/base/stagex.yaml", "images/base/stagex.yaml.dockerignore", "images/base/" + spec.DefaultLockFile}},
		{"stagex.yaml", "locks/other.lock.yaml", []string{"stagex.yaml", "stagex.yaml.dockerignore", "locks/other.lock.yaml"}},
		// A lock outside the context is lockPath's error to report
		// once the spec is parsed; the transfer does not ask for it.
		{"a/stagex.yaml", "../../x.lock.yaml", []string{"a/stagex.yaml", "a/stagex.yaml.dockerignore"}},
	} {
		if got := entrypointPaths(tc.name, tc.arg); !slices.Equal(got, tc.want) {
			t.Errorf("entrypointPaths(%q, %q) = %q, want %q", tc.name, tc.arg, got, tc.want)
		}
		// The path asked for is the one lockPath then reads.
		s := &spec.Spec{File: tc.name, Lock: spec.DefaultLockFile}
		if p, err := lockPath(s, Options{Lock: tc.arg}); err == nil && !slices.Contains(entrypointPaths(tc.name, tc.arg), p) {
			t.Errorf("lockPath %q is not among the spec's transfer", p)
		}
	}
}

func TestSpecFilename(t *testing.T) {
	if got := specFilename(map[string]string{"filename": "images/go/stagex.yaml"}); got != "images/go/stagex.yaml" {
		t.Errorf("specFilename = %q", got)
	}
	if got := specFilename(nil); got != dockerui.DefaultDockerfileName {
		t.Errorf("specFilename without the option = %q, want dockerui's default %q", got, dockerui.DefaultDockerfileName)
	}
}
