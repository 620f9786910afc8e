package reproduce

import (
	"slices"
	"strings"
	"testing"

	"edp.buildth.ing/devfw-cicd/stagex/bake"
	"edp.buildth.ing/devfw-cicd/stagex/internal/imageset"
)

// TestBuildctlArgs: a target as bake --print resolves it becomes the same
// build in buildctl flags, a target: context the pushed image by digest.
func TestBuildctlArgs(t *testing.T) {
	v := "0"
	c := &Buildctl{Root: "/repo", Push: true, NoCache: true}
	got, err := c.args(bake.Target{
		Context: "images", Dockerfile: "base.yaml",
		Args:      map[string]*string{"SOURCE_DATE_EPOCH": &v, "GO_IMAGE": nil},
		Contexts:  map[string]string{imageset.FrontendSyntax: "target:frontend"},
		Tags:      []string{"reg.test/stagex-base:latest", "reg.test/stagex-base:1"},
		Platforms: []string{"linux/amd64"},
		Attest:    []map[string]string{{"type": "provenance", "mode": "max"}, {"type": "sbom"}},
		Output:    []map[string]string{{"type": "image", "oci-mediatypes": "true"}},
	}, map[string]bake.Result{"frontend": {Digest: "sha256:abc", Names: []string{"reg.test/stagex-frontend:latest"}}})
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Join(got, " ")
	for _, want := range []string{
		"--frontend dockerfile.v0", "--local context=/repo/images", "--local dockerfile=/repo/images", "--opt filename=base.yaml",
		"--opt platform=linux/amd64", "--opt build-arg:SOURCE_DATE_EPOCH=0",
		"--opt context:" + imageset.FrontendSyntax + "=docker-image://reg.test/stagex-frontend@sha256:abc",
		"--opt attest:provenance=mode=max", "--opt attest:sbom=",
		`--output oci-mediatypes=true,type=image,"name=reg.test/stagex-base:latest,reg.test/stagex-base:1",push=true`,
		"--no-cache",
	} {
		if !strings.Contains(line, want) {
			t.Errorf("buildctl args lack %q:\n%s", want, line)
		}
	}
	if strings.Contains(line, "GO_IMAGE") {
		t.Error("an unset (null) arg was passed")
	}
	got, err = c.args(bake.Target{Context: "ctx", Dockerfile: "/repo/Dockerfile", Target: "frontend-prebuilt"}, nil)
	if err != nil || !slices.Contains(got, "dockerfile=/repo") || !slices.Contains(got, "filename=Dockerfile") || !slices.Contains(got, "target=frontend-prebuilt") {
		t.Errorf("absolute dockerfile: %v, %v", got, err)
	}
	if _, err := c.args(bake.Target{Context: "images", Contexts: map[string]string{"x": "target:missing"}}, nil); err == nil {
		t.Error("a context on a target that was not built: accepted")
	}
}
