package frontend

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"

	"edp.buildth.ing/devfw-cicd/stagex/llb"
	bkllb "github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/gateway/client"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// baseFS reads the files of a state through the gateway: the packages
// merged (llb.Packages), what the archives and the generated layer lie on,
// so that llb can refuse an entry that would replace a link or a file any
// package holds, not only the base's; the generated layer, for CheckCopies;
// a build context, for the copies' sources. It is solved on first use only, so an image that
// llb.Compose needs nothing of it for (no generated layer, no archive, no
// config.user name to look up) never pulls the packages into the frontend.
//
// For the packages (self set), Prefetch reads instead with an exec of the
// frontend's own image (factsState), which a cache records; what Prefetch
// did not name is still read through the gateway.
type baseFS struct {
	c  client.Client
	st bkllb.State
	p  ocispecs.Platform
	// self is the frontend's own image, when the facts exec may read st.
	self *bkllb.State

	once   sync.Once
	solved client.Reference
	err    error

	mu    sync.Mutex
	dirs  map[string]map[string]*llb.FileInfo // directory → name → entry
	files map[string][]byte                   // prefetched files (nil: missing)
	ops   []bkllb.State                       // the facts execs answers came from
}

var (
	_ llb.LayerFS    = (*baseFS)(nil)
	_ llb.Prefetcher = (*baseFS)(nil)
	_ llb.ReadOps    = (*baseFS)(nil)
)

// Prefetch reads the folders and files at once: with one facts exec when
// self is set, else each request in a goroutine of its own through the
// gateway (one round trip's wait instead of one per path). When the exec
// fails, the gateway reads, which report their own errors.
func (b *baseFS) Prefetch(ctx context.Context, dirs, files []string) {
	if b.self != nil && b.prefetchFacts(ctx, dirs, files) == nil {
		return
	}
	ref, err := b.solve(ctx)
	if err != nil {
		return // the reads that follow report it
	}
	var wg sync.WaitGroup
	for _, d := range dirs {
		wg.Go(func() { b.list(ctx, ref, path.Clean(d)) })
	}
	for _, f := range files {
		wg.Go(func() {
			dt, err := b.readFile(ctx, ref, f)
			if err != nil {
				return
			}
			b.keepFile(f, dt)
		})
	}
	wg.Wait()
}

// prefetchFacts solves the facts exec for dirs and files and keeps what it
// read, and the exec, for ReadOps.
func (b *baseFS) prefetchFacts(ctx context.Context, dirs, files []string) error {
	st := factsState(*b.self, b.st, dirs, files)
	ref, err := solveRef(ctx, b.c, st, bkllb.Platform(b.p))
	if err != nil {
		return err
	}
	data, err := ref.ReadFile(ctx, client.ReadRequest{Filename: factsFile})
	if err != nil {
		return err
	}
	var facts baseFacts
	if err := json.Unmarshal(data, &facts); err != nil {
		return fmt.Errorf("the base facts: %w", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dirs == nil {
		b.dirs = map[string]map[string]*llb.FileInfo{}
	}
	for d, entries := range facts.Dirs {
		if entries == nil {
			entries = map[string]*llb.FileInfo{}
		}
		b.dirs[d] = entries
	}
	if b.files == nil {
		b.files = map[string][]byte{}
	}
	for f, dt := range facts.Files {
		if dt == nil {
			dt = []byte{}
		}
		b.files[f] = dt
	}
	for _, f := range facts.Missing {
		b.files[f] = nil
	}
	b.ops = append(b.ops, st)
	return nil
}

// ReadOps returns the facts execs the answers came from (llb.ReadOps).
func (b *baseFS) ReadOps() []bkllb.State {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.ops)
}

func (b *baseFS) keepFile(f string, dt []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.files == nil {
		b.files = map[string][]byte{}
	}
	b.files[f] = dt
}

func (b *baseFS) solve(ctx context.Context) (client.Reference, error) {
	b.once.Do(func() {
		b.solved, b.err = solveRef(ctx, b.c, b.st, bkllb.Platform(b.p))
	})
	return b.solved, b.err
}

// Lstat lists the parent directory rather than stat-ing the path: the
// gateway's StatFile follows symlinks in every component, the last one
// included, and the composition needs to see the links themselves (/bin ->
// usr/bin). Listings are cached per directory.
func (b *baseFS) Lstat(ctx context.Context, p string) (*llb.FileInfo, error) {
	p = path.Clean(p)
	dir, name := path.Dir(p), path.Base(p)
	if p == "/" {
		return &llb.FileInfo{Mode: fs.ModeDir | 0o755}, nil
	}
	entries, err := b.listing(ctx, dir)
	if err != nil {
		return nil, err
	}
	return entries[name], nil
}

// ReadDir returns the names in folder p, sorted.
func (b *baseFS) ReadDir(ctx context.Context, p string) ([]string, error) {
	entries, err := b.listing(ctx, path.Clean(p))
	if err != nil {
		return nil, err
	}
	return slices.Sorted(maps.Keys(entries)), nil
}

// listing returns the entries of folder dir: as prefetched, else listed
// through the gateway (solving the state first).
func (b *baseFS) listing(ctx context.Context, dir string) (map[string]*llb.FileInfo, error) {
	b.mu.Lock()
	entries, ok := b.dirs[dir]
	b.mu.Unlock()
	if ok {
		return entries, nil
	}
	ref, err := b.solve(ctx)
	if err != nil {
		return nil, err
	}
	return b.list(ctx, ref, dir)
}

// list returns the entries of folder dir by name, listing it once (the
// lock is not held while listing, so that a prefetch lists in parallel).
func (b *baseFS) list(ctx context.Context, ref client.Reference, dir string) (map[string]*llb.FileInfo, error) {
	b.mu.Lock()
	entries, ok := b.dirs[dir]
	b.mu.Unlock()
	if ok {
		return entries, nil
	}
	list, err := ref.ReadDir(ctx, client.ReadDirRequest{Path: dir})
	if err != nil && !isNotExist(err) {
		return nil, err
	}
	entries = map[string]*llb.FileInfo{}
	for _, st := range list {
		entries[path.Base(st.Path)] = &llb.FileInfo{Mode: fs.FileMode(st.Mode), UID: st.Uid, GID: st.Gid, Linkname: st.Linkname}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dirs == nil {
		b.dirs = map[string]map[string]*llb.FileInfo{}
	}
	b.dirs[dir] = entries
	return entries, nil
}

func (b *baseFS) ReadFile(ctx context.Context, p string) ([]byte, error) {
	b.mu.Lock()
	dt, ok := b.files[p]
	b.mu.Unlock()
	if ok {
		return dt, nil
	}
	ref, err := b.solve(ctx)
	if err != nil {
		return nil, err
	}
	return b.readFile(ctx, ref, p)
}

// readFile reads p from the solved ref; nil, nil when it is missing.
func (b *baseFS) readFile(ctx context.Context, ref client.Reference, p string) ([]byte, error) {
	dt, err := ref.ReadFile(ctx, client.ReadRequest{Filename: p})
	if err != nil {
		if isNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	return dt, nil
}

// isNotExist recognises a missing file. The gateway sends the daemon's
// error as text, so the errno is only visible in the message.
func isNotExist(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "no such file or directory") || strings.Contains(msg, "not a directory")
}
