// Unit tests of the image specs in this folder and their lock; no daemon,
// no registry. Run with `go test ./images/`.
//
// The release list the lock is generated from (sx<release>.tsv) is not in
// the repository. The tests look for it at, in order:
//
//   - $STAGEX_SHARED/stagex/sx<release>.tsv
//   - ../shared/stagex/ from the repository root (shared/ beside the checkout,
//     as in a developer's work tree)
//   - ../../shared/stagex/ from the repository root (CI: a fresh clone with
//     shared/ copied beside the clone's parent folder)
//
// Without it the tests that compare with the list skip, except under CI=true,
// where a missing list is a failure: CI must not go green without checking
// the lock against the release.
package images_test

import (
	"bufio"
	"bytes"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"edp.buildth.ing/devfw-cicd/stagex/spec"
)

const (
	syntaxLine = "# syntax=edp.buildth.ing/devfw-cicd/stagex-frontend:1\n"
	lockFile   = "stagex.lock.yaml"
	platform   = "linux/amd64"
	registry   = "docker.io/stagex"
	caBundle   = "/etc/ssl/certs/ca-certificates.crt"
	nonrootID  = 65532
)

type specFile struct {
	name string // file name, e.g. base-go.yaml
	data []byte
	spec *spec.Spec
}

func loadLock(t *testing.T) (*spec.Lock, []byte) {
	t.Helper()
	data, err := os.ReadFile(lockFile)
	if err != nil {
		t.Fatal(err)
	}
	lock, err := spec.ParseLock(lockFile, data)
	if err != nil {
		t.Fatalf("%s does not parse:\n%v", lockFile, err)
	}
	return lock, data
}

func loadSpecs(t *testing.T) []specFile {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var specs []specFile
	var names []string
	for _, f := range files {
		if spec.IsCompanionFile(f) {
			continue
		}
		names = append(names, f)
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s, err := spec.ParseSpec(f, data)
		if err != nil {
			t.Errorf("%s does not parse:\n%v", f, err)
			continue
		}
		specs = append(specs, specFile{name: f, data: data, spec: s})
	}
	// Which specs there are is the bake file's to say: one image target
	// per spec (internal/imageset's TestBakeFileMatchesSpecs).
	if len(names) == 0 {
		t.Error("no spec in images/")
	}
	if t.Failed() {
		t.FailNow()
	}
	return specs
}

func resolve(t *testing.T, f specFile, lock *spec.Lock) *spec.Resolved {
	t.Helper()
	r, err := spec.Resolve(f.spec, lock, spec.ResolveOptions{Platform: platform})
	if err != nil {
		t.Fatalf("%s does not resolve against %s for %s:\n%v", f.name, lockFile, platform, err)
	}
	return r
}

// composition is the resolved base (when any) and packages, in order.
func composition(r *spec.Resolved) []spec.Package {
	var all []spec.Package
	if r.Base != nil {
		all = append(all, *r.Base)
	}
	return append(all, r.Packages...)
}

func TestSpecsParseAndResolve(t *testing.T) {
	lock, _ := loadLock(t)
	for _, f := range loadSpecs(t) {
		t.Run(f.name, func(t *testing.T) {
			if !bytes.HasPrefix(f.data, []byte(syntaxLine)) {
				t.Errorf("does not start with %q", strings.TrimSpace(syntaxLine))
			}
			if want := "stagex-" + strings.TrimSuffix(f.name, ".yaml"); f.spec.Name != want {
				t.Errorf("name = %q, want %q", f.spec.Name, want)
			}
			if f.spec.Lock != lockFile {
				t.Errorf("lock = %q, want the lock beside the spec (%s)", f.spec.Lock, lockFile)
			}
			r := resolve(t, f, lock)
			if r.Base == nil || r.Base.Name != spec.DefaultBase {
				t.Errorf("base = %+v, want %s", r.Base, spec.DefaultBase)
			}
			for _, p := range composition(r) {
				if !p.FromLock || p.Digest == "" || !strings.HasPrefix(p.Ref, registry+"/"+p.Name+"@sha256:") {
					t.Errorf("package %s is not pinned through the lock: %+v", p.Name, p)
				}
			}
			for _, w := range spec.Lint(f.spec, r) {
				t.Errorf("lint %s: %v", w.Rule, w.Error)
			}
		})
	}
}

