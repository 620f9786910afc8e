package integration

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/frontend"
	"edp.buildth.ing/devfw-cicd/stagex/hack/imageset"
	"edp.buildth.ing/devfw-cicd/stagex/internal/bed"
	"edp.buildth.ing/devfw-cicd/stagex/internal/fixtures"
	"edp.buildth.ing/devfw-cicd/stagex/internal/repo"
	"edp.buildth.ing/devfw-cicd/stagex/internal/solve"

	"edp.buildth.ing/devfw-cicd/stagex/spec"
)

// The image set, built once per test binary by the pinned buildx from
// docker-bake.hcl (default group) on bed a, against the fixtures.
var (
	bakeOnce    sync.Once
	bakeSet     *bakedSet
	bakeErr     error
	bakeBuilder *imageset.Builder
)

type bakedSet struct {
	root     string
	offline  *imageset.Offline
	results  map[string]imageset.Result
	images   map[string]*imageset.Image // by target
	specs    map[string]*spec.Spec
	log      string
	registry string
}

// bakeAll runs `buildx bake` of the default group once: buildx's remote
// driver onto bed a, fixtures and the fixture lock in its registry, the
// frontend target packing ./cmd/frontend built here.
func bakeAll(t *testing.T) *bakedSet {
	t.Helper()
	b := requireBed(t)
	buildx, err := bed.Tool("buildx")
	if err != nil {
		t.Fatal(err)
	}
	bakeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		bakeSet, bakeErr = bake(ctx, b, buildx)
	})
	if bakeErr != nil {
		t.Fatalf("bake: %v", bakeErr)
	}
	return bakeSet
}

func bake(ctx context.Context, b *bed.Bed, buildx string) (*bakedSet, error) {
	root, err := repo.Root()
	if err != nil {
		return nil, err
	}
	work, err := imageset.WorkDir(root, "it-bake")
	if err != nil {
		return nil, err
	}
	tmp, err := tempRoot()
	if err != nil {
		return nil, err
	}
	off, err := imageset.PrepareOffline(ctx, root, b.RegistryAddr, work)
	if err != nil {
		return nil, err
	}
	bakeBuilder, err = imageset.RemoteBuilder(ctx, buildx, tmp+"/buildx", "stagex-it-bake", b.BuildkitAddr)
	if err != nil {
		return nil, err
	}
	var log bytes.Buffer
	bk := off.Bake(b.RegistryAddr + "/it-bake")
	bk.Targets = nil // the bake file's default group
	bk.Output = &log
	results, err := bakeBuilder.Run(ctx, bk)
	if err != nil {
		return nil, fmt.Errorf("%w\n--- buildx output (tail) ---\n%s", err, solve.TailLines(log.String(), 60))
	}
	imgs, err := imageset.InspectAll(ctx, imageset.AllTargets(), results)
	if err != nil {
		return nil, err
	}
	specs, err := imageset.Specs(root)
	if err != nil {
		return nil, err
	}
	s := &bakedSet{root: root, offline: off, results: results, images: map[string]*imageset.Image{}, specs: specs, log: log.String(), registry: b.RegistryAddr}
	for _, img := range imgs {
		s.images[img.Target] = img
	}
	return s, nil
}

// TestBakeBuildsEveryTarget: the default group is the eight images and the
// frontend, every image is pushed as an index with its linux/amd64 manifest,
// and each image carries both attestations, SBOM and provenance.
func TestBakeBuildsEveryTarget(t *testing.T) {
	s := bakeAll(t)
	var targets []string
	for tg := range s.results {
		targets = append(targets, tg)
	}
	slices.Sort(targets)
	want := imageset.AllTargets()
	slices.Sort(want)
	if !slices.Equal(targets, want) {
		t.Fatalf("bake built %v, want the default group %v", targets, want)
	}
	for _, tg := range imageset.Images {
		img := s.images[tg]
		names := imageset.PredicateNames(img.Predicates)
		if !slices.Equal(names, []string{"check", "provenance", "sbom"}) {
			t.Errorf("%s: attestations %v (%v), want check, provenance and sbom", tg, names, img.Predicates)
		}
		// The bake file checks every image; on the fixtures, the images whose
		// programs are stand-ins warn and report their tests not run.
		wantMode, wantStatus := frontend.CheckWarn, frontend.TestNotRun
		if slices.Contains(imageset.FixtureTestImages, tg) {
			wantMode, wantStatus = frontend.CheckStrict, frontend.TestPassed
		}
		if c := img.Check; c == nil || c.Mode != wantMode {
			t.Errorf("%s: check attestation %+v, want mode %s", tg, c, wantMode)
		} else {
			for _, tr := range c.Tests {
				if tr.Status != wantStatus {
					t.Errorf("%s: smoke test %s %s %s, want %s", tg, tr.Name, tr.Status, tr.Reason, wantStatus)
				}
			}
		}
		if img.Config.OS != "linux" || img.Config.Architecture != "amd64" {
			t.Errorf("%s: platform %s/%s", tg, img.Config.OS, img.Config.Architecture)
		}
		if got := s.results[tg].Names; len(got) != 1 || got[0] != s.registry+"/it-bake/"+imageset.Repo(tg)+":latest" {
			t.Errorf("%s: pushed as %v", tg, got)
		}
	}
	t.Logf("bake: %d targets pushed to %s/it-bake", len(s.results), s.registry)
}

