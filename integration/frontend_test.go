package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/buildkit/client"
	gateway "github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/frontend/subrequests/lint"
	"github.com/moby/buildkit/frontend/subrequests/outline"
	"github.com/moby/buildkit/frontend/subrequests/targets"
	"github.com/tonistiigi/fsutil"

	"edp.buildth.ing/devfw-cicd/stagex/internal/bed"
	"edp.buildth.ing/devfw-cicd/stagex/internal/fixtures"
	"edp.buildth.ing/devfw-cicd/stagex/internal/solve"
)

// appSpec exercises every part of the composition: a package built FROM the
// base (Diff), one that is not (merged whole), accounts, paths through the
// merged-/usr links, and a copy from the build context.
const appSpec = `version: 1
name: app
description: integration test image
packages:
  - core-musl
  - core-busybox
  - pallet-tools
config:
  env: {APP_MODE: test}
  user: app
  workdir: /home/app
  entrypoint: [/usr/bin/app]
  cmd: [serve]
  labels: {org.example.team: platform}
  expose: ["8080/tcp"]
  volumes: [/data]
  stop-signal: SIGTERM
annotations: {org.opencontainers.image.vendor: EDP}
accounts:
  groups: [{name: app, gid: 65532}]
  users:  [{name: app, uid: 65532, gid: 65532, home: /home/app}]
paths:
  - {path: /home/app, type: directory, mode: "0750", uid: 65532, gid: 65532}
  - {path: /etc/app.conf, type: file, mode: "0640", content: "key=value\n"}
  - {path: /bin/sh-link, type: symlink, target: busybox}
copy:
  - {src: dist/app, dst: /usr/bin/app, mode: "0755"}
`

