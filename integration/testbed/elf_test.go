package testbed

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// elfInfo is what the loader reads of an ELF file: its type, PT_INTERP,
// DT_NEEDED and DT_SONAME.
type elfInfo struct {
	typ    elf.Type
	interp string
	needed []string
	soname string
}

func readELF(t *testing.T, name, content string) elfInfo {
	t.Helper()
	f, err := elf.NewFile(strings.NewReader(content))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	defer f.Close()
	info := elfInfo{typ: f.Type}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b, err := io.ReadAll(p.Open())
			if err != nil {
				t.Fatal(err)
			}
			info.interp = strings.TrimRight(string(b), "\x00")
		}
	}
	if info.needed, err = f.ImportedLibraries(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if s, _ := f.DynString(elf.DT_SONAME); len(s) > 0 {
		info.soname = s[0]
	}
	return info
}

// The ELF fixtures are real: a musl loader, a library with its soname, a
// program that needs it through musl's loader, and a program that needs a
// library no fixture ships.
func TestELFFixtures(t *testing.T) {
	set, err := BuildFixtures(Options{Busybox: []byte("#!fake busybox\n")})
	if err != nil {
		t.Fatal(err)
	}
	musl := flatten(t, set[Musl])
	if li := readELF(t, "ld-musl-x86_64.so.1", musl["usr/lib/ld-musl-x86_64.so.1"]); li.typ != elf.ET_DYN || li.interp != "" {
		t.Errorf("musl loader: %+v, want a shared object without PT_INTERP", li)
	}
	lib := readELF(t, HelloLib, flatten(t, set[LibHello])["usr/lib/"+HelloLib])
	if lib.typ != elf.ET_DYN || lib.soname != HelloLib {
		t.Errorf("%s: %+v", HelloLib, lib)
	}
	hello := readELF(t, "hello", flatten(t, set[Hello])["usr/bin/hello"])
	if hello.interp != MuslLoader || !slices.Contains(hello.needed, HelloLib) {
		t.Errorf("hello: interp %q, needed %v; want %s and %s", hello.interp, hello.needed, MuslLoader, HelloLib)
	}
	broken := readELF(t, "hello-broken", flatten(t, set[HelloBroken])["usr/bin/hello-broken"])
	if broken.interp != MuslLoader || !slices.Contains(broken.needed, MissingSoname) {
		t.Errorf("hello-broken: interp %q, needed %v; want %s and %s", broken.interp, broken.needed, MuslLoader, MissingSoname)
	}
	for _, n := range set.Names() {
		for p := range flatten(t, set[n]) {
			if path.Base(p) == MissingSoname {
				t.Errorf("%s ships %s; the negative fixture needs it missing", n, p)
			}
		}
	}
}

// The fixture files run: musl's loader from core-musl runs hello with
// core-libhello's library (it prints its line), and refuses hello-broken,
// naming the missing library. The loader runs on the host, as a program:
// no daemon needed.
func TestELFFixturesRun(t *testing.T) {
	set, err := BuildFixtures(Options{Busybox: []byte("#!fake busybox\n")})
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	for _, n := range []string{Musl, LibHello, Hello, HelloBroken} {
		extract(t, set[n], root)
	}
	loader := filepath.Join(root, "usr/lib/ld-musl-x86_64.so.1")
	libs := filepath.Join(root, "usr/lib")
	out, err := exec.Command(loader, "--library-path", libs, filepath.Join(root, "usr/bin/hello")).CombinedOutput()
	if err != nil || string(out) != HelloOutput+"\n" {
		t.Errorf("hello: %q, %v; want %q", out, err, HelloOutput+"\n")
	}
	out, err = exec.Command(loader, "--library-path", libs, filepath.Join(root, "usr/bin/hello-broken")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), MissingSoname) {
		t.Errorf("hello-broken: %q, %v; want a failure naming %s", out, err, MissingSoname)
	}
}

