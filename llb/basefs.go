package llb

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"

	bkllb "github.com/moby/buildkit/client/llb"
)

// FileInfo is what the composition needs to know about one path of the base.
type FileInfo struct {
	Mode     fs.FileMode // Go file mode, type bits included
	UID, GID uint32
	Linkname string // symlink target, for symlinks
}

// BaseFS reads the base image's filesystem. The frontend implements it over
// the solved base; tests use a map. It is the only I/O the composition does,
// and it is only used when there is a generated layer or an archive to write,
// or a config.user name to look up.
type BaseFS interface {
	// Lstat returns nil, nil when p does not exist.
	Lstat(ctx context.Context, p string) (*FileInfo, error)
	// ReadFile returns nil, nil when p does not exist.
	ReadFile(ctx context.Context, p string) ([]byte, error)
}

// LayerFS reads a solved layer: what a copy put into it.
type LayerFS interface {
	BaseFS
	// ReadDir returns the names in folder p, sorted; none when p does not
	// exist.
	ReadDir(ctx context.Context, p string) ([]string, error)
}

// Prefetcher is a BaseFS that can read ahead. The composition reads the
// base one path at a time, and in the frontend every read is a round trip
// to the daemon; told up front what it will ask, a Prefetcher reads it all
// at once. Errors are left for the reads that follow to report.
type Prefetcher interface {
	// Prefetch lists the folders dirs and reads the files, so that the
	// Lstat and ReadFile calls on them that follow need no round trip.
	Prefetch(ctx context.Context, dirs, files []string)
}

// ReadOps is a BaseFS whose answers come from LLB ops of its own: the
// frontend reads the packages' files with an exec (`frontend facts`) rather
// than through the gateway, so that BuildKit caches the reading like any op
// and a registry cache carries it to another daemon. A cache export only
// walks the ops the image is built from, so Compose makes these ops inputs
// of every layer it writes from their answers (foldReads), without changing
// what the layers hold. An image that writes no layer (only a config.user
// name looked up) has nothing to fold them into: its reads stay outside
// the export.
type ReadOps interface {
	// ReadOps returns the ops the answers came from so far. Their outputs
	// must hold nothing that foldPattern matches.
	ReadOps() []bkllb.State
}

// foldPattern is the copy source Fold uses: a name no folded op writes, so
// that the copy matches nothing.
const foldPattern = "/*.stagex-matches-nothing"

// Fold adds to fa a copy from each of states that copies nothing: a
// wildcard with AllowEmptyWildcard that matches no file returns before it
// touches the destination (BuildKit's file backend, docopy). What fa makes
// stays as it is, byte for byte; the states become its inputs, which is all
// a cache export (mode=max) needs to include them, since it walks only the
// ancestors of the build's result refs (the image and its attestations).
// The outputs of states must hold nothing that foldPattern matches.
func Fold(fa *bkllb.FileAction, states ...bkllb.State) *bkllb.FileAction {
	for _, st := range states {
		fa = fa.Copy(st, foldPattern, "/", &bkllb.CopyInfo{AllowWildcard: true, AllowEmptyWildcard: true})
	}
	return fa
}

// foldReads folds base's read ops (ReadOps) into fa, the action that makes
// a layer the composition wrote from what base answered, so that a registry
// cache carries the reads with the layer.
func foldReads(fa *bkllb.FileAction, base BaseFS) *bkllb.FileAction {
	ro, ok := base.(ReadOps)
	if !ok {
		return fa
	}
	return Fold(fa, ro.ReadOps()...)
}

