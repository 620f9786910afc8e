package imageset

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"edp.buildth.ing/devfw-cicd/stagex/internal/fixtures"
	"edp.buildth.ing/devfw-cicd/stagex/spec"
)

// FixtureLockDir is where fixture locks are written, relative to images/:
// the frontend reads the lock from the spec's folder and refuses one outside
// it, and a subfolder keeps it out of the *.yaml glob that finds the specs.
// It is git-ignored.
const FixtureLockDir = ".fixtures"

// FixtureArchiveRepo is the registry repository the fixture archives are
// served from, as blobs: <registry>/fixture-archives/<name>. Not under
// stagex/, since they are not StageX packages (nor are the real ones).
const FixtureArchiveRepo = "fixture-archives"

// FixtureArchiveVersion is the version the fixture lock gives every
// archive, so that an image built from fixtures never claims the real
// archive's version.
const FixtureArchiveVersion = "fixture"

// fixtureTime is the modification time inside fixture archives. It is not
// the epoch on purpose: the archive layer must rewrite it.
var fixtureTime = time.Date(2026, 7, 21, 12, 0, 0, 0, time.UTC)

// fixtureOwner owns the entries of fixture archives: not root on purpose,
// the archive layer must make everything root's.
const fixtureOwner = 1000

// FixtureRegistry is the fixture lock's registry: the canonical name the
// images give the fixture packages, the same on every bed. It never
// resolves (.invalid), so a build that is not pointed at a bed's copy with
// STAGEX_REGISTRY fails instead of pulling anything; and since the images
// name packages by it, the bed's host and port never reach a digest.
const FixtureRegistry = "fixtures.invalid/" + fixtures.RepoPrefix

// Fixtures is an offline stand-in for StageX and for the archives: every
// package of the lock as a fixture package image, every spec archive as a
// fixture tarball, in one registry, and a lock that pins them.
type Fixtures struct {
	Registry string // host:port of the registry holding them
	// Mirror is where the packages are: <Registry>/stagex, the
	// STAGEX_REGISTRY of a build against them (the lock names
	// FixtureRegistry).
	Mirror   string
	Set      fixtures.Set // the packages
	Archives map[string]FixtureArchive
	Lock     *spec.Lock
	// LockPath is the fixture lock relative to images/, the STAGEX_LOCK
	// value: ".fixtures/<registry>.lock.yaml".
	LockPath string
	// LockFile is its absolute path.
	LockFile string
}

// FixtureArchive is one fixture tarball and where it is served.
type FixtureArchive struct {
	Name   string
	URL    string // http://<registry>/v2/fixture-archives/<name>/blobs/sha256:<hex>
	SHA256 string // hex
	Data   []byte // the .tar.gz
	Files  []string
}

// SetupFixtures builds the fixtures for the checked-in lock and specs,
// pushes them to registry (plain HTTP, loopback) and writes the fixture
// lock into images/.fixtures/ under a name of its own per registry, so
// that two beds' runs never share one. The lock's registry is
// FixtureRegistry; the archives' URLs are registry's (the lock is where an
// archive's location is pinned).
func SetupFixtures(ctx context.Context, root, registry string) (*Fixtures, error) {
	specs, err := Specs(root)
	if err != nil {
		return nil, err
	}
	set, err := FixturePackages(root)
	if err != nil {
		return nil, err
	}
	if err := fixtures.Push(ctx, registry, set); err != nil {
		return nil, err
	}

	f := &Fixtures{Registry: registry, Mirror: registry + "/" + fixtures.RepoPrefix, Set: set, Archives: map[string]FixtureArchive{}}
	fl := fixtures.NewLock(registry, set)
	fl.Registry = FixtureRegistry
	// The products file applies to the fixture lock's packages of the real
	// lock as it does to the real lock, so the images built from fixtures
	// carry CPEs and purls (with the fixtures' versions) for the scanners
	// to match. The fixture-only packages (core-hello, pallet-tools) stand
	// for no product.
	products, err := ReadProducts(root)
	if err != nil {
		return nil, err
	}
	lock, err := ReadLock(root)
	if err != nil {
		return nil, err
	}
	real := &spec.Lock{Packages: map[string]spec.LockPackage{}}
	for n := range lock.Packages {
		real.Packages[n] = fl.Packages[n]
	}
	if err := products.Apply(real); err != nil {
		return nil, err
	}
	maps.Copy(fl.Packages, real.Packages)
	fl.Archives = map[string]spec.LockArchive{}
	for _, t := range Images {
		for _, a := range specs[t].Archives {
			if _, done := f.Archives[a.Name]; done {
				continue
			}
			fa, err := BuildFixtureArchive(a.Name, a.StripComponents)
			if err != nil {
				return nil, err
			}
			if fa.URL, err = PushArchive(ctx, registry, a.Name, fa.Data); err != nil {
				return nil, fmt.Errorf("push fixture archive %s: %w", a.Name, err)
			}
			f.Archives[a.Name] = fa
			fl.Archives[a.Name] = spec.LockArchive{Version: FixtureArchiveVersion, License: spec.NoAssertion, URL: fa.URL, SHA256: fa.SHA256}
		}
	}
	f.Lock = fl
	f.LockPath = path.Join(FixtureLockDir, strings.NewReplacer(":", "_", "/", "_").Replace(registry)+".lock.yaml")
	if f.LockFile, err = f.WriteLock(root); err != nil {
		return nil, err
	}
	if err := coversExampleLock(root, fl); err != nil {
		return nil, err
	}
	return f, nil
}

