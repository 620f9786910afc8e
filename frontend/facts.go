package frontend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"syscall"

	"edp.buildth.ing/devfw-cicd/stagex/llb"
	"github.com/containerd/platforms"
	bkllb "github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/util/apicaps"
)

// The base facts are what the composition reads of the packages merged,
// read by `frontend facts` in an exec on that merge rather than through the
// gateway. A gateway read mounts the merge, which unpacks every package
// layer, and it is no op of the build: no cache records it. The exec is an
// op, so BuildKit caches it and a registry cache carries it; a daemon that
// imports it answers the exec from the cache and never unpacks a package
// for the composition's reads.

// Paths inside the facts exec.
const (
	factsRoot = "/rootfs"     // the packages merged, read-only
	factsOut  = "/out"        // where the facts are written
	factsFile = "/facts.json" // in factsOut; never matches llb's fold pattern
)

// baseFacts is what `frontend facts` writes: the entries of each folder
// asked for, and each file asked for.
type baseFacts struct {
	// Dirs holds each folder listed, by the path asked for and by every
	// folder its resolution went through: name → entry. A folder that is
	// missing (or not a folder) has no entries.
	Dirs map[string]map[string]*llb.FileInfo `json:"dirs"`
	// Files holds the content of each file asked for that exists.
	Files map[string][]byte `json:"files"`
	// Missing lists the files asked for that do not exist, sorted.
	Missing []string `json:"missing"`
}

// RunFacts reads, in the filesystem at root, the folders dirs and the files
// files as the gateway would (symlinks followed, scoped to root), and writes
// the baseFacts to out. A missing folder or file is recorded, not an error.
func RunFacts(root, out string, dirs, files []string) error {
	ctx := context.Background()
	d := &diskFS{root: root, dirs: map[string]map[string]*llb.FileInfo{}}
	facts := baseFacts{Dirs: d.dirs, Files: map[string][]byte{}, Missing: []string{}}
	for _, p := range dirs {
		p = path.Clean(p)
		resolved, err := llb.ResolvePath(ctx, d, p)
		if err != nil {
			return err
		}
		entries, err := d.list(resolved)
		if err != nil {
			return err
		}
		d.dirs[p] = entries
	}
	for _, p := range files {
		resolved, err := llb.ResolvePath(ctx, d, p)
		if err != nil {
			return err
		}
		data, err := readRegular(filepath.Join(root, filepath.FromSlash(resolved)))
		switch {
		case missingOnDisk(err):
			facts.Missing = append(facts.Missing, p)
		case err != nil:
			return err
		default:
			if data == nil {
				data = []byte{}
			}
			facts.Files[p] = data
		}
	}
	slices.Sort(facts.Missing)
	facts.Missing = slices.Compact(facts.Missing)
	data, err := json.Marshal(facts)
	if err != nil {
		return err
	}
	return os.WriteFile(out, data, 0o644)
}

// readRegular reads a regular file. Anything else (a folder, a FIFO, a
// device) is an error rather than a read that fails late or never returns.
func readRegular(p string) ([]byte, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%s)", p, st.Mode().Type())
	}
	return os.ReadFile(p)
}

// diskFS is an llb.BaseFS over a folder, for llb.ResolvePath: it lists the
// folders it is asked about and keeps every listing. It is only asked about
// folders whose parents are resolved, so a listing never follows a link out
// of root.
type diskFS struct {
	root string
	dirs map[string]map[string]*llb.FileInfo
}

func (d *diskFS) Lstat(_ context.Context, p string) (*llb.FileInfo, error) {
	p = path.Clean(p)
	if p == "/" {
		return &llb.FileInfo{Mode: fs.ModeDir | 0o755}, nil
	}
	entries, err := d.list(path.Dir(p))
	if err != nil {
		return nil, err
	}
	return entries[path.Base(p)], nil
}

func (d *diskFS) ReadFile(context.Context, string) ([]byte, error) {
	return nil, errors.New("diskFS reads folders only")
}

// list returns the entries of folder dir (a path without links) and keeps
// them; none when it is missing or not a folder.
func (d *diskFS) list(dir string) (map[string]*llb.FileInfo, error) {
	if entries, ok := d.dirs[dir]; ok {
		return entries, nil
	}
	entries := map[string]*llb.FileInfo{}
	full := filepath.Join(d.root, filepath.FromSlash(dir))
	list, err := os.ReadDir(full)
	if err != nil && !missingOnDisk(err) {
		return nil, err
	}
	for _, e := range list {
		fi, err := lstatInfo(filepath.Join(full, e.Name()))
		if err != nil {
			return nil, err
		}
		entries[e.Name()] = fi
	}
	d.dirs[dir] = entries
	return entries, nil
}

// lstatInfo is what the gateway's ReadDir says of one entry: its Go file
// mode (type bits included), owner and link target.
func lstatInfo(p string) (*llb.FileInfo, error) {
	st, err := os.Lstat(p)
	if err != nil {
		return nil, err
	}
	fi := &llb.FileInfo{Mode: st.Mode()}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		fi.UID, fi.GID = sys.Uid, sys.Gid
	}
	if st.Mode()&fs.ModeSymlink != 0 {
		if fi.Linkname, err = os.Readlink(p); err != nil {
			return nil, err
		}
	}
	return fi, nil
}

// missingOnDisk recognises a path that is not there: missing, or below a file.
func missingOnDisk(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// factsCaps are the LLB capabilities the facts exec needs; without them the
// frontend reads the packages through the gateway, as before.
var factsCaps = []apicaps.CapID{pb.CapExecMetaNetwork, pb.CapExecMountContentCache}

// factsSupported says whether the daemon can run the facts exec.
func factsSupported(caps apicaps.CapSet) bool {
	for _, id := range factsCaps {
		if caps.Supports(id) != nil {
			return false
		}
	}
	return true
}

// factsState is the exec that runs `frontend facts` from the frontend's own
// image (self) on packages, the packages merged, and its output: the facts
// file. The packages are mounted read-only without content-based caching,
// so that the exec's cache key is its definition and its inputs' keys: a
// daemon that imported the exec from a cache answers it without unpacking
// the packages to hash their files. It runs on the frontend's own platform
// (the platform this binary was built for), whatever the image's is, so it
// is the same op in the frontend's solve and in the image's graph.
func factsState(self, packages bkllb.State, dirs, files []string) bkllb.State {
	args := []string{selfBinary, "facts", "--root", factsRoot, "--out", factsOut + factsFile}
	for _, d := range dirs {
		args = append(args, "--dir", d)
	}
	for _, f := range files {
		args = append(args, "--file", f)
	}
	run := self.Run(
		bkllb.Args(args),
		bkllb.Network(bkllb.NetModeNone),
		bkllb.Platform(platforms.DefaultSpec()),
		bkllb.AddMount(factsRoot, packages, bkllb.Readonly, bkllb.ContentCache(bkllb.MountContentCacheOff)),
		bkllb.WithCustomName(fmt.Sprintf("[stagex] read %d folders and %d files of the packages", len(dirs), len(files))),
	)
	return run.AddMount(factsOut, bkllb.Scratch())
}
