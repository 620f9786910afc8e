package testbed

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Fixture packages whose files are real ELF programs, so that the loader,
// the composition check and RUN steps work on them as they would on StageX:
//
//   - core-musl: the host's musl libc (Debian's musl package), laid out as
//     StageX's core/musl Containerfile lays it out.
//   - core-libhello: a shared library built at fixture time with musl-gcc
//     (Debian's musl-tools).
//   - core-hello: a program linked against it (and musl).
//   - core-hello-broken: the negative fixture, a program that needs
//     libmissing.so.1, which no fixture package ships.
//   - core-go: the host's Go toolchain, trimmed, laid out as StageX's
//     core/go Containerfile lays it out (built only when named: it is big).
//
// Everything is built from the same inputs the same way: the C programs
// with -g0, stripped, without a build ID, from sources of fixed names in a
// folder of their own; the Go files are copied as they are, sorted, and the
// layer writer fixes every mtime and owner.
const (
	// Musl is the libc and loader package.
	Musl = "core-musl"
	// LibHello ships libhello.so.1.
	LibHello = "core-libhello"
	// Hello ships /usr/bin/hello, which needs libhello.so.1 and libc.
	Hello = "core-hello"
	// HelloBroken ships /usr/bin/hello-broken, which needs MissingSoname.
	HelloBroken = "core-hello-broken"
	// Go is the Go toolchain package.
	Go = "core-go"

	// MuslLoader is musl's loader, the PT_INTERP of every program linked
	// against it: /lib is a link to usr/lib in core-filesystem.
	MuslLoader = "/lib/ld-musl-x86_64.so.1"
	// HelloLib is the soname (and file name under /usr/lib) of core-libhello.
	HelloLib = "libhello.so.1"
	// MissingSoname is what core-hello-broken needs and nothing ships.
	MissingSoname = "libmissing.so.1"
	// HelloOutput is what /usr/bin/hello prints (one line).
	HelloOutput = "hello from libhello"
	// GoRoot is where core-go installs the toolchain (StageX: /usr/lib/go,
	// with /usr/bin/go a link to bin/go there).
	GoRoot = "/usr/lib/go"

	// DefaultMuslGCC is the musl-gcc wrapper of Debian's musl-tools.
	DefaultMuslGCC = "musl-gcc"
	// elfHint says how to get what the ELF fixtures are built from.
	elfHint = "install Debian's musl and musl-tools (apt-get install musl musl-tools)"
)

// GoStdPackages are the standard packages (with everything they import)
// whose sources core-go ships: what the reference application in examples/
// and a small `go build` smoke test import. A program importing anything
// else fails to build on the fixture with "package … is not in std".
var GoStdPackages = []string{"context", "encoding/json", "errors", "flag", "fmt", "io", "log", "net", "net/http", "os", "os/signal", "strings", "syscall", "time"}

// goTools are the tools of GOROOT/pkg/tool/linux_amd64 that `go build`
// runs with CGO_ENABLED=0 (no cgo, no vet, no pack: compile packs itself).
var goTools = []string{"asm", "compile", "link"}

// hostBuilds builds and caches, for one fixture set, what the ELF fixtures
// are made of: each input is read or compiled once per set.
type hostBuilds struct {
	opts   Options
	work   string // temporary folder of the C builds
	libc   []byte
	lib    []byte
	hello  []byte
	broken []byte
}

func newHostBuilds(opts Options) *hostBuilds { return &hostBuilds{opts: opts} }

// close removes the temporary folder of the C builds.
func (h *hostBuilds) close() {
	if h != nil && h.work != "" {
		os.RemoveAll(h.work)
	}
}