// coversExampleLock fails when the example's lock names a package the
// fixtures do not have (the example would not build offline).
func coversExampleLock(root string, fl *spec.Lock) error {
	p := filepath.Join(root, ExamplesDir, spec.DefaultLockFile)
	data, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	l, err := spec.ParseLock(filepath.Join(ExamplesDir, spec.DefaultLockFile), data)
	if err != nil {
		return err
	}
	for _, n := range slices.Sorted(maps.Keys(l.Packages)) {
		if _, ok := fl.Packages[n]; !ok {
			return fmt.Errorf("%s names %s, which images/%s does not: the fixtures are made for the images' lock; use the images' packages in the example",
				filepath.Join(ExamplesDir, spec.DefaultLockFile), n, spec.DefaultLockFile)
		}
	}
	return nil
}

// FixturePackages builds a fixture package for every package of the
// checked-in lock (deterministic: the same digests every time).
func FixturePackages(root string) (fixtures.Set, error) {
	lock, err := ReadLock(root)
	if err != nil {
		return nil, err
	}
	var names []string
	for n := range lock.Packages {
		names = append(names, n)
	}
	sort.Strings(names)
	set, err := fixtures.Build(fixtures.Options{Extra: names})
	if err != nil {
		return nil, fmt.Errorf("build fixtures: %w", err)
	}
	return set, nil
}

// WriteLock writes the fixture lock into root's images/ at LockPath (root
// may be another checkout of the repository) and returns the file's path.
// The same lock goes under the same relative path beside the example's
// spec, so that one STAGEX_LOCK serves every bake target.
func (f *Fixtures) WriteLock(root string) (string, error) {
	data, err := f.Lock.Marshal()
	if err != nil {
		return "", err
	}
	header := "# Fixture lock written by hack/imageset (archives served by " + f.Registry + "): fixture\n" +
		"# packages and archives, NOT StageX. Generated; git-ignored; safe to delete.\n"
	for _, dir := range []string{ExamplesDir, SpecDir} {
		file := filepath.Join(root, dir, filepath.FromSlash(f.LockPath))
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(file, append([]byte(header), data...), 0o644); err != nil {
			return "", err
		}
	}
	return filepath.Join(root, SpecDir, filepath.FromSlash(f.LockPath)), nil
}

// PushFixtureMirror pushes the fixture packages of root's lock under mirror
// (a STAGEX_REGISTRY value, e.g. localhost:5001/mirror/stagex): the same
// digests as SetupFixtures pushes, somewhere else.
func PushFixtureMirror(ctx context.Context, root, mirror string) error {
	set, err := FixturePackages(root)
	if err != nil {
		return err
	}
	return fixtures.PushUnder(ctx, mirror, set)
}

