package spec

import (
	"fmt"
	"github.com/distribution/reference"
	"slices"
	"strings"
)

// NoAssertion is the SPDX value for a license nobody recorded.
const NoAssertion = "NOASSERTION"

// Package is one image of the composition after resolution.
type Package struct {
	Name     string // short name: "core-musl"; for a full ref, the last path element of the repository
	Ref      string // full reference the build pulls: "<registry>/<name>@sha256:…"; a written tag is kept; no digest only when unpinned is allowed
	Digest   string // "sha256:…", "" when unpinned
	Version  string // from the lock; for a full ref not in the lock, the tag if any, else ""
	License  string // SPDX expression from the lock; NoAssertion when unknown
	CPE      string // the upstream product's CPE 2.3 name, from the lock; "" when it records none
	PURL     string // the upstream product's purl, from the lock; "" when it records none
	FromLock bool   // Version, License, CPE and PURL come from the lock
	Pos      Pos    // where it was named in the spec (base: the `base:` field, or Pos{1,1} when defaulted)

	// Canonical is the reference the image and its SBOM name the package
	// by: a short name under the lock's registry, never STAGEX_REGISTRY's
	// (a mirror serves the same digests, so the image must not say where
	// it was pulled from); a full reference as written, like Ref.
	Canonical string
}

// Repository is the repository of the package's canonical reference
// ("docker.io/stagex/core-musl"), as the SBOM names where it comes from.
func (p Package) Repository() string {
	if named, err := reference.ParseNormalizedNamed(p.Canonical); err == nil {
		return named.Name()
	}
	return p.Canonical
}

// ResolveOptions are the build-time settings resolution depends on.
type ResolveOptions struct {
	Platform      string // normalized, e.g. "linux/amd64" (the caller normalizes with containerd/platforms)
	Registry      string // STAGEX_REGISTRY override: replaces the lock's registry for short names; digests unchanged
	AllowUnpinned bool   // STAGEX_ALLOW_UNPINNED=1: a reference without digest becomes a Warning instead of an error
}

// Resolved is the composition for one platform, every image pinned.
type Resolved struct {
	Base     *Package          // nil when base is "scratch"
	Packages []Package         // in spec order
	Archives []ResolvedArchive // in spec order, pinned through the lock where it names them
	Warnings []Warning         // found while resolving (UnpinnedReference, ArchiveRepinned); Lint includes them
}

// Resolve maps the spec's base and packages through the lock for one
// platform. Problems in the spec come back as an ErrorList, each at the
// spec position of the entry at fault: an unknown short name, a package
// without a digest for the platform, a full reference without a digest
// (unless AllowUnpinned), a malformed reference. Invalid options or an
// invalid lock come back as they are. The lock may be nil when the spec
// names no short names.
func Resolve(s *Spec, l *Lock, o ResolveOptions) (*Resolved, error) {
	if s == nil {
		return nil, fmt.Errorf("spec.Resolve: no spec")
	}
	if _, err := canonicalPlatform(o.Platform); err != nil {
		return nil, fmt.Errorf("spec.Resolve: invalid platform %q: %v", o.Platform, err)
	}
	r := &resolver{spec: s, lock: l, opts: o}
	if l != nil {
		if err := l.Validate(); err != nil {
			return nil, err
		}
		r.registry, r.canonical = l.Registry, l.Registry
	}
	if o.Registry != "" {
		r.registry = strings.TrimSuffix(o.Registry, "/")
		if err := checkRegistry(r.registry); err != nil {
			return nil, fmt.Errorf("STAGEX_REGISTRY=%q is not a repository prefix such as <host>/stagex: %v", o.Registry, err)
		}
	}

	out := &Resolved{Packages: []Package{}}
	base, pos := s.Base, startOfFile
	if s.index.has("base") {
		pos = s.Pos("base")
	}
	if base == "" {
		base = DefaultBase
	}
	if base != Scratch {
		if p, ok := r.resolve(base, pos, "base"); ok {
			out.Base = &p
		}
	}
	for i, ref := range s.Packages {
		pos := ref.Pos
		if pos.Line < 1 {
			pos = s.Pos(joinIndex("packages", i))
		}
		if p, ok := r.resolve(ref.Ref, pos, ""); ok {
			out.Packages = append(out.Packages, p)
		}
	}
	out.Archives = r.resolveArchives()
	if err := r.errs.err(); err != nil {
		return nil, err
	}
	out.Warnings = sortWarnings(r.warnings)
	return out, nil
}

// resolver holds the state of one Resolve call.
type resolver struct {
	spec      *Spec
	lock      *Lock
	opts      ResolveOptions
	registry  string // where short names are pulled from: STAGEX_REGISTRY, else the lock's
	canonical string // the lock's registry, which the image names them by
	errs      ErrorList
	warnings  []Warning
}

func (r *resolver) errorf(pos Pos, hint, format string, args ...any) {
	r.errs = append(r.errs, Errorf(r.spec.File, pos, hint, format, args...))
}

