package llb

import (
	"bytes"
	"context"
	"edp.buildth.ing/devfw-cicd/stagex/internal/golden"
	"encoding/json"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/spec"
	bkllb "github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// The fixed world of these tests: a filesystem image of one layer, and
// packages built FROM it (two layers), plus one that is not.
var (
	amd64    = ocispecs.Platform{OS: "linux", Architecture: "amd64"}
	fsLayer  = digest.FromString("filesystem layer")
	lockYAML = `version: 1
release: "test"
registry: registry.test/stagex
packages:
  core-filesystem:
    version: "1"
    license: ISC
    digests: {linux/amd64: "sha256:` + strings.Repeat("1", 64) + `"}
  core-musl:
    version: 1.2.5
    license: MIT
    digests: {linux/amd64: "sha256:` + strings.Repeat("2", 64) + `"}
  core-busybox:
    version: 1.37.0
    license: GPL-2.0-only
    digests: {linux/amd64: "sha256:` + strings.Repeat("3", 64) + `"}
  pallet-tools:
    version: "9"
    license: MIT
    digests: {linux/amd64: "sha256:` + strings.Repeat("4", 64) + `"}
`
)

// images returns the configs the frontend would have resolved for the lock.
func images(t *testing.T, r *spec.Resolved) map[string]ImageInfo {
	t.Helper()
	chains := map[string][]digest.Digest{
		"core-filesystem": {fsLayer},
		"core-musl":       {fsLayer, digest.FromString("musl layer")},
		"core-busybox":    {fsLayer, digest.FromString("busybox layer")},
		"pallet-tools":    {digest.FromString("pallet 1"), digest.FromString("pallet 2"), digest.FromString("pallet 3")},
	}
	out := map[string]ImageInfo{}
	add := func(p spec.Package) {
		ids, ok := chains[p.Name]
		if !ok {
			t.Fatalf("no test chain for %s", p.Name)
		}
		img := ocispecs.Image{Platform: amd64}
		img.RootFS = ocispecs.RootFS{Type: "layers", DiffIDs: ids}
		out[p.Ref] = ImageInfo{Digest: digest.Digest(p.Digest), Config: img}
	}
	if r.Base != nil {
		add(*r.Base)
	}
	for _, p := range r.Packages {
		add(p)
	}
	return out
}

// memFile is one entry of an in-memory base filesystem.
type memFile struct {
	FileInfo
	data string
}

// mapFS is a base filesystem held in memory.
type mapFS map[string]memFile

func (m mapFS) Lstat(_ context.Context, p string) (*FileInfo, error) {
	if f, ok := m[p]; ok {
		return &f.FileInfo, nil
	}
	return nil, nil
}

func (m mapFS) ReadFile(_ context.Context, p string) ([]byte, error) {
	if f, ok := m[p]; ok && f.Mode.IsRegular() {
		return []byte(f.data), nil
	}
	return nil, nil
}

func dir(m fs.FileMode) memFile { return memFile{FileInfo: FileInfo{Mode: fs.ModeDir | m}} }
func link(target string) memFile {
	return memFile{FileInfo: FileInfo{Mode: fs.ModeSymlink | 0o777, Linkname: target}}
}
func file(m fs.FileMode, data string) memFile {
	return memFile{FileInfo: FileInfo{Mode: m}, data: data}
}

// filesystem is core-filesystem's merged /usr, as far as these tests look.
var filesystem = mapFS{
	"/bin":        link("usr/bin"),
	"/sbin":       link("usr/sbin"),
	"/lib":        link("usr/lib"),
	"/etc":        dir(0o755),
	"/home":       dir(0o755),
	"/tmp":        dir(fs.ModeSticky | 0o777),
	"/usr":        dir(0o755),
	"/usr/bin":    dir(0o755),
	"/etc/passwd": file(0o644, "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n"),
	"/etc/group":  file(0o644, "root:x:0:\nuser:x:1000:\nnobody:x:65534:\n"),
}

type composed struct {
	res   *Result
	def   *bkllb.Definition
	input *Input
}

// resolve parses a spec and resolves it through the test lock for amd64.
func resolve(t *testing.T, specYAML string) (*spec.Spec, *spec.Resolved) {
	t.Helper()
	return resolveFrom(t, specYAML, "")
}

// resolveFrom resolves with the packages pulled from a mirror
// (STAGEX_REGISTRY), or from the lock's registry when mirror is "".
func resolveFrom(t *testing.T, specYAML, mirror string) (*spec.Spec, *spec.Resolved) {
	t.Helper()
	s, err := spec.ParseSpec("stagex.yaml", []byte(specYAML))
	if err != nil {
		t.Fatalf("parse spec: %v", err)
	}
	l, err := spec.ParseLock("stagex.lock.yaml", []byte(lockYAML))
	if err != nil {
		t.Fatalf("parse lock: %v", err)
	}
	r, err := spec.Resolve(s, l, spec.ResolveOptions{Platform: "linux/amd64", Registry: mirror})
	if err != nil {
		t.Fatalf("resolve: %v", err)
	}
	return s, r
}

func compose(t *testing.T, specYAML string) composed {
	t.Helper()
	return composeFrom(t, specYAML, "", Meta{Version: "1.0.0"})
}

// composeFrom composes with the packages pulled from mirror (see
// resolveFrom) and the given labels. By default the frontend passes no VCS
// facts (they go into the provenance), so compose passes none either.
func composeFrom(t *testing.T, specYAML, mirror string, meta Meta) composed {
	t.Helper()
	s, r := resolveFrom(t, specYAML, mirror)
	in := &Input{
		Spec:      s,
		Resolved:  r,
		Images:    images(t, r),
		Platform:  amd64,
		Epoch:     time.Unix(1700000000, 0).UTC(),
		Contexts:  map[string]bkllb.State{"context": bkllb.Local("context", bkllb.LocalUniqueID("test"))},
		SourceMap: bkllb.NewSourceMap(nil, s.File, "YAML", []byte(specYAML)),
		Meta:      meta,
	}
	if r.Base != nil {
		in.BaseFS = filesystem
	}
	res, err := Compose(context.Background(), in)
	if err != nil {
		t.Fatalf("compose: %v", err)
	}
	def, err := res.State.Marshal(context.Background(), bkllb.Platform(amd64))
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return composed{res: res, def: def, input: in}
}

// dumpLLB renders a definition as indented JSON, one op per entry in
// definition order, with the op's digest. protojson's whitespace is not
// stable by design, so each op is re-indented with encoding/json.
func dumpLLB(t *testing.T, def *bkllb.Definition) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, dt := range def.Def {
		var op pb.Op
		if err := op.UnmarshalVT(dt); err != nil {
			t.Fatal(err)
		}
		js, err := protojson.Marshal(&op)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := json.Indent(&out, js, "", "  "); err != nil {
			t.Fatal(err)
		}
		b.WriteString("# " + digest.FromBytes(dt).String() + "\n")
		b.Write(out.Bytes())
		b.WriteString("\n")
	}
	return b.Bytes()
}

