package testbed

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"debug/elf"
	"edp.buildth.ing/devfw-cicd/stagex/spec"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Fixture packages look like StageX packages: core-filesystem is one layer
// from scratch, and every package image is core-filesystem plus exactly one
// layer of its own (merged-/usr layout), so its layers are
// [filesystem-layer, package-layer]. pallet-tools is the exception on
// purpose: three layers of its own, none of them core-filesystem's.
//
// Everything is deterministic: the same inputs give the same digests.

const (
	// FixtureRelease is the release name written into fixture lock files.
	FixtureRelease = "fixture"
	// FixtureRepoPrefix is the repository prefix under the registry:
	// <registry>/stagex/<name>.
	FixtureRepoPrefix = "stagex"
	// Filesystem is the base package every (non-pallet) fixture sits on.
	Filesystem = "core-filesystem"
	// Busybox is the package that gives fixture images a shell.
	Busybox = "core-busybox"
	// PalletTools is the fixture whose layers do not start with
	// core-filesystem's layer.
	PalletTools = "pallet-tools"
	// Large is the big fixture, built only with Options.Large.
	Large = "core-large"
	// DefaultBusyboxPath is where the busybox-static package installs the
	// static busybox binary.
	DefaultBusyboxPath = "/bin/busybox"
	// DefaultLargeSize is the payload size of core-large (200 MiB).
	DefaultLargeSize = 200 << 20
	// LargeSeed seeds the ChaCha8 stream of core-large.
	LargeSeed = "stagex-fixture-core-large-seed-1"
)

// Epoch is the fixed time of every file, history entry and config.
var Epoch = time.Unix(0, 0).UTC()

// DefaultFixtureNames is the set built by BuildFixtures (core-large is
// added with Options.Large).
var DefaultFixtureNames = []string{
	Filesystem,
	Busybox,
	"core-ca-certificates",
	Hello,
	HelloBroken,
	LibHello,
	Musl,
	"core-zlib",
	PalletTools,
}

// packageMeta gives a version and a license to the known fixture names;
// any other name gets genericMeta.
var packageMeta = map[string][2]string{
	Filesystem:             {"2024.09.0", "MIT"},
	Busybox:                {"1.36.1", "GPL-2.0-only"},
	"core-ca-certificates": {"20240203", "MPL-2.0"},
	Hello:                  {"1.0.0", "MIT"},
	HelloBroken:            {"1.0.0", "MIT"},
	LibHello:               {"1.0.0", "MIT"},
	Musl:                   {"1.2.5", "MIT"},
	"core-zlib":            {"1.3.1", "Zlib"},
	PalletTools:            {"1.0.0", "MIT"},
	Large:                  {"1.0.0", "CC0-1.0"},
}

var genericMeta = [2]string{"1.0.0", "MIT"}

// Options controls what the fixture generator builds.
type Options struct {
	// Busybox is the content of /usr/bin/busybox in core-busybox. When nil
	// the file at BusyboxPath is read (it must be a static binary).
	Busybox []byte
	// BusyboxPath defaults to DefaultBusyboxPath.
	BusyboxPath string
	// Large adds core-large to BuildFixtures.
	Large bool
	// LargeSize overrides the size of core-large's payload (bytes).
	LargeSize int64
	// Extra names are built as well (generic packages, see BuildFixture;
	// core-go is built only when named here).
	Extra []string
	// MuslLoader is the host's musl loader core-musl is made from
	// (default MuslLoader, from Debian's musl package).
	MuslLoader string
	// MuslGCC compiles core-libhello, core-hello and core-hello-broken
	// (default DefaultMuslGCC, from Debian's musl-tools).
	MuslGCC string
	// GoRoot is the toolchain core-go is made from (default: `go env
	// GOROOT`).
	GoRoot string
}

// Fixture is one built fixture package image.
type Fixture struct {
	Name    string
	Version string
	License string
	Image   v1.Image
	// Digest is the image manifest digest ("sha256:…").
	Digest string
	// Layers are the compressed layer digests, bottom first.
	Layers []string
	// DiffIDs are the uncompressed layer digests, bottom first.
	DiffIDs []string
}

// Ref is the fixture's reference by digest in a registry:
// <registry>/stagex/<name>@sha256:….
func (f *Fixture) Ref(registry string) string {
	return fmt.Sprintf("%s/%s/%s@%s", registry, FixtureRepoPrefix, f.Name, f.Digest)
}

// TagRef is the reference the fixture is pushed under:
// <registry>/stagex/<name>:<version>.
func (f *Fixture) TagRef(registry string) string {
	return fmt.Sprintf("%s/%s/%s:%s", registry, FixtureRepoPrefix, f.Name, f.Version)
}

