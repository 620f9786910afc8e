package spec

import (
	"bytes"
	"fmt"
	"path"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/containerd/platforms"
	"github.com/distribution/reference"
	"github.com/package-url/packageurl-go"
	"go.yaml.in/yaml/v3"
)

// Lock pins every StageX package a spec may name to a digest per platform,
// with the version and license recorded for labels and the SBOM.
type Lock struct {
	Version  int                    `yaml:"version"`
	Release  string                 `yaml:"release"`  // the StageX release the digests come from
	Registry string                 `yaml:"registry"` // repository prefix: "<host>/stagex"
	Packages map[string]LockPackage `yaml:"packages"` // by short name
	Archives map[string]LockArchive `yaml:"archives"` // by archive name; replaces a spec archive's pin

	// File is the file name given to ParseLock, for errors.
	File string `yaml:"-"`

	index *fieldIndex
}

// LockPackage is one package of the lock.
type LockPackage struct {
	Version string            `yaml:"version"`
	License string            `yaml:"license"` // SPDX expression
	Source  string            `yaml:"source"`  // optional: the StageX source package folder, e.g. "core/musl"
	CPE     string            `yaml:"cpe"`     // optional: the upstream product's CPE 2.3 name, for scanners (Products.Apply)
	PURL    string            `yaml:"purl"`    // optional: the upstream product's purl, for scanners (Products.Apply)
	Digests map[string]string `yaml:"digests"` // platform ("linux/amd64", "linux/arm64/v8") -> "sha256:<64 hex>"
	// Signers is optional: per platform of Digests, the OpenPGP primary key
	// fingerprints (uppercase hex) whose signatures over that digest were
	// verified when the lock was written (see package lock).
	Signers map[string][]string `yaml:"signers"`
}

// fingerprintPattern is an OpenPGP primary key fingerprint as the lock
// records it: uppercase hex, 40 digits (v4 keys) or 64 (v6 keys).
var fingerprintPattern = regexp.MustCompile(`^(?:[0-9A-F]{40}|[0-9A-F]{64})$`)

// ParseLock strictly decodes and validates a lock file. It returns an
// ErrorList holding every problem found.
func ParseLock(file string, data []byte) (*Lock, error) {
	root, errs := readDocument(file, "lock", data)
	if errs != nil {
		return nil, errs.err()
	}
	d := newDecoder(file, "lock")
	l := &Lock{File: file}
	d.decode(root, reflect.ValueOf(l).Elem(), "", Pos{}, false)
	l.index = d.index
	if l.Packages == nil {
		// An empty lock and one without packages are the same lock, and
		// Marshal writes both as "packages: {}".
		l.Packages = map[string]LockPackage{}
	}
	if d.exhausted() {
		// A document that expands beyond any real one is hostile or broken;
		// validating what was decoded of it would only add noise.
		return nil, d.errs.err()
	}
	errs = append(d.errs, l.validate(d.failed)...)
	if err := errs.err(); err != nil {
		return nil, err
	}
	return l, nil
}

// Pos returns where a field path of the lock was written, e.g.
// "packages.core-musl.digests.linux/amd64"; like Spec.Pos it falls back to
// the nearest written parent.
func (l *Lock) Pos(path string) Pos { return l.index.pos(path) }

// Validate checks a lock built in code (ParseLock already does).
func (l *Lock) Validate() error { return l.validate(nil).err() }

func (l *Lock) validate(failed map[string]bool) ErrorList {
	v := newValidator(l.File, l.index, failed)
	v.version("version", l.Version)
	v.text("", reflect.ValueOf(l).Elem(), textLine)
	switch {
	case l.Registry == "":
		v.errorf("registry", "add the repository prefix the packages are published under: registry: <host>/stagex", "registry is required")
	case checkRegistry(l.Registry) != nil:
		v.errorf("registry", "write a repository prefix without tag or digest, e.g. <host>/stagex", "invalid registry %s: %v", quoteShort(l.Registry), checkRegistry(l.Registry))
	}
	for _, name := range sortedKeys(l.Packages) {
		l.validatePackage(v, name, l.Packages[name])
	}
	for _, name := range sortedKeys(l.Archives) {
		l.validateArchive(v, name, l.Archives[name])
	}
	return v.errs
}

