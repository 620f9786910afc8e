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
	seen := map[string]string{}
	for i, p := range s.Paths {
		at := joinIndex("paths", i)
		if msg, hint := checkImagePath(p.Path, false); msg != "" {
			v.errorf(joinField(at, "path"), hint, "%s", msg)
		} else if first, dup := seen[p.Path]; dup {
			v.errorf(joinField(at, "path"), "first listed at "+v.firstAt(first)+"; keep one entry per path", "duplicate path %s", quoteShort(p.Path))
		} else {
			seen[p.Path] = joinField(at, "path")
		}
		switch p.Type {
		case PathDirectory, PathFile, PathSymlink:
		case "":
			v.errorf(joinField(at, "type"), "add type: directory, type: file or type: symlink", "type is required")
		default:
			v.errorf(joinField(at, "type"), "use directory, file or symlink", "unknown path type %s", quoteShort(string(p.Type)))
		}
		if p.Content != "" && p.Type != PathFile {
			v.errorf(joinField(at, "content"), "content applies only to type: file", "content is set on a %s", describePathType(p.Type))
		}
		switch {
		case p.Type == PathSymlink && p.Target == "":
			v.errorf(joinField(at, "target"), "add target: <path the link points to>", "a symlink needs a target")
		case p.Type != PathSymlink && p.Target != "":
			v.errorf(joinField(at, "target"), "target applies only to type: symlink", "target is set on a %s", describePathType(p.Type))
		}
		if p.Type == PathSymlink && p.Mode != nil {
			v.errorf(joinField(at, "mode"), "remove mode: a symlink's own mode is always 0777", "mode is set on a symlink")
		}
		v.mode(joinField(at, "mode"), p.Mode)
		v.id(joinField(at, "uid"), p.UID)
		v.id(joinField(at, "gid"), p.GID)
	}
}

func describePathType(t PathType) string {
	if t == "" {
		return "path without a type"
	}
	return string(t)
}

func (s *Spec) validateCopies(v *validator) {
	for i, c := range s.Copy {
		at := joinIndex("copy", i)
		if c.From != "" && !contextNamePattern.MatchString(c.From) {
			v.errorf(joinField(at, "from"), "use \"context\" or the name given to --build-context (letters, digits, '.', '_', '-')",
				"invalid build context name %s", quoteShort(c.From))
		}
		switch {
		case c.Src == "":
			v.errorf(joinField(at, "src"), "add src: <path inside the build context>", "src is required")
		case path.IsAbs(c.Src):
			v.errorf(joinField(at, "src"), "src is relative to the build context; write "+quoteShort(strings.TrimLeft(c.Src, "/")),
				"src %s must be relative", quoteShort(c.Src))
		case hasDotDot(c.Src):
			v.errorf(joinField(at, "src"), "src cannot leave the build context; name a path inside it, or use a named context",
				"src %s must not contain \"..\"", quoteShort(c.Src))
		}
		if msg, hint := checkImagePath(c.Dst, true); msg != "" {
			v.errorf(joinField(at, "dst"), hint, "dst: %s", msg)
		}
		v.mode(joinField(at, "mode"), c.Mode)
		v.id(joinField(at, "uid"), c.UID)
		v.id(joinField(at, "gid"), c.GID)
	}
}