// TestLockHoldsWhatSpecsUse keeps the lock readable: exactly the packages
// the specs name, plus the default base. It needs no release list.
func TestLockHoldsWhatSpecsUse(t *testing.T) {
	lock, _ := loadLock(t)
	used := map[string]bool{spec.DefaultBase: true}
	for _, f := range loadSpecs(t) {
		for _, p := range composition(resolve(t, f, lock)) {
			used[p.Name] = true
		}
	}
	for name, p := range lock.Packages {
		if !used[name] {
			t.Errorf("lock has %s, which no spec uses; regenerate the lock", name)
		}
		if len(p.Digests) != 1 || p.Digests[platform] == "" {
			t.Errorf("lock package %s: digests %v, want exactly %s", name, p.Digests, platform)
		}
	}
	if lock.Registry != registry {
		t.Errorf("lock registry = %q, want %q", lock.Registry, registry)
	}
}

func TestStaticHasNoShell(t *testing.T) {
	lock, _ := loadLock(t)
	for _, f := range loadSpecs(t) {
		if f.name != "base-static.yaml" {
			continue
		}
		r := resolve(t, f, lock)
		for _, p := range composition(r) {
			if spec.IsShellPackage(p.Name) {
				t.Errorf("base-static composes %s, which provides a shell", p.Name)
			}
			if strings.Contains(p.Name, "musl") {
				t.Errorf("base-static composes %s: static images carry no libc", p.Name)
			}
		}
		isShell := spec.IsShellPath
		for _, p := range f.spec.Paths {
			if isShell(p.Path) || (p.Type == spec.PathSymlink && isShell(p.Target)) {
				t.Errorf("base-static creates a shell path %s", p.Path)
			}
		}
		for _, c := range f.spec.Copy {
			if isShell(c.Dst) {
				t.Errorf("base-static copies to a shell path %s", c.Dst)
			}
		}
		for _, arg := range append(slices.Clone(f.spec.Config.Entrypoint), f.spec.Config.Cmd...) {
			if isShell(arg) {
				t.Errorf("base-static's entrypoint or cmd runs a shell: %q", arg)
			}
		}
		return
	}
	t.Fatal("no base-static.yaml")
}

// TestNonRoot: every image, runtime and toolchain, runs as the nonroot
// account 65532:65532 that the spec itself defines, with a home it owns.
func TestNonRoot(t *testing.T) {
	for _, f := range loadSpecs(t) {
		t.Run(f.name, func(t *testing.T) {
			c := f.spec.Config
			user, group, _ := strings.Cut(c.User, ":")
			uid, err1 := strconv.Atoi(user)
			gid, err2 := strconv.Atoi(group)
			if err1 != nil || err2 != nil || uid == 0 || gid == 0 {
				t.Fatalf("user = %q, want a numeric non-root uid:gid", c.User)
			}
			if uid != nonrootID || gid != nonrootID {
				t.Errorf("user = %q, want %d:%d", c.User, nonrootID, nonrootID)
			}
			var home string
			for _, u := range f.spec.Accounts.Users {
				if u.UID == uid && u.GID == gid {
					home = u.Home
				}
			}
			if home == "" || home == "/" {
				t.Fatalf("no account with uid %d gid %d and a home of its own", uid, gid)
			}
			if !slices.ContainsFunc(f.spec.Accounts.Groups, func(g spec.Group) bool { return g.GID == gid }) {
				t.Errorf("no group with gid %d", gid)
			}
			owned := slices.ContainsFunc(f.spec.Paths, func(p spec.Path) bool {
				return p.Path == home && p.Type == spec.PathDirectory && p.UID == uid && p.GID == gid
			})
			if !owned {
				t.Errorf("home %s is not created as a directory owned by %d:%d", home, uid, gid)
			}
			if c.Workdir != home || c.Env["HOME"] != home {
				t.Errorf("workdir %q, HOME %q: want both %s", c.Workdir, c.Env["HOME"], home)
			}
		})
	}
}

