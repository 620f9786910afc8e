package spec

import (
	"path"
	"regexp"
	"strings"
)

// contextNamePattern is a build context name as BuildKit accepts it for
// named contexts (--build-context name=...).
var contextNamePattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]*$`)

// checkImagePath checks a path inside the image: absolute and clean, so
// that two spellings of one path cannot slip past the duplicate check and
// nothing is written outside the root. It returns the problem and hint, or
// "" when the path is fine.
func checkImagePath(p string, allowRoot bool) (msg, hint string) {
	switch {
	case p == "":
		return "path is required", "write an absolute path, e.g. /etc/app.conf"
	case !path.IsAbs(p):
		return "path " + quoteShort(p) + " must be absolute", "start it with /: /" + strings.TrimLeft(p, "./")
	case hasDotDot(p):
		return "path " + quoteShort(p) + " must not contain \"..\"", "write the path it means without \"..\", e.g. " + path.Clean(p)
	case path.Clean(p) != p:
		return "path " + quoteShort(p) + " is not clean", "write " + quoteShort(path.Clean(p))
	case p == "/" && !allowRoot:
		return "path cannot be \"/\"", "name a path below the root"
	}
	return "", ""
}

func (s *Spec) validatePaths(v *validator) {
	seen := map[string]Field{}
	for _, p := range s.Paths {
		if msg, hint := checkImagePath(p.Path, false); msg != "" {
			v.errorAt(p.At.Path, hint, "%s", msg)
		} else if first, dup := seen[p.Path]; dup {
			v.errorAt(p.At.Path, "first listed at "+v.firstAt(first.Name)+"; keep one entry per path", "duplicate path %s", quoteShort(p.Path))
		} else {
			seen[p.Path] = p.At.Path
		}
		switch p.Type {
		case PathDirectory, PathFile, PathSymlink:
		case "":
			v.errorAt(p.At.Type, "add type: directory, type: file or type: symlink", "type is required")
		default:
			v.errorAt(p.At.Type, "use directory, file or symlink", "unknown path type %s", quoteShort(string(p.Type)))
		}
		if p.Content != "" && p.Type != PathFile {
			v.errorAt(p.At.Content, "content applies only to type: file", "content is set on a %s", describePathType(p.Type))
		}
		switch {
		case p.Type == PathSymlink && p.Target == "":
			v.errorAt(p.At.Target, "add target: <path the link points to>", "a symlink needs a target")
		case p.Type != PathSymlink && p.Target != "":
			v.errorAt(p.At.Target, "target applies only to type: symlink", "target is set on a %s", describePathType(p.Type))
		}
		if p.Type == PathSymlink && p.Mode != nil {
			v.errorAt(p.At.Mode, "remove mode: a symlink's own mode is always 0777", "mode is set on a symlink")
		}
		v.mode(p.At.Mode.Name, p.Mode)
		v.id(p.At.UID.Name, p.UID)
		v.id(p.At.GID.Name, p.GID)
	}
}

func describePathType(t PathType) string {
	if t == "" {
		return "path without a type"
	}
	return string(t)
}

func (s *Spec) validateCopies(v *validator) {
	for _, c := range s.Copy {
		if c.From != "" && !contextNamePattern.MatchString(c.From) {
			v.errorAt(c.At.From, "use \"context\" or the name given to --build-context (letters, digits, '.', '_', '-')",
				"invalid build context name %s", quoteShort(c.From))
		}
		switch {
		case c.Src == "":
			v.errorAt(c.At.Src, "add src: <path inside the build context>", "src is required")
		case path.IsAbs(c.Src):
			v.errorAt(c.At.Src, "src is relative to the build context; write "+quoteShort(strings.TrimLeft(c.Src, "/")),
				"src %s must be relative", quoteShort(c.Src))
		case hasDotDot(c.Src):
			v.errorAt(c.At.Src, "src cannot leave the build context; name a path inside it, or use a named context",
				"src %s must not contain \"..\"", quoteShort(c.Src))
		}
		if msg, hint := checkImagePath(c.Dst, true); msg != "" {
			v.errorAt(c.At.Dst, hint, "dst: %s", msg)
		}
		v.mode(c.At.Mode.Name, c.Mode)
		v.id(c.At.UID.Name, c.UID)
		v.id(c.At.GID.Name, c.GID)
	}
}
