package lock

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"edp.buildth.ing/devfw-cicd/stagex/spec"
	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"
)

// DefaultPlatform is the platform locked when none is asked for, and the
// one a release list's digest column names.
const DefaultPlatform = "linux/amd64"

// Options say where packages come from and what makes them trusted.
type Options struct {
	Registry string // repository prefix the packages are pulled from, e.g. docker.io/stagex
	// Identity is the repository prefix the signatures name; "" means
	// Registry. A mirror (quay.io/stagex) serves the images StageX signed
	// as docker.io/stagex, like containers-policy.json's remapIdentity.
	Identity  string
	Platforms []string // platforms to lock; none means DefaultPlatform
	Policy    Policy
	Remote    []remote.Option // registry options (auth, transport)
	Jobs      int             // digests checked at once; 0 means 4
}

func (o Options) jobs() int {
	if o.Jobs <= 0 {
		return 4
	}
	return o.Jobs
}

func (o Options) platforms() []string {
	if len(o.Platforms) == 0 {
		return []string{DefaultPlatform}
	}
	return o.Platforms
}

// identity is the normalized repository a package's signatures must name.
func (o Options) identity(pkg string) (string, error) {
	prefix := o.Identity
	if prefix == "" {
		prefix = o.Registry
	}
	named, err := reference.ParseNormalizedNamed(SignedIdentity(prefix, pkg))
	if err != nil {
		return "", fmt.Errorf("signed identity %s: %v", SignedIdentity(prefix, pkg), err)
	}
	return named.Name(), nil
}

// SignedIdentity is the repository a package's signatures name: a prefix
// (the lock's registry, or the one StageX signed under when the images
// come from a mirror) and the package's short name.
func SignedIdentity(prefix, pkg string) string {
	return strings.TrimSuffix(prefix, "/") + "/" + pkg
}

// Checked is one verified digest of a lock.
type Checked struct {
	Subject
	Signed
}

// Result is what a lock run found: the digests checked, and notes on
// platforms a package does not publish.
type Result struct {
	Checked []Checked // sorted by package, then platform
	Notes   []string
}

// Build resolves every row's <registry>/<name>:<version> for the asked
// platforms, verifies each digest's signatures against the policy, and
// returns the lock of release with the signers recorded per digest. It
// returns every problem found, and no lock when there is any.
func Build(ctx context.Context, o Options, release string, rows []Row) (*spec.Lock, *Result, error) {
	if err := o.Policy.Check(); err != nil {
		return nil, nil, err
	}
	l := &spec.Lock{Version: 1, Release: release, Registry: o.Registry, Packages: map[string]spec.LockPackage{}}
	if err := l.Validate(); err != nil { // the registry, before any request
		return nil, nil, err
	}
	res := &Result{}
	var (
		mu       sync.Mutex
		problems []string
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		problems = append(problems, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	// Resolve every package first, then check every digest.
	var subjects []Subject
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.jobs())
	for _, row := range rows {
		g.Go(func() error {
			pkg, subs, notes, err := o.resolveRow(gctx, row)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				problems = append(problems, err.Error())
				return nil
			}
			l.Packages[row.Name] = pkg
			subjects = append(subjects, subs...)
			res.Notes = append(res.Notes, notes...)
			return nil
		})
	}
	_ = g.Wait()
	if len(problems) == 0 {
		res.Checked = o.checkAll(ctx, subjects, func(_ Subject, err error) { fail("%v", err) })
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, nil, fmt.Errorf("%s", strings.Join(problems, "\n"))
	}
	for _, c := range res.Checked {
		p := l.Packages[c.Package]
		if p.Signers == nil {
			p.Signers = map[string][]string{}
		}
		p.Signers[c.Platform] = c.Signers
		l.Packages[c.Package] = p
	}
	sort.Strings(res.Notes)
	if err := l.Validate(); err != nil {
		return nil, nil, err
	}
	return l, res, nil
}

