package check_test

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/check"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// ent is one tar entry of a test layer.
type ent struct {
	name string
	typ  byte
	mode int64
	data []byte
	link string
}

func file(name string, mode int64, data []byte) ent {
	return ent{name: name, typ: tar.TypeReg, mode: mode, data: data}
}
func dir(name string, mode int64) ent { return ent{name: name, typ: tar.TypeDir, mode: mode} }
func symlink(name, target string) ent {
	return ent{name: name, typ: tar.TypeSymlink, mode: 0o777, link: target}
}
func hardlink(name, target string) ent {
	return ent{name: name, typ: tar.TypeLink, mode: 0o644, link: target}
}
func chardev(name string) ent           { return ent{name: name, typ: tar.TypeChar, mode: 0o666} }
func text(name string, s string) ent    { return file(name, 0o644, []byte(s)) }
func program(name string, b []byte) ent { return file(name, 0o755, b) }

func layerTar(t testing.TB, ents ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link, Size: int64(len(e.data)), ModTime: time.Unix(0, 0)}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pkg is a test layer and the package it comes from.
type pkg struct {
	name string
	ents []ent
}

// image assembles an image from layers, with the history lines the
// frontend writes, so the check names each layer's package.
func image(t testing.TB, cfg v1.Config, layers ...pkg) v1.Image {
	t.Helper()
	img := empty.Image
	for i, l := range layers {
		b := layerTar(t, l.ents...)
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
		if err != nil {
			t.Fatal(err)
		}
		createdBy := fmt.Sprintf("stagex: diff %s 1.0 from example.test/stagex/%s (layer %d)", l.name, l.name, i)
		if l.name == check.Generated {
			createdBy = "stagex: generated layer (accounts, paths, copy)"
		}
		img, err = mutate.Append(img, mutate.Addendum{Layer: layer, History: v1.History{CreatedBy: createdBy}})
		if err != nil {
			t.Fatal(err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config = cfg
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// run reads img and checks it with the image's own options changed by opt.
func run(t testing.TB, img v1.Image, opt func(*check.Options)) *check.Report {
	t.Helper()
	im, err := check.ReadImage(img)
	if err != nil {
		t.Fatal(err)
	}
	o := im.Options()
	if opt != nil {
		opt(&o)
	}
	r, err := check.Run(im.Tree, o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// findings returns the findings of one rule.
func findings(r *check.Report, rule check.Rule) []check.Finding {
	var out []check.Finding
	for _, f := range r.Findings {
		if f.Rule == rule {
			out = append(out, f)
		}
	}
	return out
}

// muslArch is musl's name for this machine's architecture.
var muslArch = check.MuslArch(runtime.GOARCH, "")

// loaderPath is where musl-gcc's programs expect the loader.
var loaderPath = "/lib/ld-musl-" + muslArch + ".so.1"

// kit holds the musl ELF files the tests layer into images, built once.
type kit struct {
	libc      []byte // musl's libc.so, which is also its loader
	libfoo    []byte // soname libfoo.so.1
	libbar    []byte // soname libbar.so.1, needs libfoo.so.1
	libselfc  []byte // soname libc.musl-<arch>.so.1, a name musl reserves for itself
	prog      []byte // needs libfoo.so.1 and libc.so
	progBar   []byte // needs libbar.so.1
	progGone  []byte // needs libgone.so.1, which no image has
	progRun   []byte // RUNPATH $ORIGIN/../lib, needs libfoo.so.1
	progRpath []byte // RPATH (old tag) /opt/dep, needs libbar.so.1
	progSelf  []byte // needs libc.musl-<arch>.so.1
	progUsrLd []byte // PT_INTERP /usr/lib/ld-musl-<arch>.so.1, needs libfoo.so.1
}

var (
	kitOnce sync.Once
	theKit  *kit
	kitErr  error
	kitDir  string
)

// musl builds the kit with musl-gcc (Debian's musl-tools). Without it the
// test skips, except under CI=true, where it fails.
func musl(t testing.TB) *kit {
	t.Helper()
	if _, err := exec.LookPath("musl-gcc"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("musl-gcc is missing (apt-get install musl-tools); CI must run the ELF tests")
		}
		t.Skip("musl-gcc is missing (apt-get install musl-tools)")
	}
	kitOnce.Do(func() { theKit, kitErr = buildKit() })
	if kitErr != nil {
		t.Fatal(kitErr)
	}
	return theKit
}

func buildKit() (*kit, error) {
	d, err := os.MkdirTemp("", "check-kit-")
	if err != nil {
		return nil, err
	}
	kitDir = d
	write := func(name, src string) error { return os.WriteFile(filepath.Join(d, name), []byte(src), 0o644) }
	srcs := map[string]string{
		"foo.c":     "int foo(void) { return 42; }\n",
		"bar.c":     "int foo(void);\nint bar(void) { return foo() + 1; }\n",
		"self.c":    "int self_marker(void) { return 7; }\n",
		"main.c":    "int foo(void);\nint main(void) { return foo() - 42; }\n",
		"mbar.c":    "int bar(void);\nint main(void) { return bar() - 43; }\n",
		"gone.c":    "int gone(void);\nint main(void) { return gone(); }\n",
		"self2.c":   "int self_marker(void);\nint main(void) { return self_marker() - 7; }\n",
		"libgone.c": "int gone(void) { return 0; }\n",
	}
	for n, s := range srcs {
		if err := write(n, s); err != nil {
			return nil, err
		}
	}
	cc := func(args ...string) error {
		cmd := exec.Command("musl-gcc", args...)
		cmd.Dir = d
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("musl-gcc %v: %v\n%s", args, err, out)
		}
		return nil
	}
	steps := [][]string{
		{"-shared", "-fPIC", "-Wl,-soname,libfoo.so.1", "-o", "libfoo.so.1", "foo.c"},
		{"-shared", "-fPIC", "-Wl,-soname,libbar.so.1", "-o", "libbar.so.1", "bar.c", "-L.", "-l:libfoo.so.1"},
		{"-shared", "-fPIC", "-Wl,-soname,libgone.so.1", "-o", "libgone.so.1", "libgone.c"},
		{"-shared", "-fPIC", "-Wl,-soname,libc.musl-" + muslArch + ".so.1", "-o", "libselfc.so", "self.c"},
		{"-o", "prog", "main.c", "-L.", "-l:libfoo.so.1"},
		{"-o", "progbar", "mbar.c", "-L.", "-l:libbar.so.1", "-Wl,-rpath-link,."},
		{"-o", "proggone", "gone.c", "-L.", "-l:libgone.so.1"},
		{"-o", "progrun", "main.c", "-L.", "-l:libfoo.so.1", "-Wl,--enable-new-dtags,-rpath,$ORIGIN/../lib"},
		{"-o", "progrpath", "mbar.c", "-L.", "-l:libbar.so.1", "-Wl,-rpath-link,.", "-Wl,--disable-new-dtags,-rpath,/opt/dep"},
		{"-o", "progself", "self2.c", "-L.", "-l:libselfc.so"},
		{"-o", "progusrld", "main.c", "-L.", "-l:libfoo.so.1", "-Wl,-dynamic-linker,/usr" + loaderPath},
	}
	for _, s := range steps {
		if err := cc(s...); err != nil {
			return nil, err
		}
	}
	read := func(name string) []byte {
		b, e := os.ReadFile(name)
		if e != nil && err == nil {
			err = e
		}
		return b
	}
	k := &kit{
		libfoo:    read(filepath.Join(d, "libfoo.so.1")),
		libbar:    read(filepath.Join(d, "libbar.so.1")),
		libselfc:  read(filepath.Join(d, "libselfc.so")),
		prog:      read(filepath.Join(d, "prog")),
		progBar:   read(filepath.Join(d, "progbar")),
		progGone:  read(filepath.Join(d, "proggone")),
		progRun:   read(filepath.Join(d, "progrun")),
		progRpath: read(filepath.Join(d, "progrpath")),
		progSelf:  read(filepath.Join(d, "progself")),
		progUsrLd: read(filepath.Join(d, "progusrld")),
		libc:      read(muslLibc()),
	}
	return k, err
}

// muslLibc is where Debian's musl package puts libc.so, the loader's file.
func muslLibc() string {
	return "/usr/lib/" + muslArch + "-linux-musl/libc.so"
}

// muslBase is the layer StageX's core-musl amounts to: libc.so in /usr/lib
// and the loader as a link to it.
func (k *kit) muslBase() pkg {
	return pkg{"core-musl", []ent{
		dir("usr/", 0o755), dir("usr/lib/", 0o755), dir("lib/", 0o755),
		program("usr/lib/libc.so", k.libc),
		symlink(loaderPath[1:], "../usr/lib/libc.so"),
	}}
}

// filesystem is a minimal core-filesystem layer: accounts, /tmp, /home.
func filesystem() pkg {
	return pkg{"core-filesystem", []ent{
		dir("etc/", 0o755), dir("tmp/", 0o1777), dir("home/", 0o755), dir("home/nonroot/", 0o750),
		text("etc/passwd", "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"),
		text("etc/group", "root:x:0:\nnonroot:x:65532:\n"),
	}}
}

func readAll(t testing.TB, r io.Reader) []byte {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMain(m *testing.M) {
	code := m.Run()
	if kitDir != "" {
		os.RemoveAll(kitDir)
	}
	os.Exit(code)
}
