package check

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
)

// Stack is an image root on disk together with the folders of the layers it
// was merged from, bottom first: at build time the frontend mounts the
// merged rootfs and each merge input read-only, so the check can attribute
// files to packages and measure overwrites without the layer tars. It
// implements FS (reading the merged root) and Layered (from the layers).
//
// A layer folder holds what the layer adds. An overlay whiteout in it (a
// character device 0/0) is recorded as a deletion of that path.
type Stack struct {
	FS
	layers []Layer
	writer map[string]int     // absolute path → last layer holding it (folders too)
	writes map[string][]Write // non-directory paths → every layer's write, in order
}

// NewStack reads the layer folders (each an FS as DirFS returns it) of the
// merged root. Every regular file is hashed, to tell overwrites with the
// same content from conflicts.
func NewStack(merged FS, layers []FS) (*Stack, error) {
	s := &Stack{FS: merged, writer: map[string]int{}, writes: map[string][]Write{}}
	for i, l := range layers {
		layer := Layer{Index: i}
		err := fs.WalkDir(l, ".", func(name string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if name == "." {
				return nil
			}
			p := "/" + name
			if d.IsDir() {
				s.writer[p] = i
				return nil
			}
			w, err := layerWrite(l, name, d, i)
			if err != nil {
				return fmt.Errorf("layer %d: %s: %w", i, p, err)
			}
			if w.Deleted {
				if _, below := s.writer[p]; !below {
					// A whiteout over nothing hides no bytes: not a write.
					return nil
				}
				s.deleteBelow(p, i)
				delete(s.writer, p)
				if ws := s.writes[p]; len(ws) == 0 || ws[len(ws)-1].Deleted {
					return nil // a folder: its files were recorded above
				}
			} else {
				s.writer[p] = i
				layer.Files++
				layer.Bytes += w.Size
			}
			s.writes[p] = append(s.writes[p], w)
			return nil
		})
		if err != nil {
			return nil, err
		}
		s.layers = append(s.layers, layer)
	}
	return s, nil
}

// deleteBelow records layer i's whiteout of the folder p as a deletion of
// every path under it that a lower layer wrote, as an overlay mount hides
// them all (the Tree does the same for a tar whiteout).
func (s *Stack) deleteBelow(p string, i int) {
	prefix := p + "/"
	for _, q := range slices.Sorted(maps.Keys(s.writer)) {
		if !strings.HasPrefix(q, prefix) {
			continue
		}
		if ws := s.writes[q]; len(ws) > 0 && !ws[len(ws)-1].Deleted {
			s.writes[q] = append(ws, Write{Layer: i, Deleted: true})
		}
		delete(s.writer, q)
	}
}

// layerWrite describes the entry at name of one layer folder.
func layerWrite(l FS, name string, d fs.DirEntry, i int) (Write, error) {
	info, err := d.Info()
	if err != nil {
		return Write{}, err
	}
	switch m := info.Mode(); {
	case m.Type() == fs.ModeSymlink:
		target, err := l.ReadLink(name)
		if err != nil {
			return Write{}, err
		}
		return Write{Layer: i, Digest: "symlink:" + target}, nil
	case m.Type() == fs.ModeDevice|fs.ModeCharDevice && isWhiteoutDevice(info):
		return Write{Layer: i, Deleted: true}, nil
	case m.IsRegular():
		f, err := l.Open(name)
		if err != nil {
			return Write{}, err
		}
		defer f.Close()
		h := sha256.New()
		n, err := io.Copy(h, f)
		if err != nil {
			return Write{}, err
		}
		return Write{Layer: i, Size: n, Digest: "sha256:" + hex.EncodeToString(h.Sum(nil))}, nil
	}
	return Write{Layer: i}, nil
}

// Layers implements Layered.
func (s *Stack) Layers() []Layer { return slices.Clone(s.layers) }

// Writer implements Layered.
func (s *Stack) Writer(name string) int {
	if i, ok := s.writer[path.Clean("/"+name)]; ok {
		return i
	}
	return -1
}

// Overwrites implements Layered.
func (s *Stack) Overwrites() []Overwrite {
	var out []Overwrite
	for _, p := range slices.Sorted(maps.Keys(s.writes)) {
		if ws := s.writes[p]; len(ws) > 1 {
			out = append(out, Overwrite{Path: p, Writes: slices.Clone(ws)})
		}
	}
	return out
}
