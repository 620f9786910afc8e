package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/buildkit/client"

	"edp.buildth.ing/devfw-cicd/stagex/internal/bed"
	"edp.buildth.ing/devfw-cicd/stagex/internal/fixtures"
	"edp.buildth.ing/devfw-cicd/stagex/internal/solve"
)

// The fixtures in the registry are exactly what the generator built.
func TestBedFixturesInRegistry(t *testing.T) {
	b := requireBed(t)
	set := pushedFixtures(t)
	fsLayer := set[fixtures.Filesystem].Layers[0]
	for _, n := range set.Names() {
		f := set[n]
		d, err := descriptorOf(f.Ref(b.RegistryAddr))
		if err != nil {
			t.Fatal(err)
		}
		if d.Digest.String() != f.Digest {
			t.Errorf("%s: registry has %s, built %s", n, d.Digest, f.Digest)
		}
		layers, err := layerDigests(f.TagRef(b.RegistryAddr))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(layers, " ") != strings.Join(f.Layers, " ") {
			t.Errorf("%s: registry layers %v, built %v", n, layers, f.Layers)
		}
		if n != fixtures.Filesystem && n != fixtures.PalletTools && (len(layers) != 2 || layers[0] != fsLayer) {
			t.Errorf("%s: layers %v do not start with core-filesystem's %s", n, layers, fsLayer)
		}
	}
	osRelease, err := readImageFile(set["core-hello"].Ref(b.RegistryAddr), "/etc/os-release")
	if err != nil || !strings.Contains(string(osRelease), "ID=stagex") {
		t.Errorf("core-hello /etc/os-release = %q, %v", osRelease, err)
	}
}

// writeDockerfile writes a Dockerfile into a fresh folder and returns it.
func writeDockerfile(t *testing.T, content string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runAndCheck builds FROM core-busybox + a RUN step on c, pushes the image
// and checks its layers and the file the RUN step wrote.
func runAndCheck(t *testing.T, c *client.Client, b *bed.Bed, set fixtures.Set, tag string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	base := set[fixtures.Busybox]
	// The fixture's user is 1000:1000, like StageX's; writing to / needs root.
	dir := writeDockerfile(t, fmt.Sprintf("FROM %s\nUSER 0:0\nRUN echo hello > /hello.txt\n", base.Ref(b.RegistryAddr)))
	ref := b.Ref("bedtest/hello:" + tag)
	res, err := solve.Dockerfile(ctx, c, solve.DockerfileBuild{DockerfileDir: dir, ContextDir: dir, Push: ref})
	if err != nil {
		t.Fatal(err)
	}
	pushed := b.Ref("bedtest/hello@" + res.Digest)
	layers, err := layerDigests(pushed)
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 3 || layers[0] != base.Layers[0] || layers[1] != base.Layers[1] {
		t.Fatalf("layers = %v, want [%s %s <run>]", layers, base.Layers[0], base.Layers[1])
	}
	got, err := readImageFile(pushed, "/hello.txt")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "hello\n" {
		t.Fatalf("/hello.txt = %q, want %q", got, "hello\n")
	}
	cfg, err := imageConfig(pushed)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.OS != "linux" || cfg.Architecture != "amd64" {
		t.Errorf("config platform %s/%s", cfg.OS, cfg.Architecture)
	}
	return pushed
}

// A Dockerfile FROM a fixture package with a RUN step (runc) goes through the
// real daemon and the registry.
func TestBedDockerfileRun(t *testing.T) {
	b := requireBed(t)
	set := pushedFixtures(t)
	ctx := context.Background()
	c, err := b.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t.Logf("pushed %s", runAndCheck(t, c, b, set, "a"))
}

// The second, independent daemon pulls from the same registry and builds too.
func TestBedSecondDaemon(t *testing.T) {
	b, second := requireBed(t), requireSecondBed(t)
	set := pushedFixtures(t)
	ctx := context.Background()
	c, err := second.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("second daemon: buildkit %s", info.BuildkitVersion.Version)
	t.Logf("pushed %s", runAndCheck(t, c, b, set, "b"))
}

// The frontend image carries the labels BuildKit reads from a frontend
// image, and runs ./cmd/frontend as its entrypoint.
func TestBedFrontendImage(t *testing.T) {
	ref := frontendImage(t)
	cfg, err := imageConfig(ref)
	if err != nil {
		t.Fatal(err)
	}
	labels := cfg.Config.Labels
	if labels["moby.buildkit.frontend.network.none"] != "true" {
		t.Errorf("network.none label = %q", labels["moby.buildkit.frontend.network.none"])
	}
	caps := labels["moby.buildkit.frontend.caps"]
	for _, want := range []string{"moby.buildkit.frontend.inputs", "moby.buildkit.frontend.subrequests", "moby.buildkit.frontend.contexts"} {
		if !strings.Contains(caps, want) {
			t.Errorf("caps label %q lacks %s", caps, want)
		}
	}
	if strings.Join(cfg.Config.Entrypoint, " ") != "/bin/frontend" {
		t.Errorf("entrypoint = %v", cfg.Config.Entrypoint)
	}
	if _, err := readImageFile(ref, "/bin/frontend"); err != nil {
		t.Errorf("frontend binary: %v", err)
	}
}
