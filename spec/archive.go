package spec

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// MaxStripComponents bounds strip-components. Real archives wrap their
// content in one folder, rarely two; a large value is a typo.
const MaxStripComponents = 8

// NotFromStageX is what the image says about an archive's content, in its
// history and labels: it was fetched from its URL, not built by StageX.
const NotFromStageX = "not from StageX"

// Archive is a tar archive from outside StageX, for what StageX does not
// package (a JRE). BuildKit fetches it by URL, checks its sha256 and fails
// the build on a mismatch, and unpacks it into a layer of its own, owned by
// root, with every time at the epoch.
type Archive struct {
	Name            string `yaml:"name"`             // short name, e.g. temurin-jre; a lock entry of that name replaces url and sha256
	URL             string `yaml:"url"`              // http or https
	SHA256          string `yaml:"sha256"`           // 64 lowercase hex digits of the archive file as fetched
	Dst             string `yaml:"dst"`              // absolute folder it is unpacked into
	StripComponents int    `yaml:"strip-components"` // leading path elements removed, as tar --strip-components
	Version         string `yaml:"version"`          // for labels and the SBOM
	License         string `yaml:"license"`          // SPDX expression, for the SBOM
	Platform        string `yaml:"platform"`         // the only platform it is for ("linux/amd64"); empty: any

	At ArchiveAt `yaml:"-"` // where it was written
}

// LockArchive pins an archive in the lock, replacing the spec's url and
// sha256 (and version and license, when set): the lock is the pin file, so a
// mirror or an offline copy of an archive is named there, like a package
// registry. The checksum is still checked on every build.
type LockArchive struct {
	Version string `yaml:"version"`
	License string `yaml:"license"` // SPDX expression
	URL     string `yaml:"url"`
	SHA256  string `yaml:"sha256"`
}

// ResolvedArchive is one archive of the composition, its pin final: the
// spec's entry with the lock's url and sha256 (and version and license,
// when it sets them) in place, and License NoAssertion when unknown.
//
// A lock that pins the spec's sha256 at another url is a mirror or an
// offline copy of the same bytes: BuildKit fetches from Mirror, but URL, which
// the image's history, label and SBOM name, stays the spec's, so that the
// image does not depend on where a rebuilder's copy lives. A lock that pins
// another sha256 pins another archive, and URL is the lock's.
type ResolvedArchive struct {
	Archive
	Mirror   string // where BuildKit fetches a mirrored archive from; "" fetches URL
	FromLock bool   // url and sha256 (or Mirror) come from the lock, not the spec
}

// FetchURL is where BuildKit fetches the archive from: the mirror, if the
// lock names one, else URL.
func (a ResolvedArchive) FetchURL() string {
	if a.Mirror != "" {
		return a.Mirror
	}
	return a.URL
}

// Digest is the archive's checksum as a digest string, "sha256:<hex>".
func (a ResolvedArchive) Digest() string { return "sha256:" + a.SHA256 }

// sha256Pattern is an archive checksum: the hex digits alone, as sha256sum
// prints them and as upstreams publish them.
var sha256Pattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// checkArchiveURL returns what is wrong with an archive URL, or "".
func checkArchiveURL(s string) (msg, hint string) {
	if s == "" {
		return "url is required", "add url: https://<host>/<path to the archive>"
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Sprintf("invalid url %s: %v", quoteShort(s), err), "write an absolute http or https URL"
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Sprintf("url %s: scheme must be https or http", quoteShort(s)), "BuildKit fetches archives over HTTP; use an https:// URL"
	case u.Host == "":
		return fmt.Sprintf("url %s has no host", quoteShort(s)), "write an absolute URL, e.g. https://example.org/file.tar.gz"
	case u.User != nil:
		return fmt.Sprintf("url %s carries credentials", quoteShort(redactUser(u))), "never write credentials into a spec or lock; use a URL that needs none"
	case u.Fragment != "":
		return fmt.Sprintf("url %s has a #fragment", quoteShort(s)), "remove the fragment; the checksum goes into sha256:"
	}
	return "", ""
}

func redactUser(u *url.URL) string {
	c := *u
	c.User = url.User("…")
	return c.String()
}

