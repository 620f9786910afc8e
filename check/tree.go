package check

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"time"
)

// Whiteout names, as the OCI image layer spec defines them.
const (
	whiteoutPrefix = ".wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// Tree is an image root built in memory by applying layers in order,
// whiteouts and opaque whiteouts included. Nothing is written to the host.
// It implements FS and Layered.
type Tree struct {
	root   *node
	layers []Layer
	writes map[string][]Write // every write of a non-directory path, in layer order
}

type node struct {
	mode     fs.FileMode // type and permission bits, io/fs style
	size     int64
	data     []byte // regular files
	target   string // symlinks
	modTime  time.Time
	layer    int
	children map[string]*node // folders
}

// NewTree returns an empty root folder.
func NewTree() *Tree {
	return &Tree{
		root:   &node{mode: fs.ModeDir | 0o755, layer: -1, children: map[string]*node{}},
		writes: map[string][]Write{},
	}
}

// entry is one tar entry of the layer being applied.
type entry struct {
	hdr  *tar.Header
	name string // absolute, clean
	data []byte
}

// Apply applies one uncompressed layer tar on top of the layers applied so
// far. diffID is recorded for the report ("" when unknown). Whiteouts in a
// layer apply to the layers below it, so they are applied before the
// layer's own entries, whatever their order in the tar.
func (t *Tree) Apply(r io.Reader, diffID string) error {
	idx := len(t.layers)
	layer := Layer{Index: idx, DiffID: diffID}
	var entries []entry
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("layer %d: %w", idx, err)
		}
		name := path.Clean("/" + hdr.Name)
		if name == "/" {
			continue
		}
		e := entry{hdr: hdr, name: name}
		if hdr.Typeflag == tar.TypeReg || hdr.Typeflag == tar.TypeRegA {
			if e.data, err = io.ReadAll(tr); err != nil {
				return fmt.Errorf("layer %d: %s: %w", idx, name, err)
			}
		}
		entries = append(entries, e)
	}
	for _, e := range entries {
		dir, base := path.Split(e.name)
		switch {
		case base == whiteoutOpaque:
			if n := t.lookupLiteral(dir); n != nil && n.children != nil {
				for _, c := range slices.Sorted(maps.Keys(n.children)) {
					t.remove(n, path.Join(dir, c), idx)
				}
			}
		case strings.HasPrefix(base, whiteoutPrefix):
			if n := t.lookupLiteral(dir); n != nil && n.children != nil {
				t.remove(n, path.Join(dir, strings.TrimPrefix(base, whiteoutPrefix)), idx)
			}
		}
	}
	for _, e := range entries {
		if strings.HasPrefix(path.Base(e.name), whiteoutPrefix) {
			continue
		}
		if err := t.add(e, idx, &layer); err != nil {
			return fmt.Errorf("layer %d: %s: %w", idx, e.name, err)
		}
	}
	t.layers = append(t.layers, layer)
	return nil
}

// remove deletes the entry at p (a child of parent) and records a deletion
// by layer for every non-directory under it.
func (t *Tree) remove(parent *node, p string, layer int) {
	n, ok := parent.children[path.Base(p)]
	if !ok {
		return
	}
	t.recordDeletes(n, p, layer)
	delete(parent.children, path.Base(p))
}

func (t *Tree) recordDeletes(n *node, p string, layer int) {
	if n.children != nil {
		for _, c := range slices.Sorted(maps.Keys(n.children)) {
			t.recordDeletes(n.children[c], path.Join(p, c), layer)
		}
		return
	}
	t.writes[p] = append(t.writes[p], Write{Layer: layer, Deleted: true})
}