// specDir writes a spec (after a syntax line naming the frontend image), the
// fixture lock beside it, and a build context with dist/app. It returns the
// folder, which serves as both the dockerfile and the context local.
func specDir(t *testing.T, frontend, body string) string {
	t.Helper()
	b := requireBed(t)
	dir := t.TempDir()
	write := func(name, content string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("stagex.yaml", "# syntax="+frontend+"\n"+body)
	lock, err := fixtures.NewLock(b.RegistryAddr, pushedFixtures(t)).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	write("stagex.lock.yaml", string(lock))
	write("dist/app", "#!/bin/sh\necho app\n")
	return dir
}

func buildSpec(ctx context.Context, t *testing.T, c *client.Client, dir, push string, args map[string]string) (*solve.Result, error) {
	t.Helper()
	return solve.Dockerfile(ctx, c, solve.DockerfileBuild{
		DockerfileDir: dir,
		ContextDir:    dir,
		Filename:      "stagex.yaml",
		BuildArgs:     args,
		Push:          push,
	})
}

func client1(ctx context.Context, t *testing.T) *client.Client {
	t.Helper()
	c, err := requireBed(t).Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestSpecBuildsThroughSyntax builds a spec with BuildKit's Dockerfile
// frontend, which forwards to this frontend's image through the syntax line,
// exactly as users build. It checks the pushed image layer by layer.
func TestSpecBuildsThroughSyntax(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	b := requireBed(t)
	fx := pushedFixtures(t)
	dir := specDir(t, frontendImage(t), appSpec)
	c := client1(ctx, t)

	ref := b.Ref("it/app:syntax")
	res, err := buildSpec(ctx, t, c, dir, ref, map[string]string{"SOURCE_DATE_EPOCH": "1700000000"})
	if err != nil {
		t.Fatal(err)
	}
	pushed := b.Ref("it/app@" + res.Digest)

	// The layers are the upstream blobs, byte for byte, each once, in spec
	// order, then one generated layer.
	want := []string{
		fx["core-filesystem"].Layers[0],
		fx["core-musl"].Layers[1],
		fx["core-busybox"].Layers[1],
	}
	want = append(want, fx["pallet-tools"].Layers...)
	got, err := layerDigests(pushed)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want)+1 || !slices.Equal(got[:len(want)], want) {
		t.Fatalf("layers =\n  %s\nwant the upstream blobs\n  %s\nplus one generated layer", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	for _, l := range got {
		if n := strings.Count(strings.Join(got, " "), l); n != 1 {
			t.Errorf("layer %s appears %d times", l, n)
		}
	}

	// The config is the spec's.
	cfg, err := imageConfig(pushed)
	if err != nil {
		t.Fatal(err)
	}
	cc := cfg.Config
	if cc.User != "app" || cc.WorkingDir != "/home/app" || cc.StopSignal != "SIGTERM" ||
		!slices.Equal(cc.Entrypoint, []string{"/usr/bin/app"}) || !slices.Equal(cc.Cmd, []string{"serve"}) {
		t.Errorf("config = user %q workdir %q stop %q entrypoint %q cmd %q", cc.User, cc.WorkingDir, cc.StopSignal, cc.Entrypoint, cc.Cmd)
	}
	if !slices.Equal(cc.Env, []string{"APP_MODE=test", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}) {
		t.Errorf("env = %q", cc.Env)
	}
	if _, ok := cc.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("exposed ports = %v", cc.ExposedPorts)
	}
	if _, ok := cc.Volumes["/data"]; !ok {
		t.Errorf("volumes = %v", cc.Volumes)
	}
	for k, v := range map[string]string{
		"org.example.team":                     "platform",
		"org.opencontainers.image.title":       "app",
		"org.opencontainers.image.description": "integration test image",
		"org.opencontainers.image.created":     "2023-11-14T22:13:20Z",
	} {
		if cc.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, cc.Labels[k], v)
		}
	}
	if !cfg.Created.Time.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("created = %v, want SOURCE_DATE_EPOCH", cfg.Created)
	}
	if len(cfg.History) != len(got) {
		t.Errorf("%d history entries for %d layers", len(cfg.History), len(got))
	}
	for i, h := range cfg.History[:len(want)] {
		if !strings.Contains(h.CreatedBy, "@sha256:") {
			t.Errorf("history %d does not name its package by digest: %q", i, h.CreatedBy)
		}
	}
	m, err := imageManifest(pushed)
	if err != nil {
		t.Fatal(err)
	}
	if m.Annotations["org.opencontainers.image.vendor"] != "EDP" {
		t.Errorf("manifest annotations = %v", m.Annotations)
	}

	// The generated files.
	for file, want := range map[string]string{
		"/etc/app.conf": "key=value\n",
		"/usr/bin/app":  "#!/bin/sh\necho app\n",
	} {
		if got, err := readImageFile(pushed, file); err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", file, got, err, want)
		}
	}
	passwd, err := readImageFile(pushed, "/etc/passwd")
	if err != nil || !bytes.HasPrefix(passwd, []byte("root:x:0:0:")) || !bytes.HasSuffix(passwd, []byte("\napp:x:65532:65532::/home/app:/sbin/nologin\n")) {
		t.Errorf("/etc/passwd = %q, %v; want the base's accounts, then app", passwd, err)
	}
	// /bin/sh-link went through the base's /bin -> usr/bin link.
	busybox, err := readImageFile(pushed, "/usr/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	if link, err := readImageFile(pushed, "/usr/bin/sh-link"); err != nil || !bytes.Equal(link, busybox) {
		t.Errorf("/usr/bin/sh-link does not lead to busybox: %v", err)
	}
	// The generated layer holds exactly what the spec asked for, with the
	// owners and modes it asked for, and no /bin that would replace the link.
	entries, err := layerEntries(pushed, -1)
	if err != nil {
		t.Fatal(err)
	}
	var listing []string
	for _, e := range entries {
		listing = append(listing, fmt.Sprintf("%s %c %o %d:%d %s", e.Name, e.Type, e.Mode, e.UID, e.GID, e.Linkname))
	}
	wantListing := []string{
		"/etc 5 755 0:0 ",
		"/etc/app.conf 0 640 0:0 ",
		"/etc/group 0 644 0:0 ",
		"/etc/passwd 0 644 0:0 ",
		"/home 5 755 0:0 ",
		"/home/app 5 750 65532:65532 ",
		"/usr 5 755 0:0 ",
		"/usr/bin 5 755 0:0 ",
		"/usr/bin/app 0 755 0:0 ",
		"/usr/bin/sh-link 2 777 0:0 busybox",
	}
	if !slices.Equal(listing, wantListing) {
		t.Errorf("generated layer =\n  %s\nwant\n  %s", strings.Join(listing, "\n  "), strings.Join(wantListing, "\n  "))
	}
}