const fullSpec = `# syntax=edp.buildth.ing/devfw-cicd/stagex-frontend:1
version: 1
name: base-app
description: An app on musl
packages:
  - core-musl
  - core-busybox
  - pallet-tools
config:
  env: {TZ: UTC, LANG: C.UTF-8}
  user: "65532:65532"
  workdir: /home/app
  entrypoint: [/usr/bin/app]
  cmd: [serve]
  labels: {org.example.team: platform}
  expose: ["8080/tcp", "9090"]
  volumes: [/data]
  stop-signal: SIGTERM
annotations: {org.opencontainers.image.vendor: EDP}
accounts:
  groups: [{name: app, gid: 65532}]
  users:  [{name: app, uid: 65532, gid: 65532, home: /home/app}]
paths:
  - {path: /home/app, type: directory, mode: "0750", uid: 65532, gid: 65532}
  - {path: /etc/app.conf, type: file, mode: "0644", content: "key=value\n"}
  - {path: /bin/sh, type: symlink, target: busybox}
copy:
  - {from: context, src: dist/app, dst: /usr/bin/app, mode: "0755"}
`

const packagesOnlySpec = `version: 1
name: base
packages: [core-musl, core-busybox]
`

func TestComposeGolden(t *testing.T) {
	for name, y := range map[string]string{"full": fullSpec, "packages-only": packagesOnlySpec} {
		t.Run(name, func(t *testing.T) {
			c := compose(t, y)
			golden.Check(t, name+".llb.json", dumpLLB(t, c.def))
			cfg, err := json.MarshalIndent(c.res.Image, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, name+".config.json", append(cfg, '\n'))
		})
	}
}