// core-go is the host toolchain in StageX's layout, trimmed, without
// go.env, and the same bytes every time.
func TestGoFixture(t *testing.T) {
	opts := Options{Busybox: []byte("#!fake busybox\n"), Extra: []string{Go}}
	a, err := BuildFixture(Go, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := BuildFixture(Go, opts)
	if err != nil {
		t.Fatal(err)
	}
	if a.Digest != b.Digest {
		t.Errorf("core-go digest differs between two builds: %s vs %s", a.Digest, b.Digest)
	}
	files := flatten(t, a)
	if files["usr/bin/go"] != "-> /usr/lib/go/bin/go" {
		t.Errorf("usr/bin/go = %q", files["usr/bin/go"])
	}
	for _, p := range []string{"usr/lib/go/bin/go", "usr/lib/go/pkg/tool/linux_amd64/compile", "usr/lib/go/pkg/tool/linux_amd64/link"} {
		if info := readELF(t, p, files[p]); info.interp != "" || len(info.needed) != 0 {
			t.Errorf("%s: interp %q, needed %v; StageX's (the official) Go tools are static", p, info.interp, info.needed)
		}
	}
	for _, p := range []string{"usr/lib/go/src/net/http/server.go", "usr/lib/go/src/runtime/asm_amd64.s", "usr/lib/go/pkg/include/textflag.h", "usr/lib/go/src/go.mod"} {
		if _, ok := files[p]; !ok {
			t.Errorf("core-go lacks %s", p)
		}
	}
	for p := range files {
		if strings.HasSuffix(p, "_test.go") || p == "usr/lib/go/go.env" || p == "usr/lib/go/VERSION" {
			t.Errorf("core-go ships %s", p)
		}
	}
	if v, err := GoVersion(mustGoRoot(t)); err != nil || a.Version != v {
		t.Errorf("core-go version %q, host toolchain %q (%v)", a.Version, v, err)
	}
}

// core-go works as StageX's does: unpacked, its go finds its GOROOT from
// its own place, has no GOPROXY or GOSUMDB (no go.env: base-go sets them),
// and builds and runs a small module offline with the sources it ships.
// (The reference application, which needs much more of std, is built
// inside BuildKit by the integration tests and `make demo`.)
func TestGoFixtureBuilds(t *testing.T) {
	f, err := BuildFixture(Go, Options{})
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	extract(t, f, root)
	gobin := filepath.Join(root, "usr/lib/go/bin/go")
	env := []string{"PATH=/usr/bin:/bin", "HOME=" + filepath.Join(root, "home"), "CGO_ENABLED=0", "GOTOOLCHAIN=local",
		"GOCACHE=" + filepath.Join(root, "cache"), "GOFLAGS=", "GOPROXY=", "GOSUMDB="}
	run := func(dir, prog string, args ...string) string {
		cmd := exec.Command(prog, args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", prog, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if got := run(root, gobin, "env", "GOROOT", "GOPROXY", "GOSUMDB"); got != filepath.Join(root, "usr/lib/go")+"\n\n\n" {
		t.Errorf("go env GOROOT GOPROXY GOSUMDB = %q, want the unpacked root and two empty lines", got)
	}
	mod := filepath.Join(root, "mod")
	if err := os.MkdirAll(mod, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{
		"go.mod":  "module example.com/small\n\ngo 1.22\n",
		"main.go": "package main\n\nimport \"os\"\n\nfunc main() { os.Stdout.WriteString(\"built by core-go\\n\") }\n",
	} {
		if err := os.WriteFile(filepath.Join(mod, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(root, "small")
	run(mod, gobin, "build", "-trimpath", "-o", out, ".")
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if info := readELF(t, "small", string(b)); info.interp != "" || len(info.needed) != 0 {
		t.Errorf("small: interp %q, needed %v; want a static program", info.interp, info.needed)
	}
	if got := run(mod, out); got != "built by core-go\n" {
		t.Errorf("small printed %q", got)
	}
}

func mustGoRoot(t *testing.T) string {
	t.Helper()
	r, err := (&hostBuilds{}).goRoot()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// extract writes the image's files below root (regular files, folders and
// symlinks; the image's absolute links stay absolute, so only relative
// ones resolve inside root).
func extract(t *testing.T, f *Fixture, root string) {
	t.Helper()
	rc := mutate.Extract(f.Image)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(root, filepath.FromSlash(h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, 0o755)
		case tar.TypeSymlink:
			_ = os.Remove(p)
			err = os.Symlink(h.Linkname, p)
		case tar.TypeReg:
			var b bytes.Buffer
			if _, err = io.Copy(&b, tr); err == nil {
				err = os.WriteFile(p, b.Bytes(), os.FileMode(h.Mode)&0o777)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}