// PushArchive uploads an archive as a blob of <registry>/fixture-archives/
// <name> and returns the URL the registry serves it at. A registry serves a
// blob by digest over a plain HTTP GET, which is all an archive URL needs,
// so the fixtures need no web server of their own and live exactly as long
// as the bed.
func PushArchive(ctx context.Context, registry, archive string, data []byte) (string, error) {
	repo := FixtureArchiveRepo + "/" + archive
	r, err := name.NewRepository(registry+"/"+repo, name.Insecure)
	if err != nil {
		return "", err
	}
	layer := static.NewLayer(data, types.MediaType("application/vnd.stagex.fixture-archive.tar+gzip"))
	if err := remote.WriteLayer(r, layer, remote.WithContext(ctx)); err != nil {
		return "", err
	}
	d, err := layer.Digest()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("http://%s/v2/%s/blobs/%s", registry, repo, d), nil
}

// BuildFixtureArchive builds a deterministic .tar.gz shaped like the archive
// a spec names: its content below stripComponents folders, the way release
// tarballs wrap theirs in a top folder. For temurin-jre it is a JRE-shaped
// tree whose bin/java is a shell script (the fixture images have busybox's
// sh); any other name gets a README. Entries are owned by uid 1000 and
// dated 2026-07-21, so that the archive layer's chown and epoch show.
func BuildFixtureArchive(archive string, stripComponents int) (FixtureArchive, error) {
	type entry struct {
		name string
		mode int64
		data string
	}
	content := []entry{{name: "README", mode: 0o644, data: "stagex fixture archive " + archive + ": NOT the real archive\n"}}
	if archive == "temurin-jre" {
		content = append(content,
			entry{name: "bin/java", mode: 0o755, data: "#!/bin/sh\n" +
				"# stagex fixture: stands in for the Temurin JRE's java launcher offline\n" +
				"echo 'openjdk version \"21.0.12\" (stagex fixture JRE, not Temurin)' >&2\n"},
			entry{name: "lib/libjli.so", mode: 0o755, data: "stagex fixture: not a library\n"},
			entry{name: "release", mode: 0o644, data: "IMPLEMENTOR=\"stagex test fixture\"\nJAVA_VERSION=\"21.0.12\"\n"},
		)
	}
	var top []string
	for i := range stripComponents {
		top = append(top, fmt.Sprintf("%s-fixture-%d", archive, i))
	}
	prefix := strings.Join(top, "/")

	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	dirs := map[string]bool{}
	var files []string
	writeDir := func(d string) error {
		if d == "" || d == "." || dirs[d] {
			return nil
		}
		dirs[d] = true
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, Uid: fixtureOwner, Gid: fixtureOwner, ModTime: fixtureTime, Format: tar.FormatPAX})
	}
	for i := range top {
		if err := writeDir(strings.Join(top[:i+1], "/")); err != nil {
			return FixtureArchive{}, err
		}
	}
	sort.Slice(content, func(i, j int) bool { return content[i].name < content[j].name })
	for _, e := range content {
		full := path.Join(prefix, e.name)
		for d, parts := "", strings.Split(path.Dir(e.name), "/"); len(parts) > 0 && parts[0] != "."; parts = parts[1:] {
			d = path.Join(d, parts[0])
			if err := writeDir(path.Join(prefix, d)); err != nil {
				return FixtureArchive{}, err
			}
		}
		h := &tar.Header{Typeflag: tar.TypeReg, Name: full, Mode: e.mode, Size: int64(len(e.data)), Uid: fixtureOwner, Gid: fixtureOwner, ModTime: fixtureTime, Format: tar.FormatPAX}
		if err := tw.WriteHeader(h); err != nil {
			return FixtureArchive{}, err
		}
		if _, err := tw.Write([]byte(e.data)); err != nil {
			return FixtureArchive{}, err
		}
		files = append(files, e.name)
	}
	if err := tw.Close(); err != nil {
		return FixtureArchive{}, err
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz) // no name, no mtime: the same bytes every time
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return FixtureArchive{}, err
	}
	if err := zw.Close(); err != nil {
		return FixtureArchive{}, err
	}
	sum := sha256.Sum256(gz.Bytes())
	return FixtureArchive{Name: archive, SHA256: hex.EncodeToString(sum[:]), Data: gz.Bytes(), Files: files}, nil
}