// TestMirrorLeavesTheConfig: pulling the packages from a mirror
// (STAGEX_REGISTRY) changes where the LLB pulls from, and not one byte of
// the image config: its history names the lock's registry.
func TestMirrorLeavesTheConfig(t *testing.T) {
	const mirror = "127.0.0.1:5999/mirror/stagex"
	c := composeFrom(t, fullSpec, mirror, Meta{Version: "1.0.0"})
	if dump := dumpLLB(t, c.def); !strings.Contains(string(dump), mirror+"/core-musl@") {
		t.Fatalf("the LLB does not pull from the mirror %s", mirror)
	}
	cfg, err := json.MarshalIndent(c.res.Image, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(cfg), "5999") {
		t.Errorf("the config names the mirror:\n%s", cfg)
	}
	golden.Check(t, "full.config.json", append(cfg, '\n'))
}

// TestVCSLabelsOnlyFromMeta: the revision and source labels are written
// exactly when the frontend passes them (it does only on request).
func TestVCSLabelsOnlyFromMeta(t *testing.T) {
	labels := composeFrom(t, fullSpec, "", Meta{Revision: "abc123", Source: "https://example.test/repo"}).res.Image.Config.Labels
	if labels[ocispecs.AnnotationRevision] != "abc123" || labels[ocispecs.AnnotationSource] != "https://example.test/repo" {
		t.Errorf("labels = %v, want the revision and source passed", labels)
	}
	labels = compose(t, fullSpec).res.Image.Config.Labels
	for _, k := range []string{ocispecs.AnnotationRevision, ocispecs.AnnotationSource} {
		if v, ok := labels[k]; ok {
			t.Errorf("label %s = %q without being passed", k, v)
		}
	}
}

func TestComposeIsDeterministic(t *testing.T) {
	a, b := compose(t, fullSpec), compose(t, fullSpec)
	da, db := dumpLLB(t, a.def), dumpLLB(t, b.def)
	if !bytes.Equal(da, db) {
		t.Fatal("the same input marshalled to different LLB")
	}
	for i := range a.def.Def {
		if !bytes.Equal(a.def.Def[i], b.def.Def[i]) {
			t.Fatalf("op %d differs between two runs", i)
		}
	}
	ca, _ := json.Marshal(a.res.Image)
	cb, _ := json.Marshal(b.res.Image)
	if !bytes.Equal(ca, cb) {
		t.Fatal("the same input gave different image configs")
	}
}

// TestPlan checks the measured composition rule: packages built FROM the base
// join as a Diff that adds only their own layers; others join whole.
func TestPlan(t *testing.T) {
	c := compose(t, fullSpec)
	var got []string
	for _, p := range c.res.Parts {
		got = append(got, p.Package.Name+":"+string(p.Mode)+":"+strings.Repeat("L", len(p.DiffIDs)))
	}
	want := "core-filesystem:base:L core-musl:diff:L core-busybox:diff:L pallet-tools:whole:LLL"
	if strings.Join(got, " ") != want {
		t.Fatalf("plan = %s, want %s", strings.Join(got, " "), want)
	}
	if !c.res.Generated {
		t.Fatal("a spec with accounts, paths and copy must have a generated layer")
	}
	// One history entry per exported layer: 1+1+1+3 upstream plus the generated one.
	if n := len(c.res.Image.History); n != 7 {
		t.Fatalf("history has %d entries, want 7", n)
	}
}

func TestPackagesOnlyHasNoGeneratedLayer(t *testing.T) {
	c := compose(t, packagesOnlySpec)
	if c.res.Generated {
		t.Fatal("nothing to generate, yet a generated layer was planned")
	}
	for _, dt := range c.def.Def {
		var op pb.Op
		if err := op.UnmarshalVT(dt); err != nil {
			t.Fatal(err)
		}
		if op.GetFile() != nil {
			t.Fatal("a FileOp in a composition of packages only: package files must never be copied")
		}
	}
}