// TestSpecBuildsWithBuildctl drives the real buildctl command line, the way
// the README tells users to.
func TestSpecBuildsWithBuildctl(t *testing.T) {
	b := requireBed(t)
	buildctl, err := bed.Tool("buildctl")
	if err != nil {
		t.Fatal(err)
	}
	dir := specDir(t, frontendImage(t), "version: 1\nname: cli\npackages: [core-musl, core-busybox]\n")
	meta := filepath.Join(t.TempDir(), "metadata.json")
	ref := b.Ref("it/cli:1")
	cmd := exec.Command(buildctl, "--addr", b.BuildkitAddr, "build",
		"--frontend", "dockerfile.v0",
		"--local", "context="+dir, "--local", "dockerfile="+dir,
		"--opt", "filename=stagex.yaml",
		"--output", "type=image,name="+ref+",push=true,oci-mediatypes=true",
		"--metadata-file", meta)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("buildctl: %v\n%s", err, out)
	}
	layers, err := layerDigests(b.Ref("it/cli@" + metadataDigest(t, meta)))
	if err != nil {
		t.Fatal(err)
	}
	fx := pushedFixtures(t)
	want := []string{fx["core-filesystem"].Layers[0], fx["core-musl"].Layers[1], fx["core-busybox"].Layers[1]}
	if !slices.Equal(layers, want) {
		t.Fatalf("layers = %v, want exactly the upstream blobs %v (no generated layer)", layers, want)
	}
}

// TestReproducibleAcrossDaemons builds the same spec on two independent
// daemons, more than a second apart, and compares the manifest digests.
func TestReproducibleAcrossDaemons(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	b, second := requireBed(t), requireSecondBed(t)
	dir := specDir(t, frontendImage(t), appSpec)
	c1 := client1(ctx, t)
	c2, err := second.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()

	args := map[string]string{"SOURCE_DATE_EPOCH": "1700000000"}
	r1, err := buildSpec(ctx, t, c1, dir, b.Ref("it/repro:a"), args)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // a wall-clock leak would now show
	r2, err := buildSpec(ctx, t, c2, dir, b.Ref("it/repro:b"), args)
	if err != nil {
		t.Fatal(err)
	}
	if r1.Digest != r2.Digest {
		t.Fatalf("daemon a built %s, daemon b built %s: the build is not reproducible", r1.Digest, r2.Digest)
	}
	t.Logf("both daemons: %s", r1.Digest)

	// Another epoch must change the image: the epoch really is an input.
	r3, err := buildSpec(ctx, t, c2, dir, b.Ref("it/repro:c"), map[string]string{"SOURCE_DATE_EPOCH": "1700000001"})
	if err != nil {
		t.Fatal(err)
	}
	if r3.Digest == r1.Digest {
		t.Fatal("another SOURCE_DATE_EPOCH gave the same digest")
	}
}