// resolveRow resolves one package and cross-checks the release list's
// digest, which names the linux/amd64 image.
func (o Options) resolveRow(ctx context.Context, row Row) (spec.LockPackage, []Subject, []string, error) {
	ref := o.Registry + "/" + row.Name + ":" + row.Version
	want := o.platforms()
	if row.Digest != "" {
		want = append(append([]string(nil), want...), DefaultPlatform)
	}
	got, err := Resolve(ctx, ref, want, o.Remote...)
	if err != nil {
		return spec.LockPackage{}, nil, nil, err
	}
	if row.Digest != "" {
		switch d, ok := got[DefaultPlatform]; {
		case !ok:
			return spec.LockPackage{}, nil, nil, fmt.Errorf("%s publishes no %s image, but the release list (line %d) gives its digest %s", ref, DefaultPlatform, row.Line, row.Digest)
		case d != row.Digest:
			return spec.LockPackage{}, nil, nil, fmt.Errorf("%s (%s) is %s, but the release list (line %d) says %s: the tag moved or the list is for another release", ref, DefaultPlatform, d, row.Line, row.Digest)
		}
	}
	identity, err := o.identity(row.Name)
	if err != nil {
		return spec.LockPackage{}, nil, nil, err
	}
	pkg := spec.LockPackage{Version: row.Version, License: row.License, Source: row.Source, Digests: map[string]string{}}
	var subs []Subject
	var notes []string
	for _, p := range o.platforms() {
		d, ok := got[p]
		if !ok {
			notes = append(notes, fmt.Sprintf("%s: not published for %s; left out", ref, p))
			continue
		}
		pkg.Digests[p] = d
		subs = append(subs, Subject{Package: row.Name, Version: row.Version, Platform: p, Digest: d, Identity: identity})
	}
	if len(subs) == 0 {
		return spec.LockPackage{}, nil, nil, fmt.Errorf("%s publishes none of the platforms asked (%s)", ref, strings.Join(o.platforms(), ", "))
	}
	return pkg, subs, notes, nil
}

// checkAll verifies every subject's signatures, reporting each failure
// through fail (called from one goroutine at a time), and returns the
// checked ones sorted.
func (o Options) checkAll(ctx context.Context, subjects []Subject, fail func(Subject, error)) []Checked {
	var mu sync.Mutex
	var out []Checked
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.jobs())
	for _, s := range subjects {
		g.Go(func() error {
			signed, err := o.Policy.CheckDigest(gctx, s)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				fail(s, err)
				return nil
			}
			out = append(out, Checked{Subject: s, Signed: *signed})
			return nil
		})
	}
	_ = g.Wait()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Package != out[j].Package {
			return out[i].Package < out[j].Package
		}
		return out[i].Platform < out[j].Platform
	})
	return out
}

// Verify re-checks a lock: every digest it pins must still carry a quorum
// of signatures in the lookaside, signed as the entry's version (so that
// every platform of an entry is the same version, and none an older one),
// and every signer the lock recorded must still be among them. Each
// problem is a *spec.Error at the digest's line of the lock. Archives are
// pinned by their own sha256 and are not StageX packages; they are not
// checked here.
func Verify(ctx context.Context, o Options, l *spec.Lock) (*Result, error) {
	if err := o.Policy.Check(); err != nil {
		return nil, err
	}
	if o.Registry == "" {
		o.Registry = l.Registry
	}
	var problems spec.ErrorList
	at := func(s Subject, hint, format string, args ...any) {
		problems = append(problems, spec.Errorf(l.File, DigestPos(l, s.Package, s.Platform), hint, format, args...))
	}
	var subjects []Subject
	for _, name := range sortedKeys(l.Packages) {
		p := l.Packages[name]
		identity, err := o.identity(name)
		if err != nil {
			return nil, err
		}
		for _, platform := range sortedKeys(p.Digests) {
			s := Subject{Package: name, Version: p.Version, Platform: platform, Digest: p.Digests[platform], Identity: identity}
			switch {
			case p.Version == "":
				at(s, "write the lock with stagex lock, which records the version each digest is signed as", "%s: the lock records no version, and the signatures name one", s)
				continue
			case len(p.Signers[platform]) == 0:
				at(s, "write the lock with stagex lock, which verifies and records them", "%s: the lock records no signers", s)
				continue
			}
			subjects = append(subjects, s)
		}
	}
	checked := o.checkAll(ctx, subjects, func(s Subject, err error) {
		hint := "check the keyring and the lookaside; stagex lock update resolves and verifies the entry again"
		var other *VersionError
		if errors.As(err, &other) {
			hint = other.Hint()
		}
		at(s, hint, "%v", err)
	})
	for _, c := range checked {
		if missing := minus(l.Packages[c.Package].Signers[c.Platform], c.Signers); len(missing) > 0 {
			at(c.Subject, "run stagex lock update, which records the signers that verify now",
				"%s: the lock records signers whose signatures are no longer verified: %s", c.Subject, strings.Join(missing, ", "))
		}
	}
	if len(problems) > 0 {
		sort.SliceStable(problems, func(i, j int) bool {
			a, b := problems[i], problems[j]
			if a.Pos.Line != b.Pos.Line {
				return a.Pos.Line < b.Pos.Line
			}
			return a.Msg < b.Msg
		})
		return nil, problems
	}
	return &Result{Checked: checked}, nil
}