func (t *Tree) add(e entry, idx int, layer *Layer) error {
	parent, err := t.mkdirAll(path.Dir(e.name), idx)
	if err != nil {
		return err
	}
	base := path.Base(e.name)
	hdr := e.hdr
	n := &node{mode: fs.FileMode(hdr.Mode).Perm() | modeBits(hdr.Mode), modTime: hdr.ModTime, layer: idx}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if old, ok := parent.children[base]; ok && old.children != nil {
			old.mode, old.modTime, old.layer = fs.ModeDir|n.mode, n.modTime, idx
			return nil
		}
		n.mode |= fs.ModeDir
		n.children = map[string]*node{}
	case tar.TypeReg, tar.TypeRegA:
		n.data, n.size = e.data, int64(len(e.data))
	case tar.TypeSymlink:
		n.mode |= fs.ModeSymlink
		n.target = hdr.Linkname
	case tar.TypeLink:
		src := t.lookupLiteral(path.Clean("/" + hdr.Linkname))
		if src == nil || src.children != nil {
			return fmt.Errorf("hard link to %s, which the layers do not hold as a file", hdr.Linkname)
		}
		c := *src
		n = &c
		n.layer = idx
	case tar.TypeChar:
		n.mode |= fs.ModeDevice | fs.ModeCharDevice
	case tar.TypeBlock:
		n.mode |= fs.ModeDevice
	case tar.TypeFifo:
		n.mode |= fs.ModeNamedPipe
	default:
		return fmt.Errorf("unsupported tar entry type %q", hdr.Typeflag)
	}
	if old, ok := parent.children[base]; ok {
		// A new entry replaces the old one; a folder it replaces takes
		// its whole subtree with it.
		if old.children != nil || n.children != nil {
			t.recordDeletes(old, e.name, idx)
		}
	}
	parent.children[base] = n
	if n.children == nil {
		layer.Files++
		w := Write{Layer: idx}
		switch {
		case n.mode.IsRegular():
			layer.Bytes += n.size
			sum := sha256.Sum256(n.data)
			w.Size, w.Digest = n.size, "sha256:"+hex.EncodeToString(sum[:])
		case n.mode&fs.ModeSymlink != 0:
			w.Digest = "symlink:" + n.target
		default:
			w.Digest = n.mode.Type().String()
		}
		t.writes[e.name] = append(t.writes[e.name], w)
	}
	return nil
}

// modeBits maps the setuid, setgid and sticky bits of a tar mode.
func modeBits(m int64) fs.FileMode {
	var b fs.FileMode
	if m&04000 != 0 {
		b |= fs.ModeSetuid
	}
	if m&02000 != 0 {
		b |= fs.ModeSetgid
	}
	if m&01000 != 0 {
		b |= fs.ModeSticky
	}
	return b
}

// mkdirAll returns the folder at p, creating missing folders. A symlink on
// the way is followed inside the tree, as a layer applier resolves a
// parent; a file on the way is replaced by a folder.
func (t *Tree) mkdirAll(p string, idx int) (*node, error) {
	n := t.root
	cur := "/"
	for _, c := range splitPath(p) {
		if c == "" {
			continue
		}
		cur = path.Join(cur, c)
		child, ok := n.children[c]
		if ok && child.mode&fs.ModeSymlink != 0 {
			rp, fi, err := resolve(t, cur, true)
			if err == nil && fi.IsDir() {
				cur, child = rp, t.lookupLiteral(rp)
			}
		}
		if !ok || child.children == nil {
			if ok {
				t.recordDeletes(child, cur, idx)
			}
			child = &node{mode: fs.ModeDir | 0o755, layer: idx, children: map[string]*node{}}
			n.children[c] = child
		}
		n = child
	}
	return n, nil
}

// lookupLiteral returns the node at an absolute path without following any
// symlink, nil if there is none.
func (t *Tree) lookupLiteral(p string) *node {
	n := t.root
	for _, c := range splitPath(p) {
		if c == "" || c == "." {
			continue
		}
		if n.children == nil {
			return nil
		}
		if n = n.children[c]; n == nil {
			return nil
		}
	}
	return n
}