// FixtureSet is a set of built fixtures by name.
type FixtureSet map[string]*Fixture

// Names returns the fixture names, sorted.
func (s FixtureSet) Names() []string {
	names := make([]string, 0, len(s))
	for n := range s {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// BuildFixtures builds DefaultFixtureNames (plus core-large with
// opts.Large, plus opts.Extra) in memory.
func BuildFixtures(opts Options) (FixtureSet, error) {
	names := append([]string(nil), DefaultFixtureNames...)
	if opts.Large {
		names = append(names, Large)
	}
	names = append(names, opts.Extra...)
	fs, err := buildFilesystem()
	if err != nil {
		return nil, err
	}
	set := FixtureSet{Filesystem: fs}
	h := newHostBuilds(opts)
	defer h.close()
	for _, n := range names {
		if _, ok := set[n]; ok {
			continue
		}
		f, err := buildPackage(n, fs, h)
		if err != nil {
			return nil, fmt.Errorf("fixture %s: %w", n, err)
		}
		set[n] = f
	}
	return set, nil
}

// BuildFixture builds one fixture by name. Any name works: it gets a marker
// file /usr/share/stagex-fixture/<name>/README, plus the special content
// of the known names (core-musl, core-busybox, …).
func BuildFixture(pkg string, opts Options) (*Fixture, error) {
	fs, err := buildFilesystem()
	if err != nil {
		return nil, err
	}
	if pkg == Filesystem {
		return fs, nil
	}
	h := newHostBuilds(opts)
	defer h.close()
	return buildPackage(pkg, fs, h)
}

// ---------------------------------------------------------------------------
// Layer contents

type entry struct {
	path   string // without leading slash
	mode   int64
	typ    byte
	link   string
	data   []byte
	stream func(io.Writer) error // large regular files
	size   int64                 // with stream
}

func dir(p string, mode int64) entry { return entry{path: p, mode: mode, typ: tar.TypeDir} }
func file(p string, mode int64, data []byte) entry {
	return entry{path: p, mode: mode, typ: tar.TypeReg, data: data}
}
func text(p, s string) entry { return file(p, 0o644, []byte(s)) }
func symlink(p, target string) entry {
	return entry{path: p, mode: 0o777, typ: tar.TypeSymlink, link: target}
}
func clean(p string) string            { return strings.Trim(path.Clean("/"+p), "/") }
func withDirs(entries []entry) []entry { return addParents(entries) }
func marker(pkg string) entry {
	return text("usr/share/stagex-fixture/"+pkg+"/README", markerText(pkg))
}
func markerText(pkg string) string { return "stagex test fixture package " + pkg + "\n" }

func meta(pkg string) (version, license string) {
	m, ok := packageMeta[pkg]
	if !ok {
		m = genericMeta
	}
	return m[0], m[1]
}

// addParents adds 0755 directories for every missing parent and sorts the
// entries by path.
func addParents(entries []entry) []entry {
	have := map[string]bool{}
	for i := range entries {
		entries[i].path = clean(entries[i].path)
		have[entries[i].path] = true
	}
	out := append([]entry(nil), entries...)
	for _, e := range entries {
		for p := path.Dir(e.path); p != "." && p != "/" && p != ""; p = path.Dir(p) {
			if !have[p] {
				have[p] = true
				out = append(out, dir(p, 0o755))
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

func filesystemEntries() []entry {
	passwd := strings.Join([]string{
		"root:x:0:0:root:/root:/bin/sh",
		"bin:x:1:1:bin:/bin:/sbin/nologin",
		"daemon:x:2:2:daemon:/sbin:/sbin/nologin",
		"user:x:1000:1000:user:/home/user:/bin/sh",
		"nobody:x:65534:65534:nobody:/:/sbin/nologin",
	}, "\n") + "\n"
	group := strings.Join([]string{
		"root:x:0:root",
		"bin:x:1:root,bin,daemon",
		"daemon:x:2:root,bin,daemon",
		"tty:x:5:",
		"user:x:1000:user",
		"nogroup:x:65534:",
	}, "\n") + "\n"
	osRelease := "NAME=StageX\nID=stagex\nPRETTY_NAME=\"StageX (test fixture)\"\nVERSION_ID=fixture\nHOME_URL=\"https://stagex.tools\"\n"
	var e []entry
	for _, d := range []string{"dev", "etc", "home", "home/user", "mnt", "proc", "run", "sys",
		"usr", "usr/bin", "usr/lib", "usr/local", "usr/sbin", "usr/share", "var", "var/cache", "var/lib", "var/log"} {
		e = append(e, dir(d, 0o755))
	}
	e = append(e,
		dir("root", 0o700),
		dir("tmp", 0o1777),
		dir("var/tmp", 0o1777),
		symlink("bin", "usr/bin"),
		symlink("lib", "usr/lib"),
		symlink("sbin", "usr/sbin"),
		symlink("lib64", "usr/lib"),
		symlink("var/run", "../run"),
		text("etc/passwd", passwd),
		text("etc/group", group),
		text("etc/os-release", osRelease),
		text("etc/hosts", "127.0.0.1 localhost\n::1 localhost\n"),
	)
	return withDirs(e)
}

// packageEntries are the files of pkg and, for core-go, the version of the
// toolchain they are made from ("" for the others: their version is meta's).
func packageEntries(pkg string, h *hostBuilds) ([]entry, string, error) {
	opts := h.opts
	e := []entry{marker(pkg)}
	var own []entry
	var version string
	var err error
	switch pkg {
	case Busybox:
		bb := opts.Busybox
		if bb == nil {
			p := opts.BusyboxPath
			if p == "" {
				p = DefaultBusyboxPath
			}
			if bb, err = readStaticBinary(p); err != nil {
				return nil, "", err
			}
		}
		e = append(e, file("usr/bin/busybox", 0o755, bb))
		for _, applet := range []string{"cat", "echo", "env", "id", "ls", "mkdir", "sh", "test"} {
			e = append(e, symlink("usr/bin/"+applet, "busybox"))
		}
	case Musl:
		own, err = h.muslEntries()
	case LibHello:
		own, err = h.libHelloEntries()
	case HelloBroken:
		own, err = h.helloBrokenEntries()
	case Go:
		own, version, err = h.goEntries()
	case "core-ca-certificates":
		e = append(e, text("etc/ssl/certs/ca-certificates.crt",
			"-----BEGIN CERTIFICATE-----\nU1RBR0VYIFRFU1QgRklYVFVSRSBDRVJUSUZJQ0FURSAtIE5PVCBBIFJFQUwgQ0VSVA==\n-----END CERTIFICATE-----\n"))
	case "core-zlib":
		e = append(e,
			file("usr/lib/libz.so.1.3.1", 0o755, []byte("stagex fixture: zlib marker\n")),
			symlink("usr/lib/libz.so.1", "libz.so.1.3.1"),
			symlink("usr/lib/libz.so", "libz.so.1.3.1"),
		)
	case Hello:
		e = append(e, text("usr/share/hello/hello.txt", "Hello, StageX!\n"))
		own, err = h.helloEntries()
	case Large:
		size := opts.LargeSize
		if size <= 0 {
			size = DefaultLargeSize
		}
		e = append(e, entry{path: "usr/share/core-large/blob.bin", mode: 0o644, typ: tar.TypeReg,
			size: size, stream: func(w io.Writer) error { return seededStream(w, size) }})
	}
	if err != nil {
		return nil, "", err
	}
	return withDirs(append(e, own...)), version, nil
}

// seededStream writes n bytes of incompressible, deterministic data.
func seededStream(w io.Writer, n int64) error {
	var seed [32]byte
	copy(seed[:], LargeSeed)
	rng := rand.NewChaCha8(seed)
	buf := make([]byte, 1<<20)
	for n > 0 {
		chunk := buf
		if int64(len(chunk)) > n {
			chunk = chunk[:n]
		}
		_, _ = rng.Read(chunk)
		if _, err := w.Write(chunk); err != nil {
			return err
		}
		n -= int64(len(chunk))
	}
	return nil
}

// readStaticBinary reads an ELF binary and refuses a dynamically linked one
// (it could not run in a fixture image without its libraries).
func readStaticBinary(p string) ([]byte, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read busybox (install the busybox-static package: apt-get install busybox-static): %w", err)
	}
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: not an ELF binary: %w", p, err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return nil, fmt.Errorf("%s is dynamically linked; install the busybox-static package (apt-get install busybox-static)", p)
		}
	}
	return b, nil
}

// ---------------------------------------------------------------------------
// Layers and images

// memLayer is a gzip layer held in memory with precomputed digests.
type memLayer struct {
	compressed []byte
	digest     v1.Hash
	diffID     v1.Hash
	uncompSize int64
	entries    []entry // to regenerate the uncompressed stream
}

func (l *memLayer) Digest() (v1.Hash, error) { return l.digest, nil }
func (l *memLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }
func (l *memLayer) Size() (int64, error)     { return int64(len(l.compressed)), nil }
func (l *memLayer) MediaType() (types.MediaType, error) {
	return types.OCILayer, nil
}
func (l *memLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.compressed)), nil
}
func (l *memLayer) Uncompressed() (io.ReadCloser, error) {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeTar(pw, l.entries)) }()
	return pr, nil
}