// muslLibc is the host's musl libc.so (which is its loader too), read
// through the loader link the musl package installs.
func (h *hostBuilds) muslLibc() ([]byte, error) {
	if h.libc != nil {
		return h.libc, nil
	}
	p := h.opts.MuslLoader
	if p == "" {
		p = MuslLoader
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return nil, fmt.Errorf("musl loader %s: %w; %s", p, err, elfHint)
	}
	b, err := os.ReadFile(real)
	if err != nil {
		return nil, fmt.Errorf("musl loader %s: %w; %s", p, err, elfHint)
	}
	if err := checkELF(real, b, elf.ET_DYN); err != nil {
		return nil, err
	}
	h.libc = b
	return b, nil
}

// C sources of the fixture programs. hello_greeting is the library's one
// function; missing_greeting lives in a library built only to link against.
const (
	libHelloC    = "const char *hello_greeting(void) { return \"" + HelloOutput + "\"; }\n"
	libMissingC  = "const char *missing_greeting(void) { return \"never printed\"; }\n"
	helloC       = "#include <stdio.h>\nconst char *hello_greeting(void);\nint main(void) { puts(hello_greeting()); return 0; }\n"
	helloBrokenC = "#include <stdio.h>\nconst char *missing_greeting(void);\nint main(void) { puts(missing_greeting()); return 0; }\n"
)

// deterministicCFlags leave nothing in the output that depends on the
// folder, the time or the run: no debug info, no symbol table, no build ID.
var deterministicCFlags = []string{"-O2", "-g0", "-s", "-Wl,--build-id=none"}

// programs compiles libhello.so.1, hello and hello-broken with musl-gcc.
func (h *hostBuilds) programs() error {
	if h.hello != nil {
		return nil
	}
	cc := h.opts.MuslGCC
	if cc == "" {
		cc = DefaultMuslGCC
	}
	if _, err := exec.LookPath(cc); err != nil {
		return fmt.Errorf("%s: %w; %s", cc, err, elfHint)
	}
	work, err := os.MkdirTemp("", "stagex-fixture-cc-")
	if err != nil {
		return err
	}
	h.work = work
	for name, src := range map[string]string{"libhello.c": libHelloC, "libmissing.c": libMissingC, "hello.c": helloC, "hello-broken.c": helloBrokenC} {
		if err := os.WriteFile(filepath.Join(work, name), []byte(src), 0o644); err != nil {
			return err
		}
	}
	steps := [][]string{
		{"-fPIC", "-shared", "-Wl,-soname," + HelloLib, "-o", HelloLib, "libhello.c"},
		{"-fPIC", "-shared", "-Wl,-soname," + MissingSoname, "-o", MissingSoname, "libmissing.c"},
		{"-o", "hello", "hello.c", "-L.", "-l:" + HelloLib},
		{"-o", "hello-broken", "hello-broken.c", "-L.", "-l:" + MissingSoname},
	}
	for _, s := range steps {
		cmd := exec.Command(cc, append(slices.Clone(deterministicCFlags), s...)...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "LC_ALL=C", "SOURCE_DATE_EPOCH=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s %s: %w\n%s(%s)", cc, strings.Join(cmd.Args[1:], " "), err, out, elfHint)
		}
	}
	read := func(name string, typ elf.Type) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(work, name))
		if err != nil {
			return nil, err
		}
		return b, checkELF(name, b, typ)
	}
	if h.lib, err = read(HelloLib, elf.ET_DYN); err != nil {
		return err
	}
	// musl-gcc links PIE or not depending on the toolchain's defaults.
	if h.hello, err = read("hello", 0); err != nil {
		return err
	}
	if h.broken, err = read("hello-broken", 0); err != nil {
		return err
	}
	return nil
}

// checkELF refuses what is not an x86-64 ELF file of type typ (0: an
// executable, ET_EXEC or ET_DYN).
func checkELF(name string, b []byte, typ elf.Type) error {
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("%s: not an ELF file: %w", name, err)
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 {
		return fmt.Errorf("%s: ELF machine %s, want x86-64", name, f.Machine)
	}
	if typ != 0 && f.Type != typ || typ == 0 && f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return fmt.Errorf("%s: ELF type %s", name, f.Type)
	}
	return nil
}

