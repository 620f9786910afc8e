package llb

import (
	"cmp"
	"context"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
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
	at       spec.Field // the spec field that asks for it
	implied  bool       // a parent no field asks for, made because a field needs it
	owner    spec.Field // for an implied parent: the spec field that needs it
}

// entryKind is what one entry of the generated layer is.
type entryKind int

const (
	kindDir entryKind = iota
	kindFile
	kindSymlink
	kindCopy // whatever the build context holds at the copy's src
)

func (k entryKind) String() string {
	return [...]string{"folder", "file", "symlink", "copy"}[k]
}

// planned is one entry of the generated layer, in the order it is written.
type planned struct {
	path string
	kind entryKind
	at   spec.Field // the spec field that asks for it, or needs it as a folder
	add  func(*bkllb.FileAction) *bkllb.FileAction
}

// layerPlan is everything the generated layer writes, checked against the
// layers below it; generatedLayer turns it into LLB.
type layerPlan struct {
	entries []planned
	files   []GeneratedFile
	locs    []bkllb.ConstraintsOpt
	// readBack are the copies onto what the packages hold (a folder, a
	// file): whether the build context's content there is of the same
	// kind is only known once BuildKit has copied it, so CheckCopies reads
	// it back.
	readBack []planned
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
// the second step is what makes the layer bytes reproducible. It also takes
// the base's read ops as inputs (foldReads), which adds nothing to it.
func generatedLayer(ctx context.Context, in *Input, basePasswd, baseGroup []byte) (*bkllb.State, *layerPlan, error) {
	plan, err := planGenerated(ctx, in, basePasswd, baseGroup)
	if plan == nil || err != nil {
		return nil, nil, err
	}
	var fa *bkllb.FileAction
	for _, e := range plan.entries {
		fa = e.add(fa)
	}
	staged := bkllb.Scratch().File(fa, append(plan.locs, bkllb.WithCustomName("[stagex] write accounts, paths and copies"))...)
	epoch := in.Epoch
	layer := bkllb.Scratch().File(
		foldReads(bkllb.Copy(staged, "/", "/", &bkllb.CopyInfo{CopyDirContentsOnly: true, CreatedTime: &epoch}), in.BaseFS),
		bkllb.WithCustomName("[stagex] generated layer"),
	)
	return &layer, plan, nil
}

// planGenerated decides what the generated layer writes, or returns nil when
// the spec asks for nothing. Every entry is checked against the layers below
// (in.BaseFS): in the merge the generated layer lies on top, so an entry of
// another type than what is below replaces it whole, as a folder at /lib
// would replace the link /lib -> usr/lib and with it the musl loader's path.
func planGenerated(ctx context.Context, in *Input, basePasswd, baseGroup []byte) (*layerPlan, error) {
	s := in.Spec
	if !hasAccounts(s) && len(s.Paths) == 0 && len(s.Copy) == 0 {
		return nil, nil
	}
	plan := &layerPlan{}
	var errs spec.ErrorList

	dirs := map[string]dirEntry{}
	// need records every ancestor of p as an implied directory, needed by
	// the spec field at.
	need := func(p string, at spec.Field) {
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			if _, ok := dirs[d]; !ok {
				dirs[d] = dirEntry{mode: defaultDirMode, implied: true, owner: at}
			}
		}
	}
	// written maps each path the layer creates itself to the spec field that
	// asks for it. Paths are compared after the base's symlinks are followed
	// (/bin/sh is /usr/bin/sh in a merged-/usr base), where the spec's own
	// duplicate check cannot see them: two entries on one path would leave
	// only the later one in the image, or fail the solve.
	written := map[string]claim{}
	conflict := func(p string, at spec.Field) bool {
		first, dup := written[p]
		if dup {
			errs = append(errs, s.ErrorAt(at, "keep one entry per path; paths are compared after following the base's symlinks",
				"%s is already written by %s (line %d)", p, first.at.Name, first.at.Pos.Line))
		}
		return dup
	}
	// below checks that writing p as kind replaces nothing of another kind
	// that the layers below hold, reporting at at; fi is what they hold
	// there (nil when nothing), ok false when p is refused.
	below := func(p string, kind entryKind, at spec.Field) (fi *FileInfo, ok bool) {
		fi, refused, hint, err := replaces(ctx, in.BaseFS, p, kind)
		switch {
		case err != nil:
			errs = append(errs, s.ErrorAt(at, "", "%v", err))
		case refused != "":
			errs = append(errs, s.ErrorAt(at, hint, "%s", refused))
		}
		return fi, err == nil && refused == ""
	}

	var accounts, leaves, copies []planned
	if hasAccounts(s) {
		at := spec.Field{Name: "accounts", Pos: s.Pos("accounts")}
		passwd, group, err := mergeAccounts(s, basePasswd, baseGroup)
		if err != nil {
			return nil, err
		}
		plan.files = append(plan.files,
			GeneratedFile{Path: "/etc/passwd", Type: "file", Content: passwd},
			GeneratedFile{Path: "/etc/group", Type: "file", Content: group})
		for _, f := range plan.files {
			below(f.Path, kindFile, at)
			written[f.Path] = claim{at: at}
			accounts = append(accounts, planned{f.Path, kindFile, at, mkfile(f.Path, 0o644, 0, 0, f.Content, in.Epoch)})
		}
		need("/etc/passwd", at)
		plan.locs = append(plan.locs, in.locationAt(at.Pos))
	}

	for _, p := range s.Paths {
		at := p.At.Entry
		target, err := resolveParent(ctx, in.BaseFS, p.Path)
		if err != nil {
			errs = append(errs, s.ErrorAt(p.At.Path, "", "%v", err))
			continue
		}
		if conflict(target, p.At.Path) {
			continue
		}
		kind := map[spec.PathType]entryKind{spec.PathDirectory: kindDir, spec.PathFile: kindFile, spec.PathSymlink: kindSymlink}[p.Type]
		if _, ok := below(target, kind, p.At.Path); !ok {
			continue
		}
		written[target] = claim{at: p.At.Path, dir: p.Type == spec.PathDirectory}
		plan.locs = append(plan.locs, in.locationAt(at.Pos))
		need(target, at)
		switch p.Type {
		case spec.PathDirectory:
			dirs[target] = dirEntry{mode: modeOr(p.Mode, defaultDirMode), uid: p.UID, gid: p.GID, at: at}
		case spec.PathFile:
			leaves = append(leaves, planned{target, kindFile, at, mkfile(target, modeOr(p.Mode, defaultFileMode), p.UID, p.GID, []byte(p.Content), in.Epoch)})
			plan.files = append(plan.files, GeneratedFile{Path: target, Type: "file", Content: []byte(p.Content)})
		case spec.PathSymlink:
			leaves = append(leaves, planned{target, kindSymlink, at, symlink(p.Target, target, p.UID, p.GID, in.Epoch)})
			plan.files = append(plan.files, GeneratedFile{Path: target, Type: "symlink", Target: p.Target})
		default:
			// spec validation rejects other types; reaching here is a bug.
			return nil, fmt.Errorf("internal error: path type %q", p.Type)
		}
	}
	for _, c := range s.Copy {
		at := c.At.Entry
		from := cmp.Or(c.From, spec.DefaultCopyFrom)
		src, ok := in.Contexts[from]
		if !ok {
			errs = append(errs, s.ErrorAt(c.At.From, "pass it with --build-context "+from+"=<dir or image>", "no build context named %q", from))
			continue
		}
		if err := checkCopySource(ctx, in.ContextFS[from], c); err != nil {
			errs = append(errs, s.ErrorAt(c.At.Src, err.hint, "%s", err.msg))
			continue
		}
		dst, err := resolveParent(ctx, in.BaseFS, c.Dst)
		if err != nil {
			errs = append(errs, s.ErrorAt(c.At.Dst, "", "%v", err))
			continue
		}
		// A copy into a folder the spec creates is what that folder is for;
		// a copy onto a file or link the layer writes would replace it, and
		// one into a folder that holds such a file could: the build
		// context's content is only known when BuildKit copies it, and the
		// SBOM would then list bytes the image does not hold.
		if w, ok := written[dst]; ok && !w.dir && conflict(dst, c.At.Dst) {
			continue
		}
		if over := writtenBelow(dst, written); over != "" {
			w := written[over]
			errs = append(errs, s.ErrorAt(c.At.Dst, "copy into a folder of its own, or write "+over+" from the build context too",
				"the copy into %s could overwrite %s, which %s (line %d) writes", dst, over, w.at.Name, w.at.Pos.Line))
			continue
		}
		fi, ok := below(dst, kindCopy, c.At.Dst)
		if !ok {
			continue
		}
		plan.locs = append(plan.locs, in.locationAt(at.Pos))
		need(dst, at)
		if fi != nil && fi.Mode.IsDir() && dst != "/" {
			// The copy goes into the folder below, as Dockerfile COPY does
			// into an existing folder: staging it keeps a file from landing
			// at dst itself, where it would replace the folder.
			if _, ok := dirs[dst]; !ok {
				dirs[dst] = dirEntry{implied: true, owner: at}
			}
		}
		if fi != nil || dst == "/" { // the root is always there
			plan.readBack = append(plan.readBack, planned{dst, kindCopy, c.At.Dst, nil})
		}
		copies = append(copies, planned{dst, kindCopy, at, copyFrom(src, c, dst, in.Epoch)})
		plan.files = append(plan.files, GeneratedFile{Path: dst, Type: "copy", Source: from + ":" + c.Src})
	}
	// A file or link the layer writes cannot also be the folder that another
	// entry is written into; BuildKit would fail the solve with no line.
	for _, d := range slices.Sorted(maps.Keys(dirs)) {
		if w, ok := written[d]; ok && !w.dir && dirs[d].implied {
			errs = append(errs, s.ErrorAt(dirs[d].owner, "write one of them somewhere else",
				"%s needs %s as a folder, but %s (line %d) writes it as a file or link", dirs[d].owner.Name, d, w.at.Name, w.at.Pos.Line))
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}

	// The parents of everything, with the base's own metadata where the base
	// has the directory, so the merge does not change it.
	for _, d := range slices.Sorted(maps.Keys(dirs)) { // a parent sorts before its children
		e := dirs[d]
		at := e.at
		if e.implied {
			base, refused, err := baseDir(ctx, in.BaseFS, d)
			if err != nil {
				return nil, err
			}
			if refused != "" {
				return nil, s.ErrorAt(e.owner, "write it somewhere else", "cannot write below %s: %s", d, refused)
			}
			e, at = base, e.owner
		}
		plan.entries = append(plan.entries, planned{d, kindDir, at, mkdir(d, e.mode, e.uid, e.gid, in.Epoch)})
	}
	slices.SortStableFunc(leaves, func(a, b planned) int { return cmp.Compare(a.path, b.path) })
	plan.entries = slices.Concat(plan.entries, accounts, leaves, copies)
	slices.SortStableFunc(plan.files, func(a, b GeneratedFile) int { return cmp.Compare(a.Path, b.Path) })
	return plan, nil
}

// copyProblem is what is wrong with a copy's source.
type copyProblem struct{ msg, hint string }

// checkCopySource reports a copy whose source the build context does not
// hold (BuildKit would fail the solve with a bare "not found"), or nil. The
// source's parent folders are followed through the context's symlinks, as
// the copy follows them; a nil context is not checked.
func checkCopySource(ctx context.Context, fsys BaseFS, c spec.Copy) *copyProblem {
	src := path.Join("/", c.Src)
	if fsys == nil || src == "/" {
		return nil
	}
	p, err := resolveParent(ctx, fsys, src)
	var fi *FileInfo
	if err == nil {
		fi, err = fsys.Lstat(ctx, p)
	}
	switch {
	case err != nil:
		return &copyProblem{msg: fmt.Sprintf("cannot read copy source %s in build context %q: %v", c.Src, c.From, err)}
	case fi != nil:
		return nil
	case c.From == spec.DefaultCopyFrom:
		return &copyProblem{msg: fmt.Sprintf("copy source %s is not in the build context", c.Src),
			hint: "src is relative to the build context's root (the last argument of buildx build); check the path, and that .dockerignore does not leave it out"}
	}
	return &copyProblem{msg: fmt.Sprintf("copy source %s is not in build context %q", c.Src, c.From),
		hint: "src is relative to the root of the context passed with --build-context " + c.From + "=...; check the path"}
}

// claim is one path the generated layer writes itself: the spec field that
// asks for it, and whether it is a folder.
type claim struct {
	at  spec.Field
	dir bool
}

// writtenBelow returns the first file or link, in path order, that written
// holds at p or below it, or "".
func writtenBelow(p string, written map[string]claim) string {
	for _, w := range slices.Sorted(maps.Keys(written)) {
		if (w == p || p == "/" || strings.HasPrefix(w, p+"/")) && !written[w].dir {
			return w
		}
	}
	return ""
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

// NeedsCopyCheck reports whether CheckCopies has anything to read.
func (r *Result) NeedsCopyCheck() bool { return r.plan != nil && len(r.plan.readBack) > 0 }

// CheckCopies reads back, from the solved generated layer, what each copy
// onto a folder or file the packages hold put there, and refuses what would
// replace a link, file or folder of theirs with another kind: a context
// holding bin/ copied into / would replace the link /bin -> usr/bin, a
// folder copied onto a file would replace the file. Compose checks every
// other entry before anything is solved; this is the part only the build
// context's content decides. lower is what Compose read as BaseFS.
func (r *Result) CheckCopies(ctx context.Context, lower BaseFS, layer LayerFS) error {
	if !r.NeedsCopyCheck() {
		return nil
	}
	var errs spec.ErrorList
	for _, c := range r.plan.readBack {
		check := func(p string, fi *FileInfo) (bool, error) {
			below, refused, hint, err := replaces(ctx, lower, p, kindOf(fi))
			if err != nil {
				return false, err
			}
			if refused != "" {
				errs = append(errs, r.spec.ErrorAt(c.at, "leave it out of what the copy brings; "+hint,
					"the copy to %s puts a %s at %s: %s", c.path, kindOf(fi), p, refused))
				return false, nil
			}
			// Below a folder the packages do not hold, nothing of theirs
			// can be replaced.
			return below != nil && fi.Mode.IsDir(), nil
		}
		if err := checkLayer(ctx, layer, c.path, check); err != nil {
			return err
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// checkLayer calls fn for p in layer (unless p is the root) and, while fn
// returns true for a folder, for everything below it, in path order.
func checkLayer(ctx context.Context, layer LayerFS, p string, fn func(p string, fi *FileInfo) (bool, error)) error {
	if p != "/" {
		fi, err := layer.Lstat(ctx, p)
		if err != nil || fi == nil { // nil: the copy brought nothing
			return err
		}
		if descend, err := fn(p, fi); err != nil || !descend {
			return err
		}
	}
	return walkLayer(ctx, layer, p, fn)
}

// walkLayer calls fn for every entry below folder dir of layer, in path
// order, descending into the folders for which fn returns true.
func walkLayer(ctx context.Context, layer LayerFS, dir string, fn func(p string, fi *FileInfo) (bool, error)) error {
	names, err := layer.ReadDir(ctx, dir)
	if err != nil {
		return err
	}
	for _, name := range names {
		p := path.Join(dir, name)
		fi, err := layer.Lstat(ctx, p)
		if err != nil {
			return err
		}
		if fi == nil {
			return fmt.Errorf("internal error: %s is listed but not found in the generated layer", p)
		}
		descend, err := fn(p, fi)
		if err != nil {
			return err
		}
		if descend {
			if err := walkLayer(ctx, layer, p, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// kindOf is the entryKind of a file in a layer.
func kindOf(fi *FileInfo) entryKind {
	switch {
	case fi.Mode&fs.ModeSymlink != 0:
		return kindSymlink
	case fi.Mode.IsDir():
		return kindDir
	}
	return kindFile
}