func writeTar(w io.Writer, entries []entry) error {
	tw := tar.NewWriter(w)
	for _, e := range entries {
		h := &tar.Header{
			Name:     e.path,
			Mode:     e.mode,
			Typeflag: e.typ,
			Linkname: e.link,
			ModTime:  Epoch,
			Uid:      0,
			Gid:      0,
		}
		switch e.typ {
		case tar.TypeDir:
			h.Name += "/"
		case tar.TypeReg:
			h.Size = int64(len(e.data))
			if e.stream != nil {
				h.Size = e.size
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if e.typ == tar.TypeReg {
			var err error
			if e.stream != nil {
				err = e.stream(tw)
			} else {
				_, err = tw.Write(e.data)
			}
			if err != nil {
				return err
			}
		}
	}
	return tw.Close()
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func newLayer(entries []entry) (*memLayer, error) {
	var comp bytes.Buffer
	compHash := sha256.New()
	// Big layers (core-large: incompressible anyway; core-go: a toolchain)
	// are compressed fast: fixtures are built on every test run.
	level := gzip.DefaultCompression
	var size int64
	for _, e := range entries {
		size += int64(len(e.data)) + e.size
	}
	if size > 8<<20 {
		level = gzip.BestSpeed
	}
	zw, err := gzip.NewWriterLevel(io.MultiWriter(&comp, compHash), level)
	if err != nil {
		return nil, err
	}
	diffHash := sha256.New()
	cnt := &countWriter{}
	if err := writeTar(io.MultiWriter(zw, diffHash, cnt), entries); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return &memLayer{
		compressed: comp.Bytes(),
		digest:     v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(compHash.Sum(nil))},
		diffID:     v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(diffHash.Sum(nil))},
		uncompSize: cnt.n,
		entries:    entries,
	}, nil
}

func history(createdBy string) v1.History {
	return v1.History{Created: v1.Time{Time: Epoch}, CreatedBy: createdBy, Comment: "stagex test fixture"}
}

// finish sets the config fields every fixture shares and returns the Fixture.
func finish(pkg string, img v1.Image, user string) (*Fixture, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS = "linux"
	cf.Architecture = "amd64"
	cf.Created = v1.Time{Time: Epoch}
	cf.Author = ""
	cf.Config.User = user
	cf.Config.Entrypoint = nil
	cf.Config.Cmd = nil
	cf.Config.Labels = nil
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, err
	}
	return describe(pkg, img)
}