func (l *Lock) validatePackage(v *validator, name string, p LockPackage) {
	at := joinField("packages", name)
	if !packageNamePattern.MatchString(name) {
		v.keyErrorf(at, "package names are lowercase letters, digits, '.', '_' and '-', e.g. core-musl", "invalid package name %s", quoteShort(name))
	}
	if p.Source != "" && !isRelativeClean(p.Source) {
		v.errorf(joinField(at, "source"), "write the source folder relative to the StageX tree, e.g. core/musl", "invalid source %s", quoteShort(p.Source))
	}
	if p.CPE != "" && !cpe23Pattern.MatchString(p.CPE) {
		v.errorf(joinField(at, "cpe"), "write a CPE 2.3 formatted string, e.g. cpe:2.3:a:openssl:openssl:3.5.2:*:*:*:*:*:*:*", "package %s: invalid cpe %s", name, quoteShort(p.CPE))
	}
	if p.PURL != "" {
		if pu, err := packageurl.FromString(p.PURL); err != nil || pu.Version == "" {
			v.errorf(joinField(at, "purl"), "write a package URL with version, e.g. pkg:generic/openssl@3.5.2", "package %s: invalid purl %s", name, quoteShort(p.PURL))
		}
	}
	if len(p.Digests) == 0 {
		v.errorf(joinField(at, "digests"), "add a digest per platform, e.g. linux/amd64: sha256:<64 hex digits>", "package %s has no digests", name)
	}
	seen := map[string]string{} // canonical platform -> key as written
	for _, platform := range sortedKeys(p.Digests) {
		dp := joinField(joinField(at, "digests"), platform)
		canonical, err := canonicalPlatform(platform)
		if err != nil {
			v.keyErrorf(dp, "write os/arch[/variant], e.g. linux/amd64 or linux/arm64/v8", "package %s: invalid platform %s: %v", name, quoteShort(platform), err)
			continue
		}
		if first, dup := seen[canonical]; dup {
			v.keyErrorf(dp, "keep one digest per platform", "package %s: platform %s is the same as %s", name, platform, first)
		}
		seen[canonical] = platform
		if d := p.Digests[platform]; !digestPattern.MatchString(d) {
			v.errorf(dp, "write sha256: followed by 64 lowercase hex digits", "package %s: invalid digest %s for %s", name, quoteShort(d), platform)
		}
	}
	for _, platform := range sortedKeys(p.Signers) {
		sp := joinField(joinField(at, "signers"), platform)
		if _, ok := p.Digests[platform]; !ok {
			v.keyErrorf(sp, "list signers under a platform the digests name, spelled the same way", "package %s: signers for %s, which has no digest", name, platform)
			continue
		}
		fprs := p.Signers[platform]
		if len(fprs) == 0 {
			v.errorf(sp, "list the fingerprints that signed the digest, or leave the platform out", "package %s: no signers listed for %s", name, platform)
		}
		for i, f := range fprs {
			switch {
			case !fingerprintPattern.MatchString(f):
				v.errorf(joinIndex(sp, i), "write a primary key fingerprint: 40 (or 64) uppercase hex digits, no spaces", "package %s: invalid signer %s for %s", name, quoteShort(f), platform)
			case i > 0 && f <= fprs[i-1]:
				v.errorf(joinIndex(sp, i), "list each fingerprint once, sorted", "package %s: signers for %s are not sorted and distinct at %s", name, platform, f)
			}
		}
	}
}

// checkRegistry checks that a registry prefix forms valid references when
// a package name is appended, which is all it is used for.
func checkRegistry(registry string) error {
	named, err := reference.ParseNormalizedNamed(registry + "/" + "core-probe")
	if err != nil {
		return err
	}
	if !reference.IsNameOnly(named) {
		return fmt.Errorf("it carries a tag or digest")
	}
	return nil
}