// resolve turns one written entry into a Package. label prefixes messages
// about the base ("base: ...") so they are not mistaken for packages.
func (r *resolver) resolve(ref string, pos Pos, label string) (Package, bool) {
	prefix := ""
	if label != "" {
		prefix = label + ": "
	}
	if strings.Contains(ref, "/") {
		return r.resolveImageRef(ref, pos, prefix)
	}
	if problem := checkPackageRef(ref); problem != nil {
		r.errorf(pos, problem.hint, "%s%s", prefix, problem.msg)
		return Package{}, false
	}
	return r.resolveShortName(ref, pos, prefix)
}

func (r *resolver) resolveShortName(name string, pos Pos, prefix string) (Package, bool) {
	if r.lock == nil {
		r.errorf(pos, "write "+DefaultLockFile+" beside the spec, or use a full reference with a digest",
			"%spackage %q cannot be resolved without a lock", prefix, name)
		return Package{}, false
	}
	lp, ok := r.lock.Packages[name]
	if !ok {
		hint := fmt.Sprintf("add it to the lock (%s), or use a full reference with a digest", r.lockName())
		if near := suggest(name, sortedKeys(r.lock.Packages)); len(near) > 0 {
			hint = "did you mean " + quoteList(near) + "?"
		}
		r.errorf(pos, hint, "%sunknown package %q: it is not in the lock", prefix, name)
		return Package{}, false
	}
	digest, ok := lp.Digest(r.opts.Platform)
	if !ok {
		hint := fmt.Sprintf("the lock has no platforms for it; regenerate the lock for %s", r.opts.Platform)
		if len(lp.Digests) > 0 {
			hint = fmt.Sprintf("the lock has %s; regenerate the lock for %s, or build for a listed platform",
				strings.Join(sortedKeys(lp.Digests), ", "), r.opts.Platform)
		}
		r.errorf(pos, hint, "%spackage %q has no digest for platform %s in the lock", prefix, name, r.opts.Platform)
		return Package{}, false
	}
	return Package{
		Name:      name,
		Ref:       r.registry + "/" + name + "@" + digest,
		Canonical: r.canonical + "/" + name + "@" + digest,
		Digest:    digest,
		Version:   lp.Version,
		License:   licenseOrNoAssertion(lp.License),
		CPE:       lp.CPE,
		PURL:      lp.PURL,
		FromLock:  true,
		Pos:       pos,
	}, true
}

func (r *resolver) resolveImageRef(ref string, pos Pos, prefix string) (Package, bool) {
	ir, problem := parseImageRef(ref)
	if problem != nil {
		r.errorf(pos, problem.hint, "%s%s", prefix, problem.msg)
		return Package{}, false
	}
	p := Package{
		Name:      ir.name,
		Ref:       ir.named.String(),
		Canonical: ir.named.String(),
		Digest:    ir.digest,
		Version:   ir.tag,
		License:   NoAssertion,
		Pos:       pos,
	}
	// A full reference is "in the lock" when it pins an image the lock
	// records for that package; then the lock's version and license
	// describe it. The same name at another digest is another build.
	// The lock's image of another platform is refused: its programs are for
	// that platform, and the image would silently be a mix.
	if r.lock != nil && ir.digest != "" {
		if lp, ok := r.lock.Packages[ir.name]; ok && slices.Contains(sortedValues(lp.Digests), ir.digest) {
			if d, ok := lp.Digest(r.opts.Platform); !ok || d != ir.digest {
				other := ""
				for _, k := range sortedKeys(lp.Digests) {
					if lp.Digests[k] == ir.digest {
						other = k
						break
					}
				}
				r.errorf(pos, fmt.Sprintf("write the package name alone (%s), and the lock picks the digest for each platform", ir.name),
					"%simage reference %q is the lock's %s image of %s, not its %s image", prefix, ref, other, ir.name, r.opts.Platform)
				return Package{}, false
			}
			p.Version, p.License, p.CPE, p.PURL, p.FromLock = lp.Version, licenseOrNoAssertion(lp.License), lp.CPE, lp.PURL, true
		}
	}
	if ir.digest == "" {
		if !r.opts.AllowUnpinned {
			r.errorf(pos, "pin it with @sha256:<digest>, or set STAGEX_ALLOW_UNPINNED=1 to build it anyway (with a warning)",
				"%simage reference %q has no digest", prefix, ref)
			return Package{}, false
		}
		r.warnings = append(r.warnings, ruleUnpinnedReference.warn(r.spec.File, pos,
			"pin it with @sha256:<digest> before release", "%simage reference %q has no digest: builds may differ", prefix, ref))
	}
	return p, true
}

func (r *resolver) lockName() string {
	if r.lock.File != "" {
		return r.lock.File
	}
	return DefaultLockFile
}

func licenseOrNoAssertion(l string) string {
	if l == "" {
		return NoAssertion
	}
	return l
}

func sortedValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, m[k])
	}
	return out
}