func describe(pkg string, img v1.Image) (*Fixture, error) {
	d, err := img.Digest()
	if err != nil {
		return nil, err
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	version, license := meta(pkg)
	f := &Fixture{Name: pkg, Version: version, License: license, Image: img, Digest: d.String()}
	for _, l := range layers {
		ld, err := l.Digest()
		if err != nil {
			return nil, err
		}
		di, err := l.DiffID()
		if err != nil {
			return nil, err
		}
		f.Layers = append(f.Layers, ld.String())
		f.DiffIDs = append(f.DiffIDs, di.String())
	}
	return f, nil
}

func baseImage() v1.Image {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	return mutate.ConfigMediaType(img, types.OCIConfigJSON)
}

func buildFilesystem() (*Fixture, error) {
	l, err := newLayer(filesystemEntries())
	if err != nil {
		return nil, err
	}
	img, err := mutate.Append(baseImage(), mutate.Addendum{
		Layer: l, MediaType: types.OCILayer,
		History: history("stagex fixture: " + Filesystem),
	})
	if err != nil {
		return nil, err
	}
	return finish(Filesystem, img, "1000:1000")
}

func buildPackage(pkg string, fs *Fixture, h *hostBuilds) (*Fixture, error) {
	if pkg == PalletTools {
		return buildPallet()
	}
	entries, version, err := packageEntries(pkg, h)
	if err != nil {
		return nil, err
	}
	l, err := newLayer(entries)
	if err != nil {
		return nil, err
	}
	img, err := mutate.Append(fs.Image, mutate.Addendum{
		Layer: l, MediaType: types.OCILayer,
		History: history("stagex fixture: " + pkg),
	})
	if err != nil {
		return nil, err
	}
	f, err := finish(pkg, img, "1000:1000")
	if err == nil && version != "" {
		f.Version = version
	}
	return f, err
}

// buildPallet builds pallet-tools: three layers of its own, the first a
// small root filesystem that is NOT core-filesystem's layer.
func buildPallet() (*Fixture, error) {
	layers := [][]entry{
		withDirs([]entry{
			dir("etc", 0o755), dir("tmp", 0o1777), dir("usr/bin", 0o755), dir("usr/lib", 0o755),
			symlink("bin", "usr/bin"), symlink("lib", "usr/lib"),
			text("etc/os-release", "NAME=StageX\nID=stagex\nPRETTY_NAME=\"StageX pallet-tools (test fixture)\"\n"),
			text("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n"),
		}),
		withDirs([]entry{
			marker(PalletTools),
			file("usr/bin/tool-a", 0o755, []byte("#!/bin/sh\necho tool-a\n")),
			file("usr/bin/tool-b", 0o755, []byte("#!/bin/sh\necho tool-b\n")),
		}),
		withDirs([]entry{
			text("usr/share/pallet-tools/VERSION", "1.0.0\n"),
			text("etc/pallet-tools.conf", "# pallet-tools fixture configuration\n"),
		}),
	}
	img := baseImage()
	for i, entries := range layers {
		l, err := newLayer(entries)
		if err != nil {
			return nil, err
		}
		img, err = mutate.Append(img, mutate.Addendum{
			Layer: l, MediaType: types.OCILayer,
			History: history(fmt.Sprintf("stagex fixture: %s layer %d", PalletTools, i+1)),
		})
		if err != nil {
			return nil, err
		}
	}
	return finish(PalletTools, img, "")
}

// ---------------------------------------------------------------------------
// Registry, lock and manifest

// PushFixtures pushes every fixture to <registry>/stagex/<name>:<version>
// (plain HTTP: the test bed registry is on loopback).
func PushFixtures(ctx context.Context, registry string, set FixtureSet) error {
	return PushFixturesUnder(ctx, registry+"/"+FixtureRepoPrefix, set)
}

// PushFixturesUnder pushes every fixture to <prefix>/<name>:<version>, e.g.
// under a mirror's path (127.0.0.1:5000/mirror/stagex).
func PushFixturesUnder(ctx context.Context, prefix string, set FixtureSet) error {
	for _, n := range set.Names() {
		f := set[n]
		ref, err := name.ParseReference(prefix+"/"+f.Name+":"+f.Version, name.Insecure)
		if err != nil {
			return err
		}
		if err := remote.Write(ref, f.Image, remote.WithContext(ctx)); err != nil {
			return fmt.Errorf("push %s: %w", ref, err)
		}
	}
	return nil
}

// FixturePlatform is the only platform fixtures are built for.
const FixturePlatform = "linux/amd64"

// NewLock describes the set as a lock for <registry>/stagex, in the
// project's own lock type, so a fixture lock is written (and validated) by
// the same code that reads locks.
func NewLock(registry string, set FixtureSet) *spec.Lock {
	l := &spec.Lock{Version: 1, Release: FixtureRelease, Registry: registry + "/" + FixtureRepoPrefix,
		Packages: map[string]spec.LockPackage{}}
	for n, f := range set {
		l.Packages[n] = spec.LockPackage{Version: f.Version, License: f.License,
			Digests: map[string]string{FixturePlatform: f.Digest}}
	}
	return l
}

// ManifestEntry is one fixture in the JSON fixtures manifest.
type ManifestEntry struct {
	Digest  string   `json:"digest"`
	Layers  []string `json:"layers"`
	DiffIDs []string `json:"diff_ids"`
}

// FixturesManifest maps a fixture name to its digests.
type FixturesManifest map[string]ManifestEntry

// Manifest returns the JSON fixtures manifest of the set.
func (s FixtureSet) Manifest() FixturesManifest {
	m := FixturesManifest{}
	for n, f := range s {
		m[n] = ManifestEntry{Digest: f.Digest, Layers: f.Layers, DiffIDs: f.DiffIDs}
	}
	return m
}

// WriteLock writes the lock of the set for registry to path.
func WriteLock(path, registry string, set FixtureSet) error {
	b, err := NewLock(registry, set).Marshal()
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// WriteManifest writes the JSON fixtures manifest of the set to path.
func WriteManifest(path string, set FixtureSet) error {
	b, err := json.MarshalIndent(set.Manifest(), "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// ManifestPath is the path of the JSON fixtures manifest written beside a
// lock file: out.lock.yaml -> out.fixtures.json.
func ManifestPath(lockPath string) string {
	base := strings.TrimSuffix(strings.TrimSuffix(lockPath, ".yaml"), ".yml")
	base = strings.TrimSuffix(base, ".lock")
	return base + ".fixtures.json"
}
