package llb

import (
	"cmp"
	"context"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"sort"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/spec"
	bkllb "github.com/moby/buildkit/client/llb"
)

// Defaults for generated paths that leave the mode out.
const (
	defaultDirMode  fs.FileMode = 0o755
	defaultFileMode fs.FileMode = 0o644
)

type dirEntry struct {
	mode     fs.FileMode
	uid, gid int
	at       string // spec field path, "" for an implied parent
	owner    string // for an implied parent: the spec field that needs it
}

// generatedLayer builds the one extra layer on top of the packages: the
// accounts merged into the base's /etc/passwd and /etc/group, the spec's
// paths and its copies. It returns nil when the spec asks for none of these,
// so that such an image is the upstream layers and nothing else.
//
// It is built in two steps. The first writes everything on scratch. The
// second copies that tree onto scratch again with every timestamp set to the
// epoch: creating a file in a directory moves the directory's mtime to the
// wall clock, and the copy sets a directory's times after its contents, so
// the second step is what makes the layer bytes reproducible.
func generatedLayer(ctx context.Context, in *Input, basePasswd, baseGroup []byte) (*bkllb.State, []GeneratedFile, error) {
	s := in.Spec
	if !hasAccounts(s) && len(s.Paths) == 0 && len(s.Copy) == 0 {
		return nil, nil, nil
	}
	var files []GeneratedFile

	var actions []func(*bkllb.FileAction) *bkllb.FileAction
	var locs []bkllb.ConstraintsOpt
	dirs := map[string]dirEntry{}
	// need records every ancestor of p as an implied directory, needed by
	// the spec field at.
	need := func(p, at string) {
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			if _, ok := dirs[d]; !ok {
				dirs[d] = dirEntry{mode: defaultDirMode, owner: at}
			}
		}
	}
	// written maps each path the layer creates itself to the spec field that
	// asks for it. Paths are compared after the base's symlinks are followed
	// (/bin/sh is /usr/bin/sh in a merged-/usr base), where the spec's own
	// duplicate check cannot see them: two entries on one path would leave
	// only the later one in the image, or fail the solve.
	type claim struct {
		at  string
		dir bool
	}
	written := map[string]claim{}
	var errs spec.ErrorList
	conflict := func(p, at string) bool {
		first, dup := written[p]
		if dup {
			errs = append(errs, s.Errorf(at, "keep one entry per path; paths are compared after following the base's symlinks",
				"%s is already written by %s (line %d)", p, first.at, s.Pos(first.at).Line))
		}
		return dup
	}

	if hasAccounts(s) {
		passwd, group, err := mergeAccounts(s, basePasswd, baseGroup)
		if err != nil {
			return nil, nil, err
		}
		files = append(files,
			GeneratedFile{Path: "/etc/passwd", Type: "file", Content: passwd},
			GeneratedFile{Path: "/etc/group", Type: "file", Content: group})
		written["/etc/passwd"] = claim{at: "accounts"}
		written["/etc/group"] = claim{at: "accounts"}
		need("/etc/passwd", "accounts")
		actions = append(actions,
			mkfile("/etc/passwd", 0o644, 0, 0, passwd, in.Epoch),
			mkfile("/etc/group", 0o644, 0, 0, group, in.Epoch))
		locs = append(locs, in.location("accounts"))
	}

	type leaf struct {
		path string
		add  func(*bkllb.FileAction) *bkllb.FileAction
	}
	var leaves []leaf
	for i, p := range s.Paths {
		at := fmt.Sprintf("paths[%d]", i)
		target, err := resolveParent(ctx, in.BaseFS, p.Path)
		if err != nil {
			errs = append(errs, s.Errorf(at+".path", "", "%v", err))
			continue
		}
		if conflict(target, at+".path") {
			continue
		}
		written[target] = claim{at: at + ".path", dir: p.Type == spec.PathDirectory}
		locs = append(locs, in.location(at))
		need(target, at)
		switch p.Type {
		case spec.PathDirectory:
			dirs[target] = dirEntry{mode: modeOr(p.Mode, defaultDirMode), uid: p.UID, gid: p.GID, at: at}
		case spec.PathFile:
			leaves = append(leaves, leaf{target, mkfile(target, modeOr(p.Mode, defaultFileMode), p.UID, p.GID, []byte(p.Content), in.Epoch)})
			files = append(files, GeneratedFile{Path: target, Type: "file", Content: []byte(p.Content)})
		case spec.PathSymlink:
			leaves = append(leaves, leaf{target, symlink(p.Target, target, p.UID, p.GID, in.Epoch)})
			files = append(files, GeneratedFile{Path: target, Type: "symlink", Target: p.Target})
		default:
			// spec validation rejects other types; reaching here is a bug.
			return nil, nil, fmt.Errorf("internal error: path type %q", p.Type)
		}
	}
	var copies []func(*bkllb.FileAction) *bkllb.FileAction
	for i, c := range s.Copy {
		at := fmt.Sprintf("copy[%d]", i)
		from := cmp.Or(c.From, spec.DefaultCopyFrom)
		src, ok := in.Contexts[from]
		if !ok {
			errs = append(errs, s.Errorf(at+".from", "pass it with --build-context "+from+"=<dir or image>", "no build context named %q", from))
			continue
		}
		dst, err := resolveParent(ctx, in.BaseFS, c.Dst)
		if err != nil {
			errs = append(errs, s.Errorf(at+".dst", "", "%v", err))
			continue
		}
		// A copy into a folder the spec creates is what that folder is for;
		// a copy onto a file or link the layer writes would replace it.
		if w, ok := written[dst]; ok && !w.dir && conflict(dst, at+".dst") {
			continue
		}
		locs = append(locs, in.location(at))
		need(dst, at)
		copies = append(copies, copyFrom(src, c, dst, in.Epoch))
		files = append(files, GeneratedFile{Path: dst, Type: "copy", Source: from + ":" + c.Src})
	}
	// A file or link the layer writes cannot also be the folder that another
	// entry is written into; BuildKit would fail the solve with no line.
	for _, d := range slices.Sorted(maps.Keys(dirs)) {
		if w, ok := written[d]; ok && !w.dir && dirs[d].at == "" {
			errs = append(errs, s.Errorf(dirs[d].owner, "write one of them somewhere else",
				"%s needs %s as a folder, but %s (line %d) writes it as a file or link", dirs[d].owner, d, w.at, s.Pos(w.at).Line))
		}
	}
	if len(errs) > 0 {
		return nil, nil, errs
	}

	// The parents of everything, with the base's own metadata where the base
	// has the directory, so the merge does not change it.
	dirPaths := make([]string, 0, len(dirs))
	for d := range dirs {
		dirPaths = append(dirPaths, d)
	}
	sort.Strings(dirPaths) // a parent sorts before its children
	var dirActions []func(*bkllb.FileAction) *bkllb.FileAction
	for _, d := range dirPaths {
		e := dirs[d]
		if e.at == "" {
			base, refused, err := baseDir(ctx, in.BaseFS, d)
			if err != nil {
				return nil, nil, err
			}
			if refused != "" {
				return nil, nil, s.Errorf(e.owner, "write it somewhere else", "cannot write below %s: %s", d, refused)
			}
			e = base
		}
		dirActions = append(dirActions, mkdir(d, e.mode, e.uid, e.gid, in.Epoch))
	}
	sort.SliceStable(leaves, func(i, j int) bool { return leaves[i].path < leaves[j].path })

	all := append(dirActions, actions...)
	for _, l := range leaves {
		all = append(all, l.add)
	}
	all = append(all, copies...)

	var fa *bkllb.FileAction
	for _, add := range all {
		fa = add(fa)
	}
	staged := bkllb.Scratch().File(fa, append(locs, bkllb.WithCustomName("[stagex] write accounts, paths and copies"))...)
	epoch := in.Epoch
	layer := bkllb.Scratch().File(
		bkllb.Copy(staged, "/", "/", &bkllb.CopyInfo{CopyDirContentsOnly: true, CreatedTime: &epoch}),
		bkllb.WithCustomName("[stagex] generated layer"),
	)
	sort.SliceStable(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return &layer, files, nil
}