// lstat finds the node at an io/fs name, following symlinks in all but the
// last component.
func (t *Tree) lstat(op, name string) (*node, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	p := path.Clean("/" + name)
	if n := t.lookupLiteral(p); n != nil {
		return n, nil
	}
	dir, base := path.Split(p)
	if dir == "/" {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	rp, fi, err := resolve(t, dir, true)
	if err != nil || !fi.IsDir() {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	if n := t.lookupLiteral(path.Join(rp, base)); n != nil {
		return n, nil
	}
	return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
}

// follow finds the node at an io/fs name, following every symlink inside
// the tree.
func (t *Tree) follow(op, name string) (*node, string, error) {
	if !fs.ValidPath(name) {
		return nil, "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	rp, _, err := resolve(t, "/"+name, true)
	if err != nil {
		return nil, "", &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return t.lookupLiteral(rp), rp, nil
}

// Lstat implements fs.ReadLinkFS.
func (t *Tree) Lstat(name string) (fs.FileInfo, error) {
	n, err := t.lstat("lstat", name)
	if err != nil {
		return nil, err
	}
	return info{path.Base("/" + name), n}, nil
}

// ReadLink implements fs.ReadLinkFS.
func (t *Tree) ReadLink(name string) (string, error) {
	n, err := t.lstat("readlink", name)
	if err != nil {
		return "", err
	}
	if n.mode&fs.ModeSymlink == 0 {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	return n.target, nil
}

// Stat implements fs.StatFS.
func (t *Tree) Stat(name string) (fs.FileInfo, error) {
	n, _, err := t.follow("stat", name)
	if err != nil {
		return nil, err
	}
	return info{path.Base("/" + name), n}, nil
}

// Open implements fs.FS; it follows symlinks inside the tree.
func (t *Tree) Open(name string) (fs.File, error) {
	n, rp, err := t.follow("open", name)
	if err != nil {
		return nil, err
	}
	return &file{info: info{path.Base("/" + name), n}, r: bytes.NewReader(n.data), dir: rp}, nil
}

// ReadDir implements fs.ReadDirFS: entries sorted by name.
func (t *Tree) ReadDir(name string) ([]fs.DirEntry, error) {
	n, _, err := t.follow("readdir", name)
	if err != nil {
		return nil, err
	}
	if n.children == nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errNotDir}
	}
	return dirEntries(n), nil
}

func dirEntries(n *node) []fs.DirEntry {
	names := slices.Sorted(maps.Keys(n.children))
	es := make([]fs.DirEntry, len(names))
	for i, c := range names {
		es[i] = fs.FileInfoToDirEntry(info{c, n.children[c]})
	}
	return es
}

// Layers implements Layered.
func (t *Tree) Layers() []Layer { return slices.Clone(t.layers) }

// Writer implements Layered.
func (t *Tree) Writer(name string) int {
	if n, err := t.lstat("writer", fsName(name)); err == nil {
		return n.layer
	}
	return -1
}

// Overwrites implements Layered.
func (t *Tree) Overwrites() []Overwrite {
	var out []Overwrite
	for _, p := range slices.Sorted(maps.Keys(t.writes)) {
		ws := t.writes[p]
		if !slices.ContainsFunc(ws, func(w Write) bool { return w.Layer != ws[0].Layer }) {
			continue
		}
		out = append(out, Overwrite{Path: p, Writes: slices.Clone(ws)})
	}
	return out
}

type info struct {
	name string
	n    *node
}

func (i info) Name() string       { return i.name }
func (i info) Size() int64        { return i.n.size }
func (i info) Mode() fs.FileMode  { return i.n.mode }
func (i info) ModTime() time.Time { return i.n.modTime }
func (i info) IsDir() bool        { return i.n.children != nil }
func (i info) Sys() any           { return nil }

type file struct {
	info
	r   *bytes.Reader
	dir string
	off int // ReadDir position
}

func (f *file) Stat() (fs.FileInfo, error)                { return f.info, nil }
func (f *file) Read(b []byte) (int, error)                { return f.r.Read(b) }
func (f *file) ReadAt(b []byte, off int64) (int, error)   { return f.r.ReadAt(b, off) }
func (f *file) Seek(off int64, whence int) (int64, error) { return f.r.Seek(off, whence) }
func (f *file) Close() error                              { return nil }

// ReadDir implements fs.ReadDirFile.
func (f *file) ReadDir(n int) ([]fs.DirEntry, error) {
	if f.n.children == nil {
		return nil, &fs.PathError{Op: "readdir", Path: f.dir, Err: errNotDir}
	}
	es := dirEntries(f.n)[f.off:]
	if n > 0 {
		if len(es) == 0 {
			return nil, io.EOF
		}
		es = es[:min(n, len(es))]
	}
	f.off += len(es)
	return es, nil
}

var _ Layered = (*Tree)(nil)