func TestConfig(t *testing.T) {
	for _, f := range loadSpecs(t) {
		t.Run(f.name, func(t *testing.T) {
			c := f.spec.Config
			if c.Env["PATH"] == "" {
				t.Error("PATH is not set")
			}
			if c.Env["SSL_CERT_FILE"] != caBundle {
				t.Errorf("SSL_CERT_FILE = %q, want %s", c.Env["SSL_CERT_FILE"], caBundle)
			}
			if !slices.ContainsFunc(f.spec.Packages, func(p spec.PackageRef) bool { return p.Ref == "core-ca-certificates" }) {
				t.Error("core-ca-certificates is not composed, but SSL_CERT_FILE points at its bundle")
			}
			if len(c.Entrypoint) > 0 && !strings.HasPrefix(c.Entrypoint[0], "/") {
				t.Errorf("entrypoint %q: use an absolute path, PATH lookups differ between runtimes", c.Entrypoint[0])
			}
			base := f.name == "base.yaml" || f.name == "base-static.yaml"
			if base != (len(c.Entrypoint) == 0 && len(c.Cmd) == 0) {
				t.Errorf("entrypoint %q, cmd %q: the bases set none, the others both", c.Entrypoint, c.Cmd)
			}
		})
	}
}

// findReleaseList returns the path of sx<release>.tsv, or skips (fails
// under CI=true) when it is not there.
func findReleaseList(t *testing.T, release string) string {
	t.Helper()
	name := "sx" + release + ".tsv"
	var tried []string
	if dir := os.Getenv("STAGEX_SHARED"); dir != "" {
		p := filepath.Join(dir, "stagex", name)
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("STAGEX_SHARED is set, but %v", err)
		}
		return p
	}
	// The test runs in images/: the repository root is "..".
	for _, rel := range []string{"../../shared", "../../../shared"} {
		p := filepath.Join(rel, "stagex", name)
		tried = append(tried, p)
		if _, err := os.Stat(p); err == nil {
			abs, err := filepath.Abs(p)
			if err != nil {
				t.Fatal(err)
			}
			return abs
		}
	}
	msg := "StageX release list " + name + " not found (tried " + strings.Join(tried, ", ") +
		" from images/; set STAGEX_SHARED to the folder holding stagex/" + name + ")"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

type releaseRow struct{ version, license, source, digest string }

// readReleaseList is a small reader of the release list, independent of
// stagex lock copy's, so that the two cross-check each other.
func readReleaseList(t *testing.T, path string) (release string, rows map[string]releaseRow) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows = map[string]releaseRow{}
	sc := bufio.NewScanner(f)
	header := true
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "# StageX release "); ok && release == "" {
			release, _, _ = strings.Cut(rest, " ")
		}
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		if header {
			header = false
			continue
		}
		c := strings.Split(line, "\t")
		if len(c) != 5 {
			t.Fatalf("%s: malformed line %q", path, line)
		}
		rows[c[0]] = releaseRow{version: c[1], license: c[2], source: c[3], digest: c[4]}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return release, rows
}

func TestLockMatchesReleaseList(t *testing.T) {
	lock, _ := loadLock(t)
	path := findReleaseList(t, lock.Release)
	release, rows := readReleaseList(t, path)
	if release != lock.Release {
		t.Errorf("lock release %q, list %s is release %q", lock.Release, path, release)
	}
	for name, p := range lock.Packages {
		row, ok := rows[name]
		if !ok {
			t.Errorf("lock package %s is not in release %s", name, release)
			continue
		}
		if got := p.Digests[platform]; got != row.digest {
			t.Errorf("%s: lock digest %s, release %s", name, got, row.digest)
		}
		if p.Version != row.version || p.License != row.license || p.Source != row.source {
			t.Errorf("%s: lock version/license/source %q/%q/%q, release %q/%q/%q",
				name, p.Version, p.License, p.Source, row.version, row.license, row.source)
		}
	}
}