// GeneratedFile is one entry of the generated layer, as the SBOM lists it.
type GeneratedFile struct {
	Path    string // in the image, after the base's symlinks are resolved
	Type    string // "file", "symlink" or "copy"
	Content []byte // for files: the exact bytes written
	Target  string // for symlinks
	Source  string // for copies: "<context>:<src>"; BuildKit reads the content at solve time
}

// modeOr returns the spec's mode, or def when the spec leaves it out.
func modeOr(m *uint32, def fs.FileMode) fs.FileMode {
	if m == nil {
		return def
	}
	return fs.FileMode(*m)
}

// The helpers below chain one file action onto the previous one, so the whole
// layer is a single FileOp. The first is chained onto nil: BuildKit's
// FileAction methods start a new chain on a nil receiver.

func mkdir(p string, m fs.FileMode, uid, gid int, t time.Time) func(*bkllb.FileAction) *bkllb.FileAction {
	opts := []bkllb.MkdirOption{bkllb.WithUIDGID(uid, gid), bkllb.WithCreatedTime(t)}
	return func(fa *bkllb.FileAction) *bkllb.FileAction {
		return fa.Mkdir(p, m, opts...)
	}
}

func mkfile(p string, m fs.FileMode, uid, gid int, data []byte, t time.Time) func(*bkllb.FileAction) *bkllb.FileAction {
	opts := []bkllb.MkfileOption{bkllb.WithUIDGID(uid, gid), bkllb.WithCreatedTime(t)}
	return func(fa *bkllb.FileAction) *bkllb.FileAction {
		return fa.Mkfile(p, m, data, opts...)
	}
}

func symlink(target, p string, uid, gid int, t time.Time) func(*bkllb.FileAction) *bkllb.FileAction {
	opts := []bkllb.SymlinkOption{bkllb.WithUIDGID(uid, gid), bkllb.WithCreatedTime(t)}
	return func(fa *bkllb.FileAction) *bkllb.FileAction {
		return fa.Symlink(target, p, opts...)
	}
}

func copyFrom(src bkllb.State, c spec.Copy, dst string, t time.Time) func(*bkllb.FileAction) *bkllb.FileAction {
	info := &bkllb.CopyInfo{
		CopyDirContentsOnly: true,
		FollowSymlinks:      true,
		CreatedTime:         &t,
		ChownOpt:            &bkllb.ChownOpt{User: &bkllb.UserOpt{UID: c.UID}, Group: &bkllb.UserOpt{UID: c.GID}},
	}
	if c.Mode != nil {
		info.Mode = &bkllb.ChmodOpt{Mode: fs.FileMode(*c.Mode)}
	}
	return func(fa *bkllb.FileAction) *bkllb.FileAction {
		return fa.Copy(src, c.Src, dst, info)
	}
}
