package spec

import (
	"fmt"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"

	"github.com/package-url/packageurl-go"
)

// DefaultProductsFile is the product map kept beside the lock it applies to.
const DefaultProductsFile = "stagex.products.yaml"

// Products names the upstream product each StageX package ships, in the
// terms vulnerability scanners match on: a CPE vendor and product as NVD
// writes them, and a package URL. A StageX package is an OCI image; its
// pkg:oci purl names the image, which no advisory does. The products file
// is applied when the lock is written (Apply), so the lock, and from it the
// SBOM, carries the identifiers with the lock's versions.
type Products struct {
	Version  int                `yaml:"version"`
	Packages map[string]Product `yaml:"packages"` // by StageX package name

	// File is the file name given to ParseProducts, for errors.
	File string `yaml:"-"`

	index *fieldIndex
}

// Product is what one StageX package is, upstream.
type Product struct {
	CPE     string `yaml:"cpe"`     // "vendor:product" as NVD names them, e.g. "openssl:openssl"
	PURL    string `yaml:"purl"`    // a purl without version, e.g. "pkg:generic/openssl"; the version is added
	Version string `yaml:"version"` // optional: the product's version when the lock's is not one (a commit)
	None    string `yaml:"none"`    // instead of cpe and purl: why the package has no product to match
}

// cpeNamePattern is one CPE name component as NVD writes vendors and
// products: lowercase, with '_', '-' and '.' ("nodejs:node.js").
var cpeNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.\-]*$`)

// releaseVersionPattern is a version an advisory can name: dotted numbers,
// optionally followed by a suffix ("3.13.7", "74.2", "1.0.8", "6.5-rc1").
// It keeps a commit hash or "latest" out of a CPE, where no range would
// ever match it.
var releaseVersionPattern = regexp.MustCompile(`^[0-9]+(\.[0-9]+)+([-+~_][0-9A-Za-z.]+)?$`)

// cpe23Pattern is a CPE 2.3 formatted string: "cpe:2.3:" and 11 components
// (part, vendor, product, version, update, edition, language, sw_edition,
// target_sw, target_hw, other), where '\' quotes one character.
var cpe23Pattern = regexp.MustCompile(`^cpe:2\.3:[aho*\-](:(\\.|[^:\\])+){10}$`)

// ParseProducts strictly decodes and validates a products file. It returns
// an ErrorList holding every problem found.
func ParseProducts(file string, data []byte) (*Products, error) {
	root, errs := readDocument(file, "products file", data)
	if errs != nil {
		return nil, errs.err()
	}
	d := newDecoder(file, "products file")
	p := &Products{File: file}
	d.decode(root, reflect.ValueOf(p).Elem(), "", Pos{}, false)
	p.index = d.index
	if d.exhausted() {
		return nil, d.errs.err()
	}
	errs = append(d.errs, p.validate(d.failed)...)
	if err := errs.err(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Products) validate(failed map[string]bool) ErrorList {
	v := newValidator(p.File, p.index, failed)
	v.version("version", p.Version)
	for _, name := range sortedKeys(p.Packages) {
		at := joinField("packages", name)
		e := p.Packages[name]
		switch {
		case e.None != "" && (e.CPE != "" || e.PURL != "" || e.Version != ""):
			v.errorf(joinField(at, "none"), "keep either none: <reason>, or cpe: and purl:", "package %s has both none and product identifiers", name)
		case e.None != "":
		case e.CPE == "":
			v.errorf(at, "add cpe: <vendor>:<product> as NVD names them, or none: <why the package has no product>", "package %s has no cpe", name)
		}
		if e.CPE != "" {
			vendor, product, ok := strings.Cut(e.CPE, ":")
			if !ok || !cpeNamePattern.MatchString(vendor) || !cpeNamePattern.MatchString(product) {
				v.errorf(joinField(at, "cpe"), "write vendor:product in lowercase as NVD does, e.g. openssl:openssl", "package %s: invalid cpe %s", name, quoteShort(e.CPE))
			}
		}
		if e.PURL != "" {
			if pu, err := packageurl.FromString(e.PURL); err != nil || pu.Version != "" || e.PURL != strings.TrimSuffix(e.PURL, "@") {
				v.errorf(joinField(at, "purl"), "write a purl without version, e.g. pkg:generic/openssl; the lock's version is added", "package %s: invalid purl %s", name, quoteShort(e.PURL))
			}
		}
		if e.Version != "" && !releaseVersionPattern.MatchString(e.Version) {
			v.errorf(joinField(at, "version"), "write the upstream release, e.g. 1.2.3", "package %s: %s is not a release version", name, quoteShort(e.Version))
		}
	}
	return v.errs
}

// Pos returns where a field path of the products file was written.
func (p *Products) Pos(path string) Pos { return p.index.pos(path) }

// Apply sets each lock package's CPE and purl from its product, with the
// lock's version (or the product's own, where the products file gives one).
// A locked package the products file does not name, or whose version is not
// a release that a CPE could carry, is an error located in the products
// file: every package must say what it is, or why it is nothing a scanner
// can match. Packages named only in the products file are left alone, so one
// products file serves every lock of a release.
func (p *Products) Apply(l *Lock) error {
	var errs ErrorList
	for _, name := range sortedKeys(l.Packages) {
		lp := l.Packages[name]
		e, ok := p.Packages[name]
		if !ok {
			errs = append(errs, Errorf(p.File, p.Pos("packages"),
				fmt.Sprintf("add %s: {cpe: <vendor>:<product>, purl: pkg:generic/<product>}, or %s: {none: <reason>}", name, name),
				"locked package %s has no entry in the products file", name))
			continue
		}
		lp.CPE, lp.PURL = "", ""
		if e.None == "" {
			version := lp.Version
			if e.Version != "" {
				version = e.Version
			}
			if !releaseVersionPattern.MatchString(version) {
				errs = append(errs, Errorf(p.File, p.Pos(joinField("packages", name)),
					"set version: to the upstream release it is, or write none: <reason>",
					"package %s: the lock's version %s is not a release a CPE can name", name, quoteShort(version)))
				continue
			}
			vendor, product, _ := strings.Cut(e.CPE, ":")
			lp.CPE = FormatCPE(vendor, product, version)
			if e.PURL != "" {
				pu, _ := packageurl.FromString(e.PURL)
				pu.Version = version
				lp.PURL = pu.ToString()
			}
		}
		l.Packages[name] = lp
	}
	return errs.err()
}

// FormatCPE is the CPE 2.3 formatted string of an application, every
// attribute but vendor, product and version left as ANY.
func FormatCPE(vendor, product, version string) string {
	return "cpe:2.3:a:" + cpeQuote(vendor) + ":" + cpeQuote(product) + ":" + cpeQuote(version) + ":*:*:*:*:*:*:*"
}

// cpeQuote escapes what a CPE 2.3 formatted string does not allow bare:
// everything but letters, digits, '_', '-' and '.'.
func cpeQuote(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-', r == '.':
		default:
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// IsCompanionFile reports whether a YAML file beside the specs is one of
// their companions, a lock (*.lock.yaml) or the products file, rather than
// a spec: the one rule for tools that find specs by globbing a folder.
func IsCompanionFile(name string) bool {
	base := path.Base(filepath.ToSlash(name))
	return strings.HasSuffix(base, ".lock.yaml") || base == DefaultProductsFile
}
