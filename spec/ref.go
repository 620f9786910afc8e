package spec

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/distribution/reference"
)

// packageNamePattern is a StageX package name as the lock keys it, which is
// also a valid last element of an image repository.
var packageNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// digestPattern is the only digest form accepted: images are pinned by
// sha256, and a canonical lowercase spelling keeps digests comparable.
var digestPattern = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// IsPackageName reports whether s is a package name as the lock keys it.
func IsPackageName(s string) bool { return packageNamePattern.MatchString(s) }

// IsDigest reports whether s is a digest in the one form a lock accepts.
func IsDigest(s string) bool { return digestPattern.MatchString(s) }

// imageRef is a full image reference written in a spec.
type imageRef struct {
	named  reference.Named
	name   string // last element of the repository path: "core-go"
	tag    string // "" when none
	digest string // "" when unpinned
}

// refProblem is why an entry of packages (or base) cannot be used.
type refProblem struct{ msg, hint string }

// checkShortName validates a short name's spelling.
func checkShortName(s string) *refProblem {
	if strings.ContainsAny(s, ":@") && !strings.Contains(s, "/") {
		name, _, _ := strings.Cut(strings.Split(s, "@")[0], ":")
		return &refProblem{
			msg:  fmt.Sprintf("short name %s cannot carry a tag or digest", quoteShort(s)),
			hint: fmt.Sprintf("the lock pins versions: write %s, or a full reference <registry>/<repository>/%s@sha256:<digest>", quoteShort(name), name),
		}
	}
	if !packageNamePattern.MatchString(s) {
		return &refProblem{
			msg:  fmt.Sprintf("invalid package name %s", quoteShort(s)),
			hint: "package names are lowercase letters, digits, '.', '_' and '-', e.g. core-musl",
		}
	}
	return nil
}

// parseImageRef parses a full reference with the same rules the image
// store uses, and insists on sha256 digests.
func parseImageRef(s string) (imageRef, *refProblem) {
	// Checked before parsing because which other algorithms the parser
	// accepts depends on the hash functions linked into the binary.
	if i := strings.LastIndex(s, "@"); i >= 0 && !digestPattern.MatchString(s[i+1:]) {
		return imageRef{}, &refProblem{
			msg:  fmt.Sprintf("image reference %s: digest must be sha256:<64 lowercase hex digits>", quoteShort(s)),
			hint: "pin with @sha256:<64 lowercase hex digits>",
		}
	}
	named, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return imageRef{}, &refProblem{
			msg:  fmt.Sprintf("invalid image reference %s: %v", quoteShort(s), err),
			hint: "write <registry>/<repository>[:tag]@sha256:<64 hex digits>, all lowercase",
		}
	}
	r := imageRef{named: named, name: path.Base(reference.Path(named))}
	if t, ok := named.(reference.Tagged); ok {
		r.tag = t.Tag()
	}
	if d, ok := named.(reference.Digested); ok {
		r.digest = d.Digest().String()
	}
	return r, nil
}

// checkPackageRef validates an entry of packages or base as written,
// without a lock: a full reference names a repository path (it contains a
// "/"), anything else is a short name, a bare key of the lock. Whether the name exists, or a digest is required, is decided
// by Resolve.
func checkPackageRef(s string) *refProblem {
	if s == "" {
		return &refProblem{msg: "empty package name", hint: "write a package name from the lock, e.g. core-musl"}
	}
	if strings.Contains(s, "/") {
		_, p := parseImageRef(s)
		return p
	}
	return checkShortName(s)
}
