package bake

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
	if got := (&Builder{}).bakeArgs(Bake{}); !slices.Equal(got, []string{"-f", File}) {
		t.Errorf("an empty bake has flags %q, want the default file", got)
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

// FromEnv takes the bed's builder from the variables `stagex bed env`
// prints, and refuses an environment that names none.
func TestFromEnv(t *testing.T) {
	env := [][2]string{{"STAGEX_BUILDKIT_ADDR", "unix:///b.sock"}, {EnvConfig, "/state/buildx"}, {EnvBuilder, "stagex-bed-demo"}}
	b, err := FromEnv("/bin/buildx", env)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(b.Command, []string{"/bin/buildx"}) || !slices.Equal(b.Env, []string{"BUILDX_CONFIG=/state/buildx"}) || b.Name != "stagex-bed-demo" {
		t.Errorf("builder = %+v", b)
	}
	if got := b.bakeArgs(Bake{}); !slices.Equal(got, []string{"-f", File, "--builder", "stagex-bed-demo"}) {
		t.Errorf("bake flags = %q", got)
	}
	for _, bad := range [][][2]string{nil, env[:2], {env[2]}} {
		if _, err := FromEnv("/bin/buildx", bad); err == nil {
			t.Errorf("FromEnv(%v) accepted", bad)
		}
	}
}
