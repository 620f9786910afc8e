package check_test

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"edp.buildth.ing/devfw-cicd/stagex/check"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// musl's own programs and libraries, layered the way StageX lays them out,
// close: nothing is reported.
func TestClosurePasses(t *testing.T) {
	k := musl(t)
	img := image(t, v1.Config{Entrypoint: []string{"/usr/bin/prog"}, User: "65532:65532", WorkingDir: "/home/nonroot"},
		filesystem(),
		k.muslBase(),
		pkg{"core-foo", []ent{dir("usr/lib/", 0o755), program("usr/lib/libfoo.so.1", k.libfoo), program("usr/lib/libbar.so.1", k.libbar)}},
		pkg{"core-app", []ent{dir("usr/bin/", 0o755), program("usr/bin/prog", k.prog), program("usr/bin/progbar", k.progBar), program("usr/bin/progself", k.progSelf)}},
	)
	r := run(t, img, nil)
	if !r.Passed || len(r.Findings) != 0 {
		t.Fatalf("want a clean pass, got %+v", r.Findings)
	}
}

// A DT_NEEDED that nothing provides names the file, the soname and the
// package, and fails the check.
func TestNeededMissing(t *testing.T) {
	k := musl(t)
	img := image(t, v1.Config{},
		k.muslBase(),
		pkg{"core-foo", []ent{dir("usr/lib/", 0o755), program("usr/lib/libbar.so.1", k.libbar)}},
		pkg{"core-app", []ent{dir("usr/bin/", 0o755), program("usr/bin/proggone", k.progGone), program("usr/bin/progbar", k.progBar)}},
	)
	r := run(t, img, nil)
	if r.Passed {
		t.Fatal("a missing library passed the check")
	}
	got := findings(r, check.RuleNeededMissing)
	want := []struct{ path, soname, pkg string }{
		// libbar needs libfoo: reported once, on libbar, though progbar
		// loads it too.
		{"/usr/bin/proggone", "libgone.so.1", "core-app"},
		{"/usr/lib/libbar.so.1", "libfoo.so.1", "core-foo"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d findings, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		f := got[i]
		if f.Path != w.path || f.Soname != w.soname || f.Package != w.pkg || f.Severity != check.SeverityError {
			t.Errorf("finding %d = %+v, want %+v", i, f, w)
		}
		if !strings.Contains(f.Detail, "searched /lib:/usr/local/lib:/usr/lib") {
			t.Errorf("finding %d does not say where it searched: %s", i, f.Detail)
		}
	}
}

// A program's interpreter must be in the image.
func TestInterpMissing(t *testing.T) {
	k := musl(t)
	img := image(t, v1.Config{}, pkg{"core-app", []ent{dir("usr/", 0o755), dir("usr/bin/", 0o755), program("usr/bin/prog", k.prog),
		dir("usr/lib/", 0o755), program("usr/lib/libfoo.so.1", k.libfoo)}})
	r := run(t, img, nil)
	got := findings(r, check.RuleInterpMissing)
	if len(got) != 1 || got[0].Path != "/usr/bin/prog" || !strings.Contains(got[0].Detail, loaderPath) || got[0].Package != "core-app" {
		t.Fatalf("got %+v", got)
	}
	if r.Passed {
		t.Error("passed without a loader")
	}
}

// RUNPATH with $ORIGIN is the folder of the program's real path, so it
// holds through a symlink to the program and fails when the program moves.
func TestRunpathOrigin(t *testing.T) {
	k := musl(t)
	base := []pkg{k.muslBase(), {"core-app", []ent{
		dir("opt/", 0o755), dir("opt/app/", 0o755), dir("opt/app/bin/", 0o755), dir("opt/app/lib/", 0o755),
		program("opt/app/bin/progrun", k.progRun), program("opt/app/lib/libfoo.so.1", k.libfoo),
		dir("usr/bin/", 0o755), symlink("usr/bin/progrun", "/opt/app/bin/progrun"),
	}}}
	if r := run(t, image(t, v1.Config{Entrypoint: []string{"progrun"}, Env: []string{"PATH=/usr/bin"}}, base...), nil); !r.Passed || len(r.Findings) != 0 {
		t.Fatalf("$ORIGIN/../lib did not resolve: %+v", r.Findings)
	}
	moved := append(slices.Clone(base), pkg{"core-moved", []ent{dir("srv/", 0o755), program("srv/progrun", k.progRun)}})
	r := run(t, image(t, v1.Config{}, moved...), nil)
	got := findings(r, check.RuleNeededMissing)
	if len(got) != 1 || got[0].Path != "/srv/progrun" || got[0].Soname != "libfoo.so.1" || !strings.Contains(got[0].Detail, "searched /srv/../lib:") {
		t.Fatalf("got %+v", got)
	}
}

// The old DT_RPATH of a program applies to the libraries it loads, as
// musl searches the rpath of every object up the chain that loaded one.
func TestRpathAppliesToDependencies(t *testing.T) {
	k := musl(t)
	img := image(t, v1.Config{}, k.muslBase(), pkg{"core-app", []ent{
		dir("opt/", 0o755), dir("opt/dep/", 0o755), program("opt/dep/libfoo.so.1", k.libfoo),
		dir("usr/bin/", 0o755), program("usr/bin/progrpath", k.progRpath),
		program("usr/lib/libbar.so.1", k.libbar),
	}})
	r := run(t, img, nil)
	if !r.Passed || len(r.Findings) != 0 {
		t.Fatalf("libbar's libfoo should resolve through the program's RPATH: %+v", r.Findings)
	}
	// Without the program, libbar alone (as a program that dlopens it
	// sees it) misses libfoo.
	img = image(t, v1.Config{}, k.muslBase(), pkg{"core-lib", []ent{
		dir("opt/", 0o755), dir("opt/dep/", 0o755), program("opt/dep/libfoo.so.1", k.libfoo), program("usr/lib/libbar.so.1", k.libbar),
	}})
	got := findings(run(t, img, nil), check.RuleNeededMissing)
	if len(got) != 1 || got[0].Path != "/usr/lib/libbar.so.1" || got[0].Soname != "libfoo.so.1" {
		t.Fatalf("got %+v", got)
	}
}

// The path file replaces the default system path, and an empty one means
// no system folders at all.
func TestPathFile(t *testing.T) {
	k := musl(t)
	pathFile := "etc/ld-musl-" + muslArch + ".path"
	layers := func(content string) []pkg {
		return []pkg{k.muslBase(), {"core-app", []ent{
			dir("etc/", 0o755), text(pathFile, content),
			dir("opt/", 0o755), dir("opt/lib/", 0o755), program("opt/lib/libfoo.so.1", k.libfoo),
			dir("usr/bin/", 0o755), program("usr/bin/prog", k.prog),
		}}}
	}
	if r := run(t, image(t, v1.Config{}, layers("/usr/lib\n/opt/lib\n")...), nil); !r.Passed {
		t.Fatalf("the path file's /opt/lib was not searched: %+v", r.Findings)
	}
	r := run(t, image(t, v1.Config{}, layers("")...), nil)
	got := findings(r, check.RuleNeededMissing)
	if len(got) != 1 || !strings.Contains(got[0].Detail, "/"+pathFile) || !strings.Contains(got[0].Detail, "no folder to search") {
		t.Fatalf("an empty path file should leave nothing to search: %+v", got)
	}
	// Without the file, the default path does not hold /opt/lib.
	img := image(t, v1.Config{}, k.muslBase(), pkg{"core-app", []ent{
		dir("opt/", 0o755), dir("opt/lib/", 0o755), program("opt/lib/libfoo.so.1", k.libfoo),
		dir("usr/bin/", 0o755), program("usr/bin/prog", k.prog)}})
	if got := findings(run(t, img, nil), check.RuleNeededMissing); len(got) != 1 {
		t.Fatalf("got %+v", got)
	}
}

// LD_LIBRARY_PATH in the config is searched first.
func TestLDLibraryPath(t *testing.T) {
	k := musl(t)
	img := image(t, v1.Config{Env: []string{"LD_LIBRARY_PATH=/opt/lib"}}, k.muslBase(), pkg{"core-app", []ent{
		dir("opt/", 0o755), dir("opt/lib/", 0o755), program("opt/lib/libfoo.so.1", k.libfoo),
		dir("usr/bin/", 0o755), program("usr/bin/prog", k.prog)}})
	if r := run(t, img, nil); !r.Passed {
		t.Fatalf("LD_LIBRARY_PATH not searched: %+v", r.Findings)
	}
}

// Names musl reserves for itself (libc.so, libc.musl-<arch>.so.1, libm…)
// are the loader, never searched.
func TestLoaderReservedNames(t *testing.T) {
	k := musl(t)
	img := image(t, v1.Config{}, k.muslBase(), pkg{"core-app", []ent{dir("usr/bin/", 0o755), program("usr/bin/progself", k.progSelf)}})
	if r := run(t, img, nil); !r.Passed || len(r.Findings) != 0 {
		t.Fatalf("libc.musl-%s.so.1 should be the loader: %+v", muslArch, r.Findings)
	}
}

// Symlinks resolve inside the image root: an absolute target from the
// image's root, ".." never above it. A link to a file that exists on this
// host but not in the image is a miss.
func TestSymlinksStayInTheRoot(t *testing.T) {
	k := musl(t)
	if _, err := os.Stat(muslLibc()); err != nil {
		t.Fatal(err)
	}
	img := image(t, v1.Config{}, pkg{"core-app", []ent{
		dir("lib/", 0o755), symlink(loaderPath[1:], muslLibc()), // the host's file, not in the image
		dir("usr/", 0o755), dir("usr/lib/", 0o755),
		symlink("usr/lib/libfoo.so.1", "../../../../../../real/libfoo.so.1"), // clamps to /real/libfoo.so.1
		dir("real/", 0o755), program("real/libfoo.so.1", k.libfoo),
		dir("usr/bin/", 0o755), program("usr/bin/prog", k.prog),
	}})
	r := run(t, img, nil)
	if got := findings(r, check.RuleNeededMissing); len(got) != 0 {
		t.Errorf("the .. link should resolve to /real inside the image: %+v", got)
	}
	got := findings(r, check.RuleInterpMissing)
	if len(got) != 1 || got[0].Path != "/usr/bin/prog" {
		t.Errorf("a loader link to a host path must not resolve: %+v", got)
	}
}

// A needed name that opens but is no loadable object stops the search.
func TestNeededInvalid(t *testing.T) {
	k := musl(t)
	img := image(t, v1.Config{}, k.muslBase(), pkg{"core-app", []ent{
		dir("lib/", 0o755), text("lib/libfoo.so.1", "not an ELF file\n"),
		dir("usr/lib/", 0o755), program("usr/lib/libfoo.so.1", k.libfoo),
		dir("usr/bin/", 0o755), program("usr/bin/prog", k.prog)}})
	got := findings(run(t, img, nil), check.RuleNeededInvalid)
	if len(got) != 1 || got[0].Path != "/usr/bin/prog" || !strings.Contains(got[0].Detail, "found at /lib/libfoo.so.1, which is not an ELF file") {
		t.Fatalf("got %+v", got)
	}
}

// Whiteouts and opaque whiteouts of a later layer remove a library.
func TestWhiteouts(t *testing.T) {
	k := musl(t)
	lib := pkg{"core-foo", []ent{dir("usr/lib/", 0o755), program("usr/lib/libfoo.so.1", k.libfoo), text("usr/lib/keep", "x")}}
	app := pkg{"core-app", []ent{dir("usr/bin/", 0o755), program("usr/bin/prog", k.prog)}}
	for _, tc := range []struct {
		name string
		del  pkg
		keep bool
	}{
		{"whiteout", pkg{"core-del", []ent{dir("usr/lib/", 0o755), text("usr/lib/.wh.libfoo.so.1", "")}}, true},
		{"opaque", pkg{"core-del", []ent{dir("usr/lib/", 0o755), text("usr/lib/.wh..wh..opq", ""), text("usr/lib/new", "y")}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			im, err := check.ReadImage(image(t, v1.Config{}, k.muslBase(), lib, tc.del, app))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := im.Tree.Lstat("usr/lib/libfoo.so.1"); err == nil {
				t.Fatal("libfoo survived the whiteout")
			}
			_, err = im.Tree.Lstat("usr/lib/keep")
			if tc.keep != (err == nil) {
				t.Errorf("usr/lib/keep present=%v, want %v", err == nil, tc.keep)
			}
			if tc.name == "opaque" {
				// The opaque folder keeps its own layer's entries and
				// drops musl's libc.so from below.
				if _, err := im.Tree.Lstat("usr/lib/new"); err != nil {
					t.Error(err)
				}
			}
			r, err := check.Run(im.Tree, im.Options())
			if err != nil {
				t.Fatal(err)
			}
			got := findings(r, check.RuleNeededMissing)
			if len(got) == 0 || got[0].Soname != "libfoo.so.1" || got[0].Path != "/usr/bin/prog" {
				t.Fatalf("got %+v", r.Findings)
			}
		})
	}
}

// Go's toolchain binaries are static: no interpreter, nothing needed.
// busybox-static likewise, and it is a shell.
func TestStaticBinaries(t *testing.T) {
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	b, err := os.ReadFile(goBin)
	if err != nil {
		t.Fatal(err)
	}
	ents := []ent{dir("usr/", 0o755), dir("usr/bin/", 0o755), program("usr/bin/go", b)}
	bb, bbErr := os.ReadFile("/usr/bin/busybox")
	if bbErr == nil {
		ents = append(ents, dir("bin/", 0o755), program("bin/busybox", bb), symlink("bin/sh", "busybox"))
	}
	img := image(t, v1.Config{Entrypoint: []string{"/usr/bin/go"}, Cmd: []string{"version"}}, pkg{"core-go", ents})
	r := run(t, img, nil)
	if !r.Passed || len(r.Findings) != 0 {
		t.Fatalf("static binaries: %+v", r.Findings)
	}
	if bbErr != nil {
		t.Logf("no busybox-static here (%v); checked the Go binary only", bbErr)
		return
	}
	r = run(t, img, func(o *check.Options) { o.NoShell = true })
	var paths []string
	for _, f := range findings(r, check.RuleShell) {
		paths = append(paths, f.Path)
	}
	if !slices.Equal(paths, []string{"/bin/busybox", "/bin/sh"}) || r.Passed {
		t.Fatalf("shells found: %v (passed %v)", paths, r.Passed)
	}
}

// The loader's view (program headers only) agrees with debug/elf's section
// view on every file musl-gcc built.
func TestParseELFAgreesWithSections(t *testing.T) {
	k := musl(t)
	for name, b := range map[string][]byte{
		"libc": k.libc, "libfoo": k.libfoo, "libbar": k.libbar, "prog": k.prog, "progrun": k.progRun,
		"progrpath": k.progRpath, "progself": k.progSelf, "progusrld": k.progUsrLd,
	} {
		interp, needed, rpath, err := check.ParseELF(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		f, err := elf.NewFile(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		libs, err := f.ImportedLibraries()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(needed, libs) {
			t.Errorf("%s: needed %v, sections say %v", name, needed, libs)
		}
		runpath, _ := f.DynString(elf.DT_RUNPATH)
		oldRpath, _ := f.DynString(elf.DT_RPATH)
		want := strings.Join(append(runpath, oldRpath...), "")
		if rpath != want {
			t.Errorf("%s: rpath %q, sections say %q", name, rpath, want)
		}
		var wantInterp string
		if s := f.Section(".interp"); s != nil {
			d, _ := s.Data()
			wantInterp = strings.TrimRight(string(d), "\x00")
		}
		if interp != wantInterp {
			t.Errorf("%s: interp %q, sections say %q", name, interp, wantInterp)
		}
	}
	if _, _, rp, _ := check.ParseELF(bytes.NewReader(k.progRun)); rp != "$ORIGIN/../lib" {
		t.Errorf("progrun's RUNPATH is %q", rp)
	}
	if _, n, _, _ := check.ParseELF(bytes.NewReader(k.progBar)); !slices.Equal(n, []string{"libbar.so.1", "libc.so"}) {
		t.Errorf("progbar needs %v", n)
	}
}

// The path file sits at the loader's path less two components: a loader
// in /usr/lib reads /usr/etc/ld-musl-<arch>.path, not /etc's.
func TestPathFileBesideLoader(t *testing.T) {
	k := musl(t)
	layers := func(pathFile string) []pkg {
		return []pkg{{"core-musl", []ent{dir("usr/", 0o755), dir("usr/lib/", 0o755), program("usr/lib/libc.so", k.libc),
			symlink("usr"+loaderPath, "libc.so")}}, {"core-app", []ent{
			text(pathFile, "/opt/lib"),
			dir("opt/", 0o755), dir("opt/lib/", 0o755), program("opt/lib/libfoo.so.1", k.libfoo),
			dir("usr/bin/", 0o755), program("usr/bin/prog", k.progUsrLd)}}}
	}
	if r := run(t, image(t, v1.Config{}, layers("usr/etc/ld-musl-"+muslArch+".path")...), nil); !r.Passed || len(r.Findings) != 0 {
		t.Fatalf("/usr/etc path file not read: %+v", r.Findings)
	}
	r := run(t, image(t, v1.Config{}, layers("etc/ld-musl-"+muslArch+".path")...), nil)
	if got := findings(r, check.RuleNeededMissing); len(got) != 1 || got[0].Soname != "libfoo.so.1" {
		t.Fatalf("got %+v", r.Findings)
	}
}

func TestLoaderReservedNameTable(t *testing.T) {
	for name, want := range map[string]bool{
		"libc.so": true, "libc.musl-x86_64.so.1": true, "libm.so.6": true, "libpthread.so.0": true, "libdl.so.2": true,
		"librt.so.1": true, "libutil.so": true, "libxnet.so": true, "libcrypto.so.3": false, "libcurl.so.4": false,
		"libm": false, "libmagic.so.1": false, "libz.so.1": false, "/lib/ld-musl-x86_64.so.1": true, "ld-musl-x86_64.so.1": false,
	} {
		if got := check.IsLoaderItself(name, "/lib/ld-musl-x86_64.so.1"); got != want {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
	}
}

// A library of another machine, a static program in a library's place and
// a truncated ELF file: the loader cannot map them, so the search stops
// there with an error; the truncated file is also reported on its own.
func TestNeededUnloadable(t *testing.T) {
	k := musl(t)
	foreign := bytes.Clone(k.libfoo)
	binary.LittleEndian.PutUint16(foreign[18:], uint16(elf.EM_AARCH64))
	goBin, err := os.ReadFile(filepath.Join(runtime.GOROOT(), "bin", "gofmt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		lib  []byte
		want string
	}{
		{"foreign", foreign, "which is for EM_AARCH64, not EM_X86_64"},
		{"static", goBin, "which has no PT_DYNAMIC segment"},
		{"truncated", k.libfoo[:100], "which does not parse as ELF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if runtime.GOARCH != "amd64" && tc.name == "foreign" {
				t.Skip("the foreign machine is arm64 only on amd64")
			}
			img := image(t, v1.Config{}, k.muslBase(), pkg{"core-app", []ent{
				program("usr/lib/libfoo.so.1", tc.lib), dir("usr/bin/", 0o755), program("usr/bin/prog", k.prog)}})
			r := run(t, img, nil)
			got := findings(r, check.RuleNeededInvalid)
			if len(got) != 1 || got[0].Path != "/usr/bin/prog" || !strings.Contains(got[0].Detail, tc.want) {
				t.Fatalf("got %+v", r.Findings)
			}
			bad := findings(r, check.RuleELFInvalid)
			if (tc.name == "truncated") != (len(bad) == 1) {
				t.Errorf("elf-invalid findings: %+v", bad)
			}
		})
	}
}

// With no architecture in the options, a library no program loads is
// resolved by the loader its ELF machine names, and so by that loader's
// path file.
func TestArchFromMachine(t *testing.T) {
	k := musl(t)
	img := image(t, v1.Config{}, k.muslBase(), pkg{"core-lib", []ent{
		dir("etc/", 0o755), text("etc/ld-musl-"+muslArch+".path", "/opt/lib\n"),
		dir("opt/", 0o755), dir("opt/lib/", 0o755), program("opt/lib/libfoo.so.1", k.libfoo),
		program("usr/lib/libbar.so.1", k.libbar)}})
	if r := run(t, img, func(o *check.Options) { o.Arch = "" }); !r.Passed || len(r.Findings) != 0 {
		t.Fatalf("the path file of the machine's loader was not read: %+v", r.Findings)
	}
	if r := run(t, img, func(o *check.Options) { o.Arch = "other" }); len(findings(r, check.RuleNeededMissing)) != 1 {
		t.Fatalf("another loader's path file was read: %+v", r.Findings)
	}
}

func TestMuslArch(t *testing.T) {
	for in, want := range map[[2]string]string{
		{"amd64", ""}: "x86_64", {"arm64", "v8"}: "aarch64", {"386", ""}: "i386", {"arm", "v7"}: "armhf",
		{"riscv64", ""}: "riscv64", {"s390x", ""}: "s390x", {"ppc64le", ""}: "powerpc64le", {"loong64", ""}: "loongarch64",
		{"wasm", ""}: "",
	} {
		if got := check.MuslArch(in[0], in[1]); got != want {
			t.Errorf("MuslArch(%s, %s) = %q, want %q", in[0], in[1], got, want)
		}
	}
}

// Only what can run or be loaded by name is a root: a program without an
// execute bit and a library not named *.so or *.so.* are left alone, while
// a library needs no execute bit.
func TestRoots(t *testing.T) {
	k := musl(t)
	img := image(t, v1.Config{}, k.muslBase(), pkg{"core-src", []ent{
		dir("src/", 0o755), dir("src/testdata/", 0o755),
		file("src/testdata/prog", 0o644, k.progGone),
		file("src/testdata/libbar.so_", 0o644, k.libbar),
		dir("usr/lib/", 0o755), file("usr/lib/libbar.so.1", 0o644, k.libbar),
	}})
	got := findings(run(t, img, nil), check.RuleNeededMissing)
	if len(got) != 1 || got[0].Path != "/usr/lib/libbar.so.1" {
		t.Fatalf("got %+v", got)
	}
}

// The ELF test data of Go's source tree, which StageX's core-go ships
// under /usr/lib/go/src, is no finding.
func TestGoSourceTestdata(t *testing.T) {
	src := filepath.Join(runtime.GOROOT(), "src")
	var ents []ent
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || !strings.Contains(p, "testdata") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil || !bytes.HasPrefix(b, []byte("\x7fELF")) {
			return err
		}
		rel, _ := filepath.Rel(runtime.GOROOT(), p)
		ents = append(ents, file("usr/lib/go/"+filepath.ToSlash(rel), 0o644, b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) < 10 {
		t.Fatalf("only %d ELF files under %s/…/testdata", len(ents), src)
	}
	r := run(t, image(t, v1.Config{}, pkg{"core-go", ents}), nil)
	if len(r.Findings) != 0 {
		t.Fatalf("%d ELF test files: %+v", len(ents), r.Findings)
	}
}

// TestUnparsableProgramFails: a program whose section headers point past
// its end still runs (the loader reads program headers only), so a check
// that cannot read its closure must fail rather than pass it.
func TestUnparsableProgramFails(t *testing.T) {
	k := musl(t)
	bad := append([]byte(nil), k.prog...)
	binary.LittleEndian.PutUint64(bad[0x28:], uint64(len(bad))+4096) // e_shoff past the end
	img := image(t, v1.Config{}, k.muslBase(), pkg{"core-app", []ent{dir("usr/bin/", 0o755), program("usr/bin/prog", bad)}})
	r := run(t, img, nil)
	if r.Passed || len(findings(r, check.RuleELFInvalid)) != 1 {
		t.Fatalf("passed=%v, findings %+v", r.Passed, r.Findings)
	}
}