// DigestPos is where a lock writes a package's digest for a platform, for
// locating a problem with it.
func DigestPos(l *spec.Lock, pkg, platform string) spec.Pos {
	return l.Pos("packages." + pkg + ".digests." + platform)
}

// Update moves a lock to another release: the same packages (plus add) at
// the versions of the new release list, on the platforms the old lock
// pins unless o asks for others, resolved and verified like Build.
// Archives are carried over unchanged.
func Update(ctx context.Context, o Options, old *spec.Lock, release string, list *ReleaseList, add []string) (*spec.Lock, *Result, error) {
	names := append(sortedKeys(old.Packages), add...)
	rows, err := list.Select(release, names)
	if err != nil {
		return nil, nil, err
	}
	if o.Registry == "" {
		o.Registry = old.Registry
	}
	if len(o.Platforms) == 0 {
		set := map[string]bool{}
		for _, p := range old.Packages {
			for platform := range p.Digests {
				set[platform] = true
			}
		}
		o.Platforms = sortedKeys(set)
	}
	l, res, err := Build(ctx, o, release, rows)
	if err != nil {
		return nil, nil, err
	}
	l.Archives = old.Archives
	return l, res, nil
}

// Diff lists how a new lock differs from an old one, one line per change:
// "+ name version" added, "- name version" removed, "~ name old -> new"
// for a new version, "~ name version: new digest for platform" for a
// rebuild under the same version. Unchanged packages are not listed.
func Diff(old, cur *spec.Lock) []string {
	var out []string
	if old.Release != cur.Release {
		out = append(out, fmt.Sprintf("release %s -> %s", orNone(old.Release), orNone(cur.Release)))
	}
	if old.Registry != cur.Registry {
		out = append(out, fmt.Sprintf("registry %s -> %s", old.Registry, cur.Registry))
	}
	names := map[string]bool{}
	for n := range old.Packages {
		names[n] = true
	}
	for n := range cur.Packages {
		names[n] = true
	}
	for _, n := range sortedKeys(names) {
		a, inOld := old.Packages[n]
		b, inNew := cur.Packages[n]
		switch {
		case !inOld:
			out = append(out, fmt.Sprintf("+ %s %s", n, b.Version))
		case !inNew:
			out = append(out, fmt.Sprintf("- %s %s", n, a.Version))
		case a.Version != b.Version:
			out = append(out, fmt.Sprintf("~ %s %s -> %s", n, a.Version, b.Version))
		default:
			for _, p := range changedPlatforms(a.Digests, b.Digests) {
				out = append(out, fmt.Sprintf("~ %s %s: %s", n, a.Version, p))
			}
		}
	}
	return out
}

// changedPlatforms describes how two digest maps of one version differ.
func changedPlatforms(a, b map[string]string) []string {
	all := map[string]bool{}
	for p := range a {
		all[p] = true
	}
	for p := range b {
		all[p] = true
	}
	var out []string
	for _, p := range sortedKeys(all) {
		da, okA := a[p]
		db, okB := b[p]
		switch {
		case !okA:
			out = append(out, "added "+p)
		case !okB:
			out = append(out, "dropped "+p)
		case da != db:
			out = append(out, "new digest for "+p)
		}
	}
	return out
}

// Header is the comment a lock written by stagex lock starts with.
func Header(release string) string {
	return fmt.Sprintf("# Written by stagex lock from StageX release %s; every digest carries the\n"+
		"# maintainer keys whose signatures were verified. Check with stagex lock verify;\n"+
		"# move to another release with stagex lock update (docs/lock.md). Do not edit.\n", release)
}

// minus returns the items of a not in b (both sorted).
func minus(a, b []string) []string {
	in := map[string]bool{}
	for _, s := range b {
		in[s] = true
	}
	var out []string
	for _, s := range a {
		if !in[s] {
			out = append(out, s)
		}
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