// muslEntries lay musl out as StageX's core/musl does (its Containerfile
// moves libc.so to the loader's name and links back to it): the loader
// /usr/lib/ld-musl-x86_64.so.1 is the file, libc.so links to it by
// absolute path, libc.musl-x86_64.so.1 (the soname StageX links with)
// by relative path, and /usr/bin/ldd is the loader too.
func (h *hostBuilds) muslEntries() ([]entry, error) {
	libc, err := h.muslLibc()
	if err != nil {
		return nil, err
	}
	loader := "usr/lib/ld-musl-x86_64.so.1"
	return []entry{
		file(loader, 0o755, libc),
		symlink("usr/lib/libc.so", "/"+loader),
		symlink("usr/lib/libc.musl-x86_64.so.1", "ld-musl-x86_64.so.1"),
		symlink("usr/bin/ldd", "/"+loader),
	}, nil
}

func (h *hostBuilds) libHelloEntries() ([]entry, error) {
	if err := h.programs(); err != nil {
		return nil, err
	}
	return []entry{
		file("usr/lib/"+HelloLib, 0o755, h.lib),
		symlink("usr/lib/libhello.so", HelloLib),
	}, nil
}

func (h *hostBuilds) helloEntries() ([]entry, error) {
	if err := h.programs(); err != nil {
		return nil, err
	}
	return []entry{file("usr/bin/hello", 0o755, h.hello)}, nil
}

func (h *hostBuilds) helloBrokenEntries() ([]entry, error) {
	if err := h.programs(); err != nil {
		return nil, err
	}
	return []entry{file("usr/bin/hello-broken", 0o755, h.broken)}, nil
}