// TestLockIsLockCopyOutput regenerates the lock with stagex lock copy from the
// specs and the release list, and requires the checked-in lock to be that
// output byte for byte: nobody edits a digest by hand, and a spec that
// names a new package fails here until the lock is regenerated. The same
// holds for the reference application's lock in examples/, generated from
// its spec and the same release list.
func TestLockIsLockCopyOutput(t *testing.T) {
	lock, _ := loadLock(t)
	// A lock that records signers was written by `stagex lock update` (what
	// hack/renovate-lock runs after a Renovate bump), which checked the
	// maintainers' signatures; `stagex lock verify` is its check, not this
	// copy. Only the offline copy, which records none, must be copy output.
	for name, p := range lock.Packages {
		if len(p.Signers) > 0 {
			t.Skipf("%s records signers for %s: written by stagex lock update, checked by stagex lock verify", lockFile, name)
		}
	}
	list := findReleaseList(t, lock.Release)
	gobin, err := exec.LookPath("go") // go test puts its own GOROOT/bin first on PATH
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("cannot run stagex lock copy: %v", err)
		}
		t.Skipf("cannot run stagex lock copy: %v", err)
	}
	for _, dir := range []string{"images", "examples"} {
		t.Run(dir, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join("..", dir, lockFile))
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(gobin, "run", "./cmd/stagex", "lock", "copy",
				"--release", lock.Release, "--release-list", list, "--registry", lock.Registry,
				"--from-specs", dir, "-o", "-")
			cmd.Dir = ".."
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			got, err := cmd.Output()
			if err != nil {
				var exit *exec.ExitError
				if errors.As(err, &exit) {
					t.Fatalf("stagex lock copy failed: %v\n%s", err, stderr.String())
				}
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s/%s is not what stagex lock copy writes; regenerate it:\n"+
					"  go run ./cmd/stagex lock copy --release %s --release-list %s --from-specs %s -o %s/%s\n%s",
					dir, lockFile, lock.Release, list, dir, dir, lockFile, lineDiff(string(want), string(got)))
			}
		})
	}
}

// TestProductsCoverEveryLockedPackage: every package the specs use has an
// entry in the products file, and the lock carries what that entry gives:
// a CPE (and purl) with the lock's version that scanners can match, or
// nothing for a package marked none, with its reason. So every StageX
// package of every image's SBOM is either matchable or says why not.
func TestProductsCoverEveryLockedPackage(t *testing.T) {
	lock, _ := loadLock(t)
	data, err := os.ReadFile(spec.DefaultProductsFile)
	if err != nil {
		t.Fatal(err)
	}
	products, err := spec.ParseProducts(spec.DefaultProductsFile, data)
	if err != nil {
		t.Fatalf("%s does not parse:\n%v", spec.DefaultProductsFile, err)
	}
	applied := &spec.Lock{Version: lock.Version, Release: lock.Release, Registry: lock.Registry, Packages: map[string]spec.LockPackage{}}
	for name, p := range lock.Packages {
		p.CPE, p.PURL = "", ""
		applied.Packages[name] = p
	}
	if err := products.Apply(applied); err != nil {
		t.Fatalf("the products file does not cover the lock:\n%v", err)
	}
	none := 0
	for _, name := range slices.Sorted(maps.Keys(lock.Packages)) {
		p, want := lock.Packages[name], applied.Packages[name]
		if p.CPE != want.CPE || p.PURL != want.PURL {
			t.Errorf("%s: lock has cpe %q purl %q, the products file gives %q %q; regenerate the lock", name, p.CPE, p.PURL, want.CPE, want.PURL)
		}
		e := products.Packages[name]
		switch {
		case e.None != "":
			none++
			if p.CPE != "" {
				t.Errorf("%s is none (%s), yet has cpe %q", name, e.None, p.CPE)
			}
		case !strings.HasPrefix(p.CPE, "cpe:2.3:a:"+e.CPE+":"+p.Version+":"):
			t.Errorf("%s: cpe %q does not name %s at the lock's version %s", name, p.CPE, e.CPE, p.Version)
		case p.PURL == "" || !strings.HasSuffix(p.PURL, "@"+p.Version):
			t.Errorf("%s: purl %q does not carry the lock's version %s", name, p.PURL, p.Version)
		}
	}
	t.Logf("%d locked packages, %d of them without product identifiers (none:)", len(lock.Packages), none)
}

// lineDiff shows the first lines where two texts differ.
func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for i := 0; i < max(len(al), len(bl)) && len(out) < 10; i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			out = append(out, "line "+strconv.Itoa(i+1)+":\n  checked in: "+x+"\n  generated:  "+y)
		}
	}
	return strings.Join(out, "\n")
}