// expectedLayers are the upstream blobs an image must start with: the
// fixture base's layers, then each package's own layer (or all of a package
// that is not built FROM the base), in spec order.
func expectedLayers(t *testing.T, s *bakedSet, sp *spec.Spec) []string {
	t.Helper()
	r, err := spec.Resolve(sp, s.offline.Fixtures.Lock, spec.ResolveOptions{Platform: imageset.Platform})
	if err != nil {
		t.Fatal(err)
	}
	base := s.offline.Fixtures.Set[r.Base.Name].Layers
	want := slices.Clone(base)
	for _, p := range r.Packages {
		l := s.offline.Fixtures.Set[p.Name].Layers
		if len(l) > len(base) && slices.Equal(l[:len(base)], base) {
			l = l[len(base):]
		}
		want = append(want, l...)
	}
	return want
}

// TestBakeImagesLayersAndConfig checks every image built from the fixtures:
// the upstream layers in spec order, then one layer per archive, then the
// generated layer; one history entry per layer; the spec's entrypoint, cmd,
// user, workdir and env.
func TestBakeImagesLayersAndConfig(t *testing.T) {
	s := bakeAll(t)
	for _, tg := range imageset.Images {
		t.Run(tg, func(t *testing.T) {
			img, sp := s.images[tg], s.specs[tg]
			var got []string
			for _, l := range img.LayerDescrs {
				got = append(got, l.Digest.String())
			}
			want := expectedLayers(t, s, sp)
			generated := len(sp.Accounts.Users)+len(sp.Accounts.Groups)+len(sp.Paths)+len(sp.Copy) > 0
			extra := len(sp.Archives)
			if generated {
				extra++
			}
			if len(got) != len(want)+extra || !slices.Equal(got[:len(want)], want) {
				t.Fatalf("layers =\n  %s\nwant the upstream blobs\n  %s\nthen %d archive and generated layer(s)", strings.Join(got, "\n  "), strings.Join(want, "\n  "), extra)
			}
			cfg := img.Config
			if len(cfg.History) != len(got) {
				t.Errorf("%d history entries for %d layers", len(cfg.History), len(got))
			}
			for i, a := range sp.Archives {
				h := cfg.History[len(want)+i].CreatedBy
				if !strings.Contains(h, "archive "+a.Name) || !strings.Contains(h, "not from StageX") {
					t.Errorf("history of archive layer %d = %q", len(want)+i, h)
				}
			}
			if generated && !strings.Contains(cfg.History[len(cfg.History)-1].CreatedBy, "generated layer") {
				t.Errorf("last history entry = %q, want the generated layer", cfg.History[len(cfg.History)-1].CreatedBy)
			}
			c := cfg.Config
			if c.User != sp.Config.User || c.WorkingDir != sp.Config.Workdir ||
				!slices.Equal(c.Entrypoint, sp.Config.Entrypoint) || !slices.Equal(c.Cmd, sp.Config.Cmd) {
				t.Errorf("config: user %q workdir %q entrypoint %q cmd %q; spec: %q %q %q %q",
					c.User, c.WorkingDir, c.Entrypoint, c.Cmd, sp.Config.User, sp.Config.Workdir, sp.Config.Entrypoint, sp.Config.Cmd)
			}
			if c.User == "" || strings.HasPrefix(c.User, "0") || strings.HasPrefix(c.User, "root") {
				t.Errorf("user %q: the images run as non-root", c.User)
			}
			for k, v := range sp.Config.Env {
				if !slices.Contains(c.Env, k+"="+v) {
					t.Errorf("env %v lacks %s=%s", c.Env, k, v)
				}
			}
		})
	}
}

