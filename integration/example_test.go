package integration

import (
	"bytes"
	"context"
	"debug/elf"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/hack/imageset"
	"edp.buildth.ing/devfw-cicd/stagex/internal/fixtures"
	"edp.buildth.ing/devfw-cicd/stagex/internal/solve"
)

// TestReferenceApp bakes the group "examples" after the image set: the
// reference application is built from source in the base-go just built
// (its core-go fixture is the host toolchain in StageX's layout), composed
// on base-static's packages, started in its own image with network none and
// asked over loopback (examples/Dockerfile, stage test). It checks the
// answers, that the image is base-static's upstream layers plus one
// generated layer holding a static program, and that a second build
// without cache gives the same platform manifest digest.
func TestReferenceApp(t *testing.T) {
	s := bakeAll(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	prefix := s.registry + "/it-bake"
	// Inside the repository: bake writes a local output elsewhere only
	// with an fs.write entitlement.
	out, err := imageset.WorkDir(s.root, "it-example-app-test")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(out); err != nil {
		t.Fatal(err)
	}

	build := func(noCache bool) *imageset.Image {
		t.Helper()
		var log bytes.Buffer
		bk := s.offline.BakeExamples(prefix, out, noCache)
		bk.Output = &log
		res, err := bakeBuilder.Run(ctx, bk)
		if err != nil {
			t.Fatalf("%v\n--- buildx output (tail) ---\n%s", err, solve.TailLines(log.String(), 60))
		}
		imgs, err := imageset.InspectAll(ctx, []string{imageset.AppTarget}, res)
		if err != nil {
			t.Fatal(err)
		}
		return imgs[0]
	}
	app := build(false)

	answers, err := imageset.CheckAppAnswers(s.root, out)
	if err != nil {
		t.Fatal(err)
	}
	if len(answers) != 2 {
		t.Errorf("answers %+v, want root.json and healthz.txt", answers)
	}

	var layers []string
	for _, l := range app.LayerDescrs {
		layers = append(layers, l.Digest.String())
	}
	upstream := expectedLayers(t, s, s.specs["base-static"])
	if len(layers) != len(upstream)+1 || !slices.Equal(layers[:len(upstream)], upstream) {
		t.Errorf("layers %v, want base-static's upstream layers %v and one generated layer", layers, upstream)
	}
	c := app.Config.Config
	if !slices.Equal(c.Entrypoint, []string{"/usr/local/bin/hello-service"}) || c.User != "65532:65532" {
		t.Errorf("entrypoint %q, user %q", c.Entrypoint, c.User)
	}
	ref := prefix + "/" + imageset.Repo(imageset.AppTarget) + "@" + app.Digest
	bin, err := readImageFile(ref, "/usr/local/bin/hello-service")
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		t.Fatalf("hello-service: %v", err)
	}
	needed, err := f.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("hello-service has a PT_INTERP: not static, and base-static has no loader")
		}
	}
	if len(needed) != 0 {
		t.Errorf("hello-service needs %v; base-static has no libraries", needed)
	}
	for _, sh := range []string{"/bin/sh", "/usr/bin/sh", "/usr/bin/busybox"} {
		if _, err := readImageFile(ref, sh); err == nil {
			t.Errorf("the application image has %s", sh)
		}
	}

	again := build(true)
	if again.Digest != app.Digest {
		t.Fatalf("second build without cache: %s, first %s: the reference application is not reproducible", again.Digest, app.Digest)
	}
	t.Logf("%s: %s, twice", imageset.Repo(imageset.AppTarget), app.Digest)
}

// TestELFFixturesRunInBuildKit composes the ELF fixtures with the frontend
// and runs them with runc: musl's loader from core-musl loads
// core-libhello's library for hello, and refuses hello-broken, naming the
// library no package ships.
func TestELFFixturesRunInBuildKit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	b := requireBed(t)
	c := client1(ctx, t)
	dir := specDir(t, frontendImage(t), "version: 1\nname: elf\npackages: ["+
		strings.Join([]string{fixtures.Musl, fixtures.LibHello, fixtures.Hello, fixtures.HelloBroken}, ", ")+"]\n")
	composed, err := buildSpec(ctx, t, c, dir, b.Ref("it/elf:1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	from := b.Ref("it/elf@" + composed.Digest)

	res, err := solve.Dockerfile(ctx, c, solve.DockerfileBuild{
		DockerfileDir: writeDockerfile(t, "FROM "+from+"\nRUN --network=none [\"/usr/bin/hello\"]\n"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Log, fixtures.HelloOutput) {
		t.Errorf("RUN /usr/bin/hello did not print %q:\n%s", fixtures.HelloOutput, res.Log)
	}

	res, err = solve.Dockerfile(ctx, c, solve.DockerfileBuild{
		DockerfileDir: writeDockerfile(t, "FROM "+from+"\nRUN --network=none [\"/usr/bin/hello-broken\"]\n"),
	})
	if err == nil {
		t.Fatalf("RUN /usr/bin/hello-broken succeeded:\n%s", res.Log)
	}
	if !strings.Contains(err.Error(), fixtures.MissingSoname) {
		t.Errorf("RUN /usr/bin/hello-broken failed without naming %s: %v", fixtures.MissingSoname, err)
	}
}