// prefetch tells a BaseFS that can read ahead what the composition is about
// to ask of it: the base's account files when the accounts or config.user
// need them, and the folders above every path the archives and the
// generated layer write. It asks nothing when the composition reads nothing,
// so that such an image never solves the packages in the frontend.
func prefetch(ctx context.Context, in *Input) {
	pf, ok := in.BaseFS.(Prefetcher)
	if !ok {
		return
	}
	s := in.Spec
	var files, targets []string
	if hasAccounts(s) || s.CheckUser(nil, nil) != nil {
		files = []string{"/etc/group", "/etc/passwd"}
	}
	if hasAccounts(s) {
		targets = append(targets, files...)
	}
	for _, p := range s.Paths {
		targets = append(targets, p.Path)
	}
	for _, c := range s.Copy {
		targets = append(targets, c.Dst)
	}
	for _, a := range s.Archives {
		targets = append(targets, a.Dst)
	}
	dirs := map[string]bool{}
	for _, t := range targets {
		if !path.IsAbs(t) {
			continue // the spec's validation reports it
		}
		for d := path.Dir(path.Clean(t)); !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	if len(files) == 0 && len(dirs) == 0 {
		return
	}
	pf.Prefetch(ctx, slices.Sorted(maps.Keys(dirs)), files)
}

// maxSymlinkHops bounds symlink resolution, as Linux's ELOOP does.
const maxSymlinkHops = 40

// resolveParent returns p with every parent component resolved through the
// base's symlinks, the last component left as it is. The merged-/usr layout
// makes /bin a link to usr/bin: a generated /bin/sh must land in /usr/bin, or
// the generated layer would carry a /bin directory that replaces the link.
func resolveParent(ctx context.Context, base BaseFS, p string) (string, error) {
	dir, name := path.Split(p)
	if dir == "/" || base == nil {
		return p, nil
	}
	resolved, err := resolvePath(ctx, base, strings.TrimSuffix(dir, "/"))
	if err != nil {
		return "", err
	}
	return path.Join(resolved, name), nil
}

// ResolvePath resolves every component of the absolute path p through the
// symlinks of base, scoped to its root, as the composition does; the
// frontend's facts job uses it to read what the composition will ask.
func ResolvePath(ctx context.Context, base BaseFS, p string) (string, error) {
	return resolvePath(ctx, base, p)
}

// resolvePath resolves all components of an absolute path through symlinks in
// the base, like filepath.EvalSymlinks scoped to the image root. Components
// that do not exist are kept, since the generated layer creates them.
func resolvePath(ctx context.Context, base BaseFS, p string) (string, error) {
	hops := 0
	rest := strings.Split(strings.TrimPrefix(path.Clean(p), "/"), "/")
	cur := "/"
	for len(rest) > 0 {
		elem := rest[0]
		rest = rest[1:]
		if elem == "" || elem == "." {
			continue
		}
		next := path.Join(cur, elem)
		fi, err := base.Lstat(ctx, next)
		if err != nil {
			return "", err
		}
		if fi == nil || fi.Mode&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		hops++
		if hops > maxSymlinkHops {
			return "", fmt.Errorf("too many levels of symbolic links resolving %s in the base image", p)
		}
		target := fi.Linkname
		if !path.IsAbs(target) {
			target = path.Join(cur, target)
		}
		// Start over from the root with the link target followed by the rest;
		// path.Clean keeps ".." from leaving the image root.
		rest = append(strings.Split(strings.TrimPrefix(path.Clean("/"+target), "/"), "/"), rest...)
		cur = "/"
	}
	return cur, nil
}

// baseDir is how a layer writes a folder it needs above its content: with
// the base's mode and owner where the base has the folder, so that the merge
// leaves it as it is, else 0755 root. A folder the layer cannot write back
// unchanged is refused, with the reason for the caller to locate at its spec
// field: one with setuid, setgid or sticky bits (BuildKit's file operations
// write mode&0777 only, so the layer's copy would drop them), and a path the
// base holds as something else, which the layer's folder would replace.
func baseDir(ctx context.Context, base BaseFS, d string) (e dirEntry, refused string, err error) {
	e = dirEntry{mode: defaultDirMode}
	if base == nil {
		return e, "", nil
	}
	fi, err := base.Lstat(ctx, d)
	switch {
	case err != nil:
		return e, "", err
	case fi == nil:
		return e, "", nil
	case !fi.Mode.IsDir():
		return e, "the base has it, and it is not a folder", nil
	case fi.Mode&(fs.ModeSticky|fs.ModeSetuid|fs.ModeSetgid) != 0:
		return e, "the base has it with setuid, setgid or sticky bits, which a layer cannot keep", nil
	}
	return dirEntry{mode: fi.Mode.Perm(), uid: int(fi.UID), gid: int(fi.GID)}, "", nil
}

// replaces says why writing p as kind in the generated layer would replace
// what the layers below hold at p with something of another type, with a
// hint, or "" when it would not; fi is what they hold (nil when nothing).
// A folder over a folder, a file over a file and a link over a link are
// what a layer may do. A copy may go into a folder (it is staged there) or
// onto a file, and what it brings there is checked once BuildKit has copied
// it (Result.CheckCopies); a link it would always replace, and /bin ->
// usr/bin is what every dynamic binary's loader path depends on.
func replaces(ctx context.Context, lower BaseFS, p string, kind entryKind) (fi *FileInfo, refused, hint string, err error) {
	if lower == nil {
		return nil, "", "", nil
	}
	if fi, err = lower.Lstat(ctx, p); err != nil || fi == nil {
		return nil, "", "", err
	}
	switch {
	case fi.Mode&fs.ModeSymlink != 0:
		if kind == kindSymlink {
			return fi, "", "", nil
		}
		hint = "write it where the link points"
		if resolved, err := resolvePath(ctx, lower, p); err == nil && resolved != p {
			hint = "write it at " + resolved + ", where the link points"
		}
		return fi, fmt.Sprintf("the packages hold %s as a symlink to %s; a %s there would replace the link", p, fi.Linkname, kind), hint, nil
	case fi.Mode.IsDir():
		if kind == kindDir || kind == kindCopy {
			return fi, "", "", nil
		}
		return fi, fmt.Sprintf("the packages hold %s as a folder; a %s there would replace it and all it holds", p, kind),
			"write it somewhere else, or inside the folder", nil
	default:
		if (kind == kindFile || kind == kindCopy) && fi.Mode.IsRegular() {
			return fi, "", "", nil
		}
		return fi, fmt.Sprintf("the packages hold %s as a file; a %s there would replace it", p, kind), "write it somewhere else", nil
	}
}