// goRoot is the host toolchain core-go is made from: Options.GoRoot, else
// `go env GOROOT` of the go on PATH.
func (h *hostBuilds) goRoot() (string, error) {
	if h.opts.GoRoot != "" {
		return h.opts.GoRoot, nil
	}
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return "", fmt.Errorf("core-go: go env GOROOT: %w (core-go is made from the host's Go toolchain)", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// GoVersion is the version of the toolchain at goroot, from its VERSION
// file ("go1.26.8" → "1.26.8").
func GoVersion(goroot string) (string, error) {
	b, err := os.ReadFile(filepath.Join(goroot, "VERSION"))
	if err != nil {
		return "", fmt.Errorf("core-go: %w", err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	v, ok := strings.CutPrefix(strings.TrimSpace(first), "go")
	if !ok || v == "" {
		return "", fmt.Errorf("core-go: %s/VERSION starts %q, not goX.Y.Z", goroot, first)
	}
	return v, nil
}

// goEntries lay the host toolchain out as StageX's core/go does: `cp -a
// bin lib pkg src /rootfs/usr/lib/go` and /usr/bin/go a link to
// /usr/lib/go/bin/go. Like StageX's, it has no go.env (so GOPROXY and
// GOSUMDB are empty unless the image sets them) and no VERSION file. It is
// trimmed to what `go build` with CGO_ENABLED=0 reads: bin/go, the tools
// in goTools, pkg/include (assembler headers), and of src/ the std module
// files, the non-test files of GoStdPackages and their dependencies, and
// every C header (the runtime's assembly includes runtime/cgo's).
// No gofmt, no lib/ (time zones, wasm, FIPS snapshots), no cmd/ sources.
func (h *hostBuilds) goEntries() ([]entry, string, error) {
	goroot, err := h.goRoot()
	if err != nil {
		return nil, "", err
	}
	version, err := GoVersion(goroot)
	if err != nil {
		return nil, "", err
	}
	rel := []string{"bin/go", "src/go.mod", "src/go.sum", "src/vendor/modules.txt"}
	for _, t := range goTools {
		rel = append(rel, "pkg/tool/linux_amd64/"+t)
	}
	inc, err := regularFiles(goroot, "pkg/include")
	if err != nil {
		return nil, "", err
	}
	rel = append(rel, inc...)
	dirs, err := goStdDirs(goroot)
	if err != nil {
		return nil, "", err
	}
	headers, err := goHeaders(goroot)
	if err != nil {
		return nil, "", err
	}
	rel = append(rel, headers...)
	for _, d := range dirs {
		files, err := regularFiles(goroot, d)
		if err != nil {
			return nil, "", err
		}
		for _, f := range files {
			if !strings.HasSuffix(f, "_test.go") {
				rel = append(rel, f)
			}
		}
	}
	slices.Sort(rel)
	rel = slices.Compact(rel)
	root := strings.TrimPrefix(GoRoot, "/")
	e := []entry{symlink("usr/bin/go", GoRoot+"/bin/go")}
	for _, r := range rel {
		p := filepath.Join(goroot, filepath.FromSlash(r))
		st, err := os.Stat(p)
		if err != nil {
			return nil, "", fmt.Errorf("core-go: %w", err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, "", fmt.Errorf("core-go: %w", err)
		}
		mode := int64(0o644)
		if st.Mode()&0o111 != 0 {
			mode = 0o755
		}
		e = append(e, file(path.Join(root, r), mode, b))
	}
	return e, version, nil
}

// goStdDirs lists the folders (relative to goroot) of GoStdPackages and
// their dependencies, as the toolchain at goroot resolves them for
// linux/amd64 without cgo.
func goStdDirs(goroot string) ([]string, error) {
	tmp, err := os.MkdirTemp("", "stagex-fixture-golist-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	args := append([]string{"list", "-deps", "-f", "{{.Dir}}"}, GoStdPackages...)
	cmd := exec.Command(filepath.Join(goroot, "bin", "go"), args...)
	cmd.Dir = tmp // outside any module
	cmd.Env = append(os.Environ(), "GOROOT="+goroot, "GOOS=linux", "GOARCH=amd64", "CGO_ENABLED=0",
		"GOFLAGS=", "GOTOOLCHAIN=local", "GOWORK=off", "GO111MODULE=", "GOCACHE="+filepath.Join(tmp, "cache"))
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		return nil, fmt.Errorf("core-go: go %s: %w\n%s", strings.Join(args, " "), err, msg)
	}
	var dirs []string
	for _, d := range strings.Fields(string(out)) {
		r, err := filepath.Rel(goroot, d)
		if err != nil || !strings.HasPrefix(filepath.ToSlash(r), "src/") {
			return nil, fmt.Errorf("core-go: package folder %s is not under %s/src", d, goroot)
		}
		dirs = append(dirs, filepath.ToSlash(r))
	}
	return dirs, nil
}

// goHeaders lists the .h files anywhere under goroot/src but in testdata,
// relative to goroot, sorted: assembly includes headers of other folders
// ("cgo/abi_amd64.h" from runtime/), and all of them are a few dozen KiB.
func goHeaders(goroot string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(filepath.Join(goroot, "src"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() && strings.HasSuffix(p, ".h") {
			r, err := filepath.Rel(goroot, p)
			if err != nil {
				return err
			}
			out = append(out, filepath.ToSlash(r))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("core-go: %w", err)
	}
	slices.Sort(out)
	return out, nil
}

// regularFiles lists the regular files directly in goroot/dir (not in
// its subfolders), relative to goroot, sorted.
func regularFiles(goroot, dir string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(goroot, filepath.FromSlash(dir)))
	if err != nil {
		return nil, fmt.Errorf("core-go: %w", err)
	}
	var out []string
	for _, e := range ents {
		if e.Type()&fs.ModeType == 0 {
			out = append(out, dir+"/"+e.Name())
		}
	}
	return out, nil
}