func TestScratchBaseMergesWhole(t *testing.T) {
	c := compose(t, "version: 1\nbase: scratch\npackages: [core-musl]\n")
	if len(c.res.Parts) != 1 || c.res.Parts[0].Mode != ModeWhole || len(c.res.Parts[0].DiffIDs) != 2 {
		t.Fatalf("parts = %+v, want core-musl whole with its 2 layers", c.res.Parts)
	}
}

func TestConfig(t *testing.T) {
	img := compose(t, fullSpec).res.Image
	want := []string{"LANG=C.UTF-8", "PATH=" + DefaultPath, "TZ=UTC"}
	if strings.Join(img.Config.Env, " ") != strings.Join(want, " ") {
		t.Errorf("env = %v, want %v (sorted, default PATH)", img.Config.Env, want)
	}
	if img.Config.User != "65532:65532" || img.Config.WorkingDir != "/home/app" || img.Config.StopSignal != "SIGTERM" {
		t.Errorf("user/workdir/stop-signal = %q %q %q", img.Config.User, img.Config.WorkingDir, img.Config.StopSignal)
	}
	if _, ok := img.Config.ExposedPorts["9090/tcp"]; !ok {
		t.Errorf("a bare port must default to tcp: %v", img.Config.ExposedPorts)
	}
	for k, v := range map[string]string{
		ocispecs.AnnotationTitle:       "base-app",
		ocispecs.AnnotationDescription: "An app on musl",
		ocispecs.AnnotationVersion:     "1.0.0",
		ocispecs.AnnotationCreated:     "2023-11-14T22:13:20Z",
		"org.example.team":             "platform",
	} {
		if img.Config.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, img.Config.Labels[k], v)
		}
	}
	if img.Created == nil || !img.Created.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("created = %v, want the epoch", img.Created)
	}
}

func TestGeneratedLayerResolvesMergedUsr(t *testing.T) {
	c := compose(t, fullSpec)
	dump := string(dumpLLB(t, c.def))
	if !strings.Contains(dump, `"newpath": "/usr/bin/sh"`) {
		t.Error("/bin/sh must be written through the base's /bin -> usr/bin link, as /usr/bin/sh")
	}
	if strings.Contains(dump, `"path": "/bin"`) {
		t.Error("the generated layer creates /bin, which would replace the base's /bin symlink")
	}
	files := mkfiles(t, c.def)
	wantPasswd := "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/:/sbin/nologin\napp:x:65532:65532::/home/app:/sbin/nologin\n"
	if files["/etc/passwd"] != wantPasswd {
		t.Errorf("/etc/passwd =\n%s\nwant the base's lines, then the spec's user:\n%s", files["/etc/passwd"], wantPasswd)
	}
	if want := "root:x:0:\nuser:x:1000:\nnobody:x:65534:\napp:x:65532:\n"; files["/etc/group"] != want {
		t.Errorf("/etc/group =\n%s\nwant\n%s", files["/etc/group"], want)
	}
	if files["/etc/app.conf"] != "key=value\n" {
		t.Errorf("/etc/app.conf = %q", files["/etc/app.conf"])
	}
}

// mkfiles returns the content of every file the definition writes, by path.
func mkfiles(t *testing.T, def *bkllb.Definition) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, dt := range def.Def {
		var op pb.Op
		if err := op.UnmarshalVT(dt); err != nil {
			t.Fatal(err)
		}
		for _, a := range op.GetFile().GetActions() {
			if mk := a.GetMkfile(); mk != nil {
				out[mk.Path] = string(mk.Data)
			}
		}
	}
	return out
}

