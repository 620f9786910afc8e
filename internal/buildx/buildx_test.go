package buildx

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestBakeArgs(t *testing.T) {
	b := &Builder{Command: []string{"buildx"}, Name: "stagex-demo"}
	got := b.bakeArgs(Bake{
		File: "docker-bake.hcl", Push: true, NoCache: true,
		Vars:    map[string]string{"STAGEX_LOCK": "l.yaml", "REGISTRY": "r.test/x"},
		Set:     []string{"frontend.target=frontend-prebuilt"},
		Targets: []string{"base", "frontend"},
	})
	want := []string{"-f", "docker-bake.hcl", "--builder", "stagex-demo", "--push", "--no-cache",
		"--var", "REGISTRY=r.test/x", "--var", "STAGEX_LOCK=l.yaml", // sorted
		"--set", "frontend.target=frontend-prebuilt", "base", "frontend"}
	if !slices.Equal(got, want) {
		t.Errorf("bakeArgs =\n  %q\nwant\n  %q", got, want)
	}
	if got := (&Builder{}).bakeArgs(Bake{}); len(got) != 0 {
		t.Errorf("an empty bake has flags: %q", got)
	}
}

// readMetadata keeps the targets that exported an image and skips the
// other entries of the metadata file (warnings, cache-only targets).
func TestReadMetadata(t *testing.T) {
	p := filepath.Join(t.TempDir(), "meta.json")
	if err := os.WriteFile(p, []byte(`{
  "base": {"containerimage.digest": "sha256:aa", "image.name": "r.test/stagex-base:latest,r.test/stagex-base:1"},
  "example-app-test": {},
  "buildx.build.warnings": [{"vertex": "x"}]
}`), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := readMetadata(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res["base"].Digest != "sha256:aa" || !slices.Equal(res["base"].Names, []string{"r.test/stagex-base:latest", "r.test/stagex-base:1"}) {
		t.Errorf("results = %+v", res)
	}
	if err := os.WriteFile(p, []byte("not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readMetadata(p); err == nil {
		t.Error("a metadata file that is not JSON must be an error")
	}
}