// shellNames are the file names that are a shell.
var shellNames = []string{"sh", "ash", "bash", "dash", "zsh", "ksh", "busybox", "toybox"}

// layerFiles lists every entry of every layer of an image, by layer.
func layerFiles(t *testing.T, ref string) [][]*tar.Header {
	t.Helper()
	img, err := remoteImage(ref)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]*tar.Header
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		var hs []*tar.Header
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			hs = append(hs, h)
		}
		rc.Close()
		out = append(out, hs)
	}
	return out
}

func imageRef(s *bakedSet, target string) string {
	return s.registry + "/it-bake/" + imageset.Repo(target) + "@" + s.images[target].Digest
}

// TestBakeNoShellWhereNoneIsAllowed: base-static has no shell in any layer,
// and a RUN through /bin/sh in it fails; every other image has busybox's sh,
// which shows the scan finds a shell where there is one.
func TestBakeNoShellWhereNoneIsAllowed(t *testing.T) {
	s := bakeAll(t)
	for _, tg := range imageset.Images {
		var shells []string
		for i, layer := range layerFiles(t, imageRef(s, tg)) {
			for _, h := range layer {
				if slices.Contains(shellNames, path.Base(h.Name)) {
					shells = append(shells, fmt.Sprintf("layer %d: /%s", i, strings.TrimPrefix(h.Name, "./")))
				}
			}
		}
		allowed := slices.ContainsFunc(s.specs[tg].Packages, func(p spec.PackageRef) bool { return p.Ref == fixtures.Busybox })
		switch {
		case !allowed && len(shells) > 0:
			t.Errorf("%s must have no shell, has %v", tg, shells)
		case allowed && !slices.ContainsFunc(shells, func(s string) bool { return strings.HasSuffix(s, ": /usr/bin/sh") }):
			t.Errorf("%s composes busybox, yet no /usr/bin/sh in its busybox layer: %v", tg, shells)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := client1(ctx, t)
	dir := writeDockerfile(t, "FROM "+imageRef(s, "base-static")+"\nRUN [\"/bin/sh\", \"-c\", \"true\"]\n")
	_, err := solve.Dockerfile(ctx, c, solve.DockerfileBuild{DockerfileDir: dir, ContextDir: dir})
	if err == nil || !strings.Contains(err.Error(), "no such file or directory") {
		t.Fatalf("RUN /bin/sh in base-static: err = %v, want no such file", err)
	}
}

// TestBakeJavaArchive: the JRE (here the fixture archive, through the
// fixture lock's pin) lands at /opt/java/openjdk in a layer of its own,
// owned by root with every time at the epoch, the image says it is not from
// StageX, and its entrypoint runs.
func TestBakeJavaArchive(t *testing.T) {
	s := bakeAll(t)
	ref := imageRef(s, "base-java")
	fa := s.offline.Fixtures.Archives["temurin-jre"]
	layers := layerFiles(t, ref)
	archive := layers[len(layers)-2] // then the generated layer
	var listing []string
	for _, h := range archive {
		listing = append(listing, fmt.Sprintf("%s %o %d:%d", strings.TrimSuffix(h.Name, "/"), h.Mode, h.Uid, h.Gid))
		if !h.ModTime.Equal(time.Unix(0, 0)) {
			t.Errorf("%s: time %v, want the epoch (SOURCE_DATE_EPOCH=0)", h.Name, h.ModTime)
		}
	}
	want := []string{
		"opt 755 0:0", "opt/java 755 0:0", "opt/java/openjdk 755 0:0",
		"opt/java/openjdk/README 644 0:0",
		"opt/java/openjdk/bin 755 0:0", "opt/java/openjdk/bin/java 755 0:0",
		"opt/java/openjdk/lib 755 0:0", "opt/java/openjdk/lib/libjli.so 755 0:0",
		"opt/java/openjdk/release 644 0:0",
	}
	if !slices.Equal(listing, want) {
		t.Errorf("archive layer =\n  %s\nwant (strip-components 1, root-owned)\n  %s", strings.Join(listing, "\n  "), strings.Join(want, "\n  "))
	}
	javaHome, err := readImageFile(ref, "/opt/java/openjdk/release")
	if err != nil || !strings.Contains(string(javaHome), "stagex test fixture") {
		t.Errorf("/opt/java/openjdk/release = %q, %v", javaHome, err)
	}

	cfg := s.images["base-java"].Config
	label := cfg.Config.Labels["ing.buildth.edp.stagex.archive.temurin-jre"]
	if !strings.Contains(label, fa.URL) || !strings.Contains(label, "sha256:"+fa.SHA256) || !strings.Contains(label, "not from StageX") {
		t.Errorf("archive label = %q, want the fixture URL, its sha256 and \"not from StageX\"", label)
	}
	for _, e := range []string{"JAVA_HOME=/opt/java/openjdk", "PATH=/opt/java/openjdk/bin:/usr/local/bin:/usr/bin:/bin"} {
		if !slices.Contains(cfg.Config.Env, e) {
			t.Errorf("env %v lacks %s", cfg.Config.Env, e)
		}
	}

	// The entrypoint runs, as the image's user (the fixture java is a
	// shell script on busybox's sh).
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := client1(ctx, t)
	dir := writeDockerfile(t, "FROM "+ref+"\nRUN [\"/opt/java/openjdk/bin/java\", \"-version\"]\nRUN [\"/usr/bin/id\", \"-u\"]\n")
	res, err := solve.Dockerfile(ctx, c, solve.DockerfileBuild{DockerfileDir: dir, ContextDir: dir, Attrs: map[string]string{"no-cache": ""}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Log, "stagex fixture JRE") || !strings.Contains(res.Log, "  65532\n") {
		t.Errorf("java -version / id -u output not found in the build log:\n%s", solve.TailLines(res.Log, 30))
	}
}

// TestBakeNamedContextReplacesSyntaxImage records what makes the bake file
// work offline, checked on BuildKit v0.34.2: the named context
// "edp.buildth.ing/devfw-cicd/stagex-frontend:1" = "target:frontend"
// replaces the specs' syntax image with the frontend built in the same run,
// and the original is never pulled (this bed reaches no registry but its
// own, and the provenance names no such material). With FRONTEND_IMAGE, a
// published frontend image is used instead, and the image comes out the
// same.
func TestBakeNamedContextReplacesSyntaxImage(t *testing.T) {
	s := bakeAll(t)
	type provenance struct {
		Provenance struct {
			Materials []struct {
				URI string `json:"uri"`
			} `json:"materials"`
			Invocation struct {
				Parameters struct {
					Frontend string            `json:"frontend"`
					Args     map[string]string `json:"args"`
				} `json:"parameters"`
			} `json:"invocation"`
		} `json:"buildx.build.provenance"`
	}
	read := func(raw json.RawMessage) provenance {
		var p provenance
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tg := range imageset.Images {
		p := read(s.results[tg].Raw).Provenance
		args := p.Invocation.Parameters.Args
		if args["source"] != imageset.FrontendSyntax || !strings.HasPrefix(args["context:"+imageset.FrontendSyntax], "input:") ||
			!strings.HasSuffix(args["context:"+imageset.FrontendSyntax], "-frontend") {
			t.Errorf("%s: source %q, context %q; want the syntax image replaced by the frontend target's input",
				tg, args["source"], args["context:"+imageset.FrontendSyntax])
		}
		for _, m := range p.Materials {
			if strings.Contains(m.URI, "edp.buildth.ing") {
				t.Errorf("%s: the syntax image was resolved anyway: material %s", tg, m.URI)
			}
		}
	}

	// A published frontend: the one this bake pushed, by digest.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	published := s.registry + "/it-bake/" + imageset.Repo(imageset.FrontendTarget) + "@" + s.results[imageset.FrontendTarget].Digest
	var log bytes.Buffer
	bk := s.offline.Bake(s.registry+"/it-bake-published", "base")
	bk.Vars["FRONTEND_IMAGE"] = published
	bk.Output = &log
	results, err := bakeBuilder.Run(ctx, bk)
	if err != nil {
		t.Fatalf("%v\n%s", err, solve.TailLines(log.String(), 40))
	}
	if _, built := results[imageset.FrontendTarget]; built || len(results) != 1 {
		t.Errorf("with FRONTEND_IMAGE, bake built %d targets (frontend: %v), want base only", len(results), built)
	}
	p := read(results["base"].Raw).Provenance
	if got := p.Invocation.Parameters.Args["context:"+imageset.FrontendSyntax]; got != "docker-image://"+published {
		t.Errorf("context = %q, want docker-image://%s", got, published)
	}
	imgs, err := imageset.InspectAll(ctx, []string{"base"}, results)
	if err != nil {
		t.Fatal(err)
	}
	if imgs[0].Digest != s.images["base"].Digest {
		t.Errorf("base with the published frontend = %s, with the frontend target = %s: the same frontend must compose the same image", imgs[0].Digest, s.images["base"].Digest)
	}
}