// canonicalPlatform is the normalized "os/arch[/variant]" form of a
// platform, so that "linux/arm64/v8" and "linux/arm64" compare equal. The
// os is required: without it the parser would assume the host's, and a
// lock must mean the same thing on every machine.
func canonicalPlatform(s string) (string, error) {
	if !strings.Contains(s, "/") {
		return "", fmt.Errorf("missing os/ or /arch")
	}
	p, err := platforms.Parse(s)
	if err != nil {
		return "", err
	}
	p = platforms.Normalize(p)
	// Parse accepts any architecture in "os/arch", but a lone component
	// only when it is a known architecture, which catches "linux/x86"
	// where "linux/amd64" was meant.
	if a, err := platforms.Parse(p.Architecture); err != nil || a.Architecture != p.Architecture {
		return "", fmt.Errorf("unknown architecture %q", p.Architecture)
	}
	return platforms.Format(p), nil
}

// Digest returns the package's digest for a platform, matching by
// normalized platform when the lock spells it differently ("linux/arm64/v8"
// for "linux/arm64").
func (p LockPackage) Digest(platform string) (string, bool) {
	if d, ok := p.Digests[platform]; ok {
		return d, true
	}
	want, err := canonicalPlatform(platform)
	if err != nil {
		return "", false
	}
	for _, key := range sortedKeys(p.Digests) {
		if c, err := canonicalPlatform(key); err == nil && c == want {
			return p.Digests[key], true
		}
	}
	return "", false
}

// Marshal writes the lock deterministically: fields in a fixed order,
// packages and platforms sorted, empty optional fields left out. The
// result parses back into an equal Lock. A lock that does not validate is
// not written.
func (l *Lock) Marshal() ([]byte, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	top := mappingNode()
	addField(top, "version", intNode(l.Version))
	addString(top, "release", l.Release)
	addField(top, "registry", stringNode(l.Registry))
	pkgs := mappingNode()
	for _, name := range sortedKeys(l.Packages) {
		p := l.Packages[name]
		pn := mappingNode()
		addString(pn, "version", p.Version)
		addString(pn, "license", p.License)
		addString(pn, "source", p.Source)
		addString(pn, "cpe", p.CPE)
		addString(pn, "purl", p.PURL)
		digests := mappingNode()
		for _, platform := range sortedKeys(p.Digests) {
			addField(digests, platform, stringNode(p.Digests[platform]))
		}
		addField(pn, "digests", digests)
		if len(p.Signers) > 0 {
			signers := mappingNode()
			for _, platform := range sortedKeys(p.Signers) {
				seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
				for _, f := range p.Signers[platform] {
					seq.Content = append(seq.Content, stringNode(f))
				}
				addField(signers, platform, seq)
			}
			addField(pn, "signers", signers)
		}
		addField(pkgs, name, pn)
	}
	addField(top, "packages", pkgs)
	if len(l.Archives) > 0 {
		archives := mappingNode()
		for _, name := range sortedKeys(l.Archives) {
			a := l.Archives[name]
			an := mappingNode()
			addString(an, "version", a.Version)
			addString(an, "license", a.License)
			addField(an, "url", stringNode(a.URL))
			addField(an, "sha256", stringNode(a.SHA256))
			addField(archives, name, an)
		}
		addField(top, "archives", archives)
	}

	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{top}}); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func mappingNode() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"} }

// stringNode is tagged !!str so the encoder quotes values that would
// otherwise read back as numbers ("1.10").
func stringNode(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

func intNode(i int) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(i)}
}

func addField(m *yaml.Node, key string, value *yaml.Node) {
	m.Content = append(m.Content, stringNode(key), value)
}

// addString adds an optional string field, leaving it out when empty.
func addString(m *yaml.Node, key, value string) {
	if value != "" {
		addField(m, key, stringNode(value))
	}
}

// isRelativeClean reports whether p is a relative, clean path that stays
// below its root: no leading "/", no "..", no "." or empty elements.
func isRelativeClean(p string) bool {
	return p != "" && !path.IsAbs(p) && path.Clean(p) == p && p != "." && !hasDotDot(p)
}

// hasDotDot reports whether any element of a slash-separated path is "..".
func hasDotDot(p string) bool {
	for _, e := range strings.Split(p, "/") {
		if e == ".." {
			return true
		}
	}
	return false
}
