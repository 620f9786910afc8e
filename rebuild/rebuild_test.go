package rebuild

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestParseProvenance reads what `make demo` recorded for stagex-base-java
// (BuildKit v0.34.2, SLSA v1, buildx bake; trimmed of the LLB and layers).
func TestParseProvenance(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "demo-base-java.provenance.json"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := parseProvenance(data)
	if err != nil {
		t.Fatal(err)
	}
	if b.Filename != "base-java.yaml" || b.ContextDir != "images" || b.Revision != "8674a6b66867732a9c36194b7f8a2579124825e6" {
		t.Errorf("spec %q in %q at %q", b.Filename, b.ContextDir, b.Revision)
	}
	if b.Args["SOURCE_DATE_EPOCH"] != "0" || b.Args["STAGEX_LOCK"] != ".fixtures/127.0.0.1_5500.lock.yaml" || b.Args["STAGEX_REGISTRY"] != "127.0.0.1:5500/stagex" {
		t.Errorf("args = %v", b.Args)
	}
	if _, ok := b.Args["cmdline"]; ok {
		t.Error("a frontend option was taken for a build arg")
	}
	if b.Syntax != "edp.buildth.ing/devfw-cicd/stagex-frontend:1" || b.SyntaxContext != "input:0-frontend" || len(b.Frontends) != 0 {
		t.Errorf("frontend: syntax %q context %q images %v", b.Syntax, b.SyntaxContext, b.Frontends)
	}
	// A frontend built in the same run is not pinned: the rebuilder must
	// name it, and is told so.
	if _, err := frontendImage(b, ""); err == nil || !strings.Contains(err.Error(), "--frontend") {
		t.Errorf("frontend without --frontend: %v", err)
	}
}

func TestFrontendFromProvenance(t *testing.T) {
	const d = "sha256:" + "ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12"
	pinned := Build{Syntax: "edp.buildth.ing/devfw-cicd/stagex-frontend:1", SyntaxContext: "docker-image://registry.test/stagex-frontend@" + d}
	if got, err := frontendImage(pinned, ""); err != nil || got != "registry.test/stagex-frontend@"+d {
		t.Errorf("docker-image context: %q, %v", got, err)
	}
	if ref, ok := dependencyImage("pkg:docker/registry.test/devfw-cicd/stagex-frontend@1?digest=" + d + "&platform=linux%2Famd64"); !ok || ref.String() != "registry.test/devfw-cicd/stagex-frontend@"+d {
		t.Errorf("purl: %v %v", ref, ok)
	}
	if _, ok := dependencyImage("http://127.0.0.1:5000/v2/x/blobs/" + d); ok {
		t.Error("an HTTP dependency taken for an image")
	}
}

func image(t *testing.T, label string, layers ...string) v1.Image {
	t.Helper()
	img := empty.Image
	var history []v1.History
	for _, l := range layers {
		var err error
		img, err = mutate.AppendLayers(img, static.NewLayer([]byte(l), types.OCILayer))
		if err != nil {
			t.Fatal(err)
		}
		history = append(history, v1.History{CreatedBy: "stagex: whole " + l})
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.History = history
	cf.Config.Labels = map[string]string{"org.opencontainers.image.version": label}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return mutate.MediaType(img, types.OCIManifestSchema1)
}

func TestCompare(t *testing.T) {
	a := image(t, "1", "filesystem", "musl")
	if d, err := Compare(a, image(t, "1", "filesystem", "musl")); err != nil || len(d) != 0 {
		t.Fatalf("equal images: %v, %v", d, err)
	}
	d, err := Compare(a, image(t, "2", "filesystem", "musl-tampered"))
	if err != nil {
		t.Fatal(err)
	}
	var what []string
	for _, x := range d {
		what = append(what, x.What)
	}
	for _, want := range []string{
		`config.config.Labels["org.opencontainers.image.version"]`,
		"config.history[1].created_by",
		"config.rootfs.diff_ids[1]",
		"layer 1 (stagex: whole musl)",
	} {
		if !slices.Contains(what, want) {
			t.Errorf("differences %q lack %q", what, want)
		}
	}
	if slices.Contains(what, "layer 0 (stagex: whole filesystem)") {
		t.Error("the equal layer 0 is reported")
	}
	d, err = Compare(a, image(t, "1", "filesystem"))
	if err != nil {
		t.Fatal(err)
	}
	var missing bool
	for _, x := range d {
		missing = missing || x.What == "layer 1 (stagex: whole musl)" && x.Rebuilt == "(none)"
	}
	if !missing {
		t.Errorf("a missing layer is not named: %v", d)
	}
}

// TestCheckoutAndLock: the spec comes from the revision's git objects (a
// file that was never committed is not there), an uncommitted lock must be
// named with --lock, and a revision the checkout lacks says to fetch it.
func TestCheckoutAndLock(t *testing.T) {
	ctx := context.Background()
	repo := t.TempDir()
	gitRun := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("git", append([]string{"-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.test"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	gitRun("init", "-q")
	for name, content := range map[string]string{"images/base.yaml": "committed\n", "images/.fixtures/f.lock.yaml": "untracked\n"} {
		p := filepath.Join(repo, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gitRun("add", "images/base.yaml")
	gitRun("commit", "-q", "-m", "spec")
	rev := gitRun("rev-parse", "HEAD")
	if err := os.WriteFile(filepath.Join(repo, "images", "base.yaml"), []byte("changed in the work tree\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	dir, err := checkout(ctx, repo, rev, "images", filepath.Join(t.TempDir(), "src"))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "base.yaml")); err != nil || string(b) != "committed\n" {
		t.Errorf("base.yaml = %q, %v; want the committed content", b, err)
	}
	args := map[string]string{"STAGEX_LOCK": ".fixtures/f.lock.yaml"}
	if err := placeLock(dir, "base.yaml", "", args); err == nil || !strings.Contains(err.Error(), "--lock") {
		t.Errorf("an uncommitted lock without --lock: %v", err)
	}
	if err := placeLock(dir, "base.yaml", filepath.Join(repo, "images", ".fixtures", "f.lock.yaml"), args); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, args["STAGEX_LOCK"])); err != nil || string(b) != "untracked\n" {
		t.Errorf("--lock: STAGEX_LOCK=%s holds %q, %v", args["STAGEX_LOCK"], b, err)
	}
	if _, err := checkout(ctx, repo, strings.Repeat("0", 40), "images", t.TempDir()); err == nil || !strings.Contains(err.Error(), "fetch") {
		t.Errorf("a revision the checkout lacks: %v", err)
	}
}