// checkSHA256 returns what is wrong with an archive checksum, or "".
func checkSHA256(s string) (msg, hint string) {
	switch {
	case s == "":
		return "sha256 is required", "add the archive's checksum as sha256sum prints it (64 hex digits)"
	case strings.HasPrefix(s, "sha256:") && sha256Pattern.MatchString(strings.TrimPrefix(s, "sha256:")):
		return "sha256 " + quoteShort(s) + " has a sha256: prefix", "write the 64 hex digits alone: " + strings.TrimPrefix(s, "sha256:")
	case !sha256Pattern.MatchString(s):
		return "invalid sha256 " + quoteShort(s), "write 64 lowercase hex digits, as sha256sum prints them"
	}
	return "", ""
}

func (s *Spec) validateArchives(v *validator) {
	seen := map[string]string{}
	for _, a := range s.Archives {
		v.entryName(a.At.Entry.Name, a.Name, seen, packageNamePattern, "archive", "temurin-jre",
			"archive names are lowercase letters, digits, '.', '_' and '-', e.g. temurin-jre")
		if msg, hint := checkArchiveURL(a.URL); msg != "" {
			v.errorAt(a.At.URL, hint, "%s", msg)
		}
		if msg, hint := checkSHA256(a.SHA256); msg != "" {
			v.errorAt(a.At.SHA256, hint, "%s", msg)
		}
		if msg, hint := checkImagePath(a.Dst, false); msg != "" {
			if a.Dst == "" {
				msg, hint = "dst is required", "add dst: <absolute folder to unpack into>, e.g. /opt/java/openjdk"
			}
			v.errorAt(a.At.Dst, hint, "dst: %s", msg)
		}
		if a.StripComponents < 0 || a.StripComponents > MaxStripComponents {
			v.errorAt(a.At.StripComponents, fmt.Sprintf("use 0 to %d; 1 removes the archive's top folder", MaxStripComponents),
				"strip-components %d is out of range", a.StripComponents)
		}
		if a.Platform != "" {
			if _, err := canonicalPlatform(a.Platform); err != nil {
				v.errorAt(a.At.Platform, "write os/arch[/variant], e.g. linux/amd64", "invalid platform %s: %v", quoteShort(a.Platform), err)
			}
		}
	}
}

func (l *Lock) validateArchive(v *validator, name string, a LockArchive) {
	at := joinField("archives", name)
	if !packageNamePattern.MatchString(name) {
		v.keyErrorf(at, "archive names are lowercase letters, digits, '.', '_' and '-', e.g. temurin-jre", "invalid archive name %s", quoteShort(name))
	}
	if msg, hint := checkArchiveURL(a.URL); msg != "" {
		v.errorf(joinField(at, "url"), hint, "archive %s: %s", name, msg)
	}
	if msg, hint := checkSHA256(a.SHA256); msg != "" {
		v.errorf(joinField(at, "sha256"), hint, "archive %s: %s", name, msg)
	}
}

// resolveArchives applies the lock's pins to the spec's archives and checks
// that each one is for the platform being built.
func (r *resolver) resolveArchives() []ResolvedArchive {
	var out []ResolvedArchive
	want, _ := canonicalPlatform(r.opts.Platform) // Resolve checked it
	for _, a := range r.spec.Archives {
		if a.Platform != "" {
			if got, err := canonicalPlatform(a.Platform); err == nil && got != want {
				r.errorf(a.At.Platform.Pos,
					fmt.Sprintf("build for %s, or list another archive for %s", a.Platform, r.opts.Platform),
					"archive %s is for %s, not for %s", a.Name, a.Platform, r.opts.Platform)
				continue
			}
		}
		ra := ResolvedArchive{Archive: a}
		if r.lock != nil {
			if la, ok := r.lock.Archives[a.Name]; ok {
				if la.URL != a.URL || la.SHA256 != a.SHA256 {
					// Allowed (mirrors, offline copies), never silent.
					r.warnings = append(r.warnings, ruleArchiveRepinned.warn(r.spec.File, a.At.Entry.Pos,
						"expected for a mirror or an offline copy; otherwise remove archives."+a.Name+" from "+r.lock.File,
						"archive %s: the lock pins %s (sha256 %s) instead of the spec's %s (sha256 %s)", a.Name, la.URL, la.SHA256, a.URL, a.SHA256))
				}
				ra.FromLock = true
				if la.SHA256 == a.SHA256 {
					ra.Mirror = la.URL
				} else {
					ra.URL, ra.SHA256 = la.URL, la.SHA256
				}
				if la.Version != "" {
					ra.Version = la.Version
				}
				if la.License != "" {
					ra.License = la.License
				}
			}
		}
		ra.License = licenseOrNoAssertion(ra.License)
		out = append(out, ra)
	}
	return out
}