// TestUnpinnedReferenceFails: a reference without a digest stops the build
// with the spec's file and line, and nothing is pushed.
func TestUnpinnedReferenceFails(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b := requireBed(t)
	musl := pushedFixtures(t)["core-musl"]
	tagged := musl.TagRef(b.RegistryAddr)
	dir := specDir(t, frontendImage(t), "version: 1\npackages:\n  - core-busybox\n  - "+tagged+"\n")
	c := client1(ctx, t)

	ref := b.Ref("it/unpinned:1")
	_, err := buildSpec(ctx, t, c, dir, ref, nil)
	if err == nil {
		t.Fatal("an unpinned reference built")
	}
	for _, want := range []string{"stagex.yaml:5:", "STAGEX_ALLOW_UNPINNED"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if _, err := descriptorOf(ref); err == nil {
		t.Fatal("the failed build pushed an image")
	}

	// Allowed, it builds and is pinned to what the registry serves.
	res, err := buildSpec(ctx, t, c, dir, ref, map[string]string{"STAGEX_ALLOW_UNPINNED": "1"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := imageConfig(b.Ref("it/unpinned@" + res.Digest))
	if err != nil {
		t.Fatal(err)
	}
	if last := cfg.History[len(cfg.History)-1].CreatedBy; !strings.Contains(last, musl.Digest) {
		t.Errorf("the unpinned package was not pinned to %s: %q", musl.Digest, last)
	}
}

// TestSpecErrorsPointAtTheLine: bad input fails with file:line:column, via
// the daemon, before anything is pulled or pushed.
func TestSpecErrorsPointAtTheLine(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b := requireBed(t)
	fe := frontendImage(t)
	c := client1(ctx, t)
	for _, tc := range []struct {
		name, body string
		args       map[string]string
		want       []string
	}{
		{"unknown field", "version: 1\npackages: [core-musl]\nentrypont: [/x]\n", nil, []string{"stagex.yaml:4:1", "entrypont"}},
		{"unknown package", "version: 1\npackages:\n  - core-musl\n  - core-nope\n", nil, []string{"stagex.yaml:5:", "core-nope"}},
		{"bad mode", "version: 1\npackages: [core-musl]\npaths:\n  - {path: /x, type: file, mode: \"0999\"}\n", nil, []string{"stagex.yaml:5:", "mode"}},
		{"no digest for platform", "version: 1\npackages: [core-musl]\n", map[string]string{}, []string{"linux/arm64", "core-"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := specDir(t, fe, tc.body)
			ref := b.Ref("it/bad:" + strings.ReplaceAll(tc.name, " ", "-"))
			build := solve.DockerfileBuild{DockerfileDir: dir, ContextDir: dir, Filename: "stagex.yaml", Push: ref}
			if tc.args != nil {
				build.Attrs = map[string]string{"platform": "linux/arm64"}
			}
			requireBuildFails(ctx, t, c, build, tc.want...)
		})
	}
}

// requireBuildFails builds and requires an error holding each of want, and
// nothing pushed to the build's Push reference.
func requireBuildFails(ctx context.Context, t *testing.T, c *client.Client, build solve.DockerfileBuild, want ...string) {
	t.Helper()
	_, err := solve.Dockerfile(ctx, c, build)
	if err == nil {
		t.Fatal("built")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
	if _, err := descriptorOf(build.Push); err == nil {
		t.Fatal("a failed build pushed an image")
	}
}

// TestSubrequests asks for the outline and the lint results, as
// `buildx build --call outline` and `--check` do.
func TestSubrequests(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := specDir(t, frontendImage(t), "version: 1\nname: base-static\npackages:\n  - core-busybox\n  - core-musl\n  - core-busybox\n")
	c := client1(ctx, t)

	call := func(request string) []byte { return subrequest(ctx, t, c, dir, request) }

	var o outline.Outline
	if err := json.Unmarshal(call("frontend.outline"), &o); err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, a := range o.Args {
		args = append(args, a.Name)
	}
	for _, want := range []string{"STAGEX_REGISTRY", "STAGEX_LOCK", "STAGEX_ALLOW_UNPINNED", "SOURCE_DATE_EPOCH"} {
		if !slices.Contains(args, want) {
			t.Errorf("outline args %v lack %s", args, want)
		}
	}

	var l lint.LintResults
	if err := json.Unmarshal(call("frontend.lint"), &l); err != nil {
		t.Fatal(err)
	}
	rules := map[string]int32{}
	for _, w := range l.Warnings {
		rules[w.RuleName] = w.Location.Ranges[0].Start.Line
	}
	if line, ok := rules["DuplicatePackage"]; !ok || line != 7 {
		t.Errorf("lint = %v, want DuplicatePackage at line 7, the second core-busybox", rules)
	}
	if _, ok := rules["ShellInStaticImage"]; !ok {
		t.Errorf("lint = %v, want ShellInStaticImage", rules)
	}
	if fmt.Sprint(l.Error) != "<nil>" {
		t.Errorf("lint reported a build error: %+v", l.Error)
	}
}

// subrequest asks the frontend, through the Dockerfile frontend and the
// spec's syntax line, for a subrequest's result.json ("frontend.outline",
// "frontend.targets", "frontend.lint"), as buildx --call and --check do.
func subrequest(ctx context.Context, t *testing.T, c *client.Client, dir, request string) []byte {
	t.Helper()
	fs, err := fsutil.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	_, err = c.Build(ctx, client.SolveOpt{LocalMounts: map[string]fsutil.FS{"dockerfile": fs, "context": fs}}, "",
		func(ctx context.Context, gc gateway.Client) (*gateway.Result, error) {
			res, err := gc.Solve(ctx, gateway.SolveRequest{
				Frontend:    "dockerfile.v0",
				FrontendOpt: map[string]string{"filename": "stagex.yaml", "requestid": request},
			})
			if err != nil {
				return nil, err
			}
			out = res.Metadata["result.json"]
			return res, nil
		}, nil)
	if err != nil {
		t.Fatalf("%s: %v", request, err)
	}
	return out
}

// TestSubrequestsOnBrokenSpec: the outline and targets answer for a spec
// that does not parse or a lock that does not load, and lint reports their
// errors as its build error, located at their lines, as the Dockerfile
// frontend does for a Dockerfile that does not parse.
func TestSubrequestsOnBrokenSpec(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := client1(ctx, t)
	// After the syntax line: packages is line 4, workdir line 6.
	broken := specDir(t, frontendImage(t), "version: 1\nname: broken\npackages: core-musl\nconfig:\n  workdir: /a/../../b\n")
	badLock := specDir(t, frontendImage(t), "version: 1\nname: lockless\npackages: [core-musl]\n")
	if err := os.WriteFile(filepath.Join(badLock, "stagex.lock.yaml"), []byte("version: 1\nregistry: r.example/stagex\npackages: [x]\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	for _, dir := range []string{broken, badLock} {
		var o outline.Outline
		if err := json.Unmarshal(subrequest(ctx, t, c, dir, "frontend.outline"), &o); err != nil {
			t.Fatal(err)
		}
		if len(o.Args) == 0 {
			t.Errorf("outline of a spec that does not load has no args: %+v", o)
		}
		var l targets.List
		if err := json.Unmarshal(subrequest(ctx, t, c, dir, "frontend.targets"), &l); err != nil {
			t.Fatal(err)
		}
		if len(l.Targets) != 1 || l.Targets[0].Name != "default" {
			t.Errorf("targets of a spec that does not load = %+v, want the default target", l.Targets)
		}
	}

	lintOf := func(dir string) *lint.BuildError {
		var l lint.LintResults
		if err := json.Unmarshal(subrequest(ctx, t, c, dir, "frontend.lint"), &l); err != nil {
			t.Fatal(err)
		}
		if l.Error == nil {
			t.Fatalf("lint of a spec that does not load has no build error: %+v", l)
		}
		if n := len(l.Sources); int(l.Error.Location.SourceIndex) >= n {
			t.Fatalf("lint error points at source %d of %d", l.Error.Location.SourceIndex, n)
		}
		t.Logf("%s: %s in %s", filepath.Base(dir), l.Error.Message, l.Sources[l.Error.Location.SourceIndex].Filename)
		return l.Error
	}
	e := lintOf(broken)
	var lines []int32
	for _, r := range e.Location.Ranges {
		lines = append(lines, r.Start.Line)
	}
	if !strings.Contains(e.Message, "stagex.yaml:4:") || !strings.Contains(e.Message, "stagex.yaml:6:") || !slices.Equal(lines, []int32{4, 6}) {
		t.Errorf("lint error = %q at lines %v, want the errors of lines 4 and 6", e.Message, lines)
	}
	e = lintOf(badLock)
	if !strings.Contains(e.Message, "stagex.lock.yaml:3:") || len(e.Location.Ranges) != 1 || e.Location.Ranges[0].Start.Line != 3 {
		t.Errorf("lint error = %q at %v, want the lock's line 3", e.Message, e.Location.Ranges)
	}
}

// metadataDigest reads the image digest from a --metadata-file that
// buildctl or buildx wrote.
func metadataDigest(t *testing.T, path string) string {
	t.Helper()
	dt, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var md map[string]any
	if err := json.Unmarshal(dt, &md); err != nil {
		t.Fatal(err)
	}
	dgst, _ := md["containerimage.digest"].(string)
	if !strings.HasPrefix(dgst, "sha256:") {
		t.Fatalf("no image digest in %s: %s", path, dt)
	}
	return dgst
}