func TestAccountClashesWithBase(t *testing.T) {
	s, err := spec.ParseSpec("stagex.yaml", []byte("version: 1\npackages: [core-musl]\naccounts:\n  users: [{name: app, uid: 1000, gid: 1000}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = mergeAccounts(s, []byte(filesystem["/etc/passwd"].data), []byte(filesystem["/etc/group"].data))
	if err == nil || !strings.Contains(err.Error(), `uid 1000 is already used by user "user"`) || !strings.Contains(err.Error(), "stagex.yaml:4:") {
		t.Fatalf("err = %v, want a located uid clash", err)
	}
}

func TestResolvePathLoops(t *testing.T) {
	loop := mapFS{"/a": link("b"), "/b": link("/a")}
	if _, err := resolvePath(context.Background(), loop, "/a/x"); err == nil {
		t.Fatal("a symlink loop must be an error, not a hang")
	}
	got, err := resolvePath(context.Background(), filesystem, "/bin/../lib/x")
	if err != nil || got != "/usr/lib/x" {
		t.Fatalf("resolvePath = %q, %v", got, err)
	}
}

// BuildKit's file operations keep only mode&0777, so anything that would
// need setuid, setgid or sticky bits must fail instead of losing them: the
// spec refuses such a mode (spec tests), and a path below a base folder with
// such bits fails here.
func TestSpecialModeBitsFail(t *testing.T) {
	err := composeErrOn(t, filesystem, "version: 1\npackages: [core-musl]\npaths:\n  - {path: /tmp/x, type: file}\n")
	if err == nil || !strings.Contains(err.Error(), "stagex.yaml:4:") || !strings.Contains(err.Error(), "sticky") {
		t.Fatalf("err = %v, want a located error about the special bits", err)
	}
}

func TestUserMustNameAnAccount(t *testing.T) {
	c := compose(t, "version: 1\npackages: [core-musl]\nconfig: {user: nobody}\n")
	if c.res.Image.Config.User != "nobody" {
		t.Fatalf("user = %q", c.res.Image.Config.User)
	}
	err := composeErrOn(t, filesystem, "version: 1\npackages: [core-musl]\nconfig:\n  user: ghost\n")
	if err == nil || !strings.Contains(err.Error(), "stagex.yaml:4:") || !strings.Contains(err.Error(), `user "ghost" names no account`) {
		t.Fatalf("err = %v, want a located error for the unknown user", err)
	}
}

// The labels the frontend writes are the ones validation reserves
// (spec.ReservedLabels), so that no spec label can replace one.
func TestOwnedLabelsAreReserved(t *testing.T) {
	in := &Input{Spec: &spec.Spec{Name: "n", Description: "d"}, Epoch: time.Unix(1, 0), Meta: Meta{Version: "v", Revision: "r", Source: "s"}}
	got := slices.Sorted(maps.Keys(ociLabels(in)))
	want := slices.Sorted(maps.Keys(spec.ReservedLabels))
	if !slices.Equal(got, want) {
		t.Errorf("the frontend writes %v, validation reserves %v", got, want)
	}
}

// A copy whose source the build context does not hold fails at its src
// line with a hint, before anything is solved; one it holds (through a
// symlinked folder too) composes.
func TestCopySourceMustBeInTheContext(t *testing.T) {
	const y = "version: 1\npackages: [core-musl]\ncopy:\n  - {src: dist/app, dst: /usr/bin/app}\n  - {src: conf/app.conf, dst: /etc/app.conf}\n"
	s, r := resolve(t, y)
	in := func(context mapFS) *Input {
		return &Input{Spec: s, Resolved: r, Images: images(t, r), Platform: amd64, BaseFS: filesystem,
			Contexts:  map[string]bkllb.State{spec.DefaultCopyFrom: bkllb.Scratch()},
			ContextFS: map[string]BaseFS{spec.DefaultCopyFrom: context}}
	}
	_, err := Compose(context.Background(), in(mapFS{"/dist": dir(0o755), "/dist/app": file(0o755, "x"), "/conf": link("etc"), "/etc": dir(0o755)}))
	if err == nil || !strings.Contains(err.Error(), "stagex.yaml:5:") || !strings.Contains(err.Error(), "copy source conf/app.conf is not in the build context") ||
		!strings.Contains(err.Error(), "hint: src is relative to the build context's root") {
		t.Fatalf("err = %v, want the missing source at line 5 with a hint", err)
	}
	if strings.Contains(err.Error(), "stagex.yaml:4:") {
		t.Errorf("a source the context holds is reported: %v", err)
	}
	ok := mapFS{"/dist": dir(0o755), "/dist/app": file(0o755, "x"), "/conf": link("etc"), "/etc": dir(0o755), "/etc/app.conf": file(0o644, "k=v")}
	if _, err := Compose(context.Background(), in(ok)); err != nil {
		t.Fatalf("every source is in the context: %v", err)
	}
}
