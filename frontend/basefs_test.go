package frontend

import (
	"context"
	"errors"
	"io/fs"
	"sync"
	"testing"

	bkllb "github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/gateway/client"
	fstypes "github.com/tonistiigi/fsutil/types"
)

// fakeRef is a solved filesystem: folders by path, files by path, and the
// requests it answered.
type fakeRef struct {
	dirs   map[string][]*fstypes.Stat
	files  map[string][]byte
	failOn map[string]bool // folders whose listing fails (once)

	mu    sync.Mutex
	reads map[string]int
}

func (f *fakeRef) count(p string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads[p]++
}

func (f *fakeRef) ReadDir(_ context.Context, req client.ReadDirRequest) ([]*fstypes.Stat, error) {
	f.count("dir " + req.Path)
	f.mu.Lock()
	fail := f.failOn[req.Path]
	delete(f.failOn, req.Path)
	f.mu.Unlock()
	if fail {
		return nil, errors.New("connection reset")
	}
	if d, ok := f.dirs[req.Path]; ok {
		return d, nil
	}
	return nil, errors.New("open " + req.Path + ": no such file or directory")
}

func (f *fakeRef) ReadFile(_ context.Context, req client.ReadRequest) ([]byte, error) {
	f.count("file " + req.Filename)
	if b, ok := f.files[req.Filename]; ok {
		return b, nil
	}
	return nil, errors.New("open " + req.Filename + ": no such file or directory")
}

func (f *fakeRef) ToState() (bkllb.State, error)  { return bkllb.Scratch(), nil }
func (f *fakeRef) Evaluate(context.Context) error { return nil }
func (f *fakeRef) StatFile(context.Context, client.StatRequest) (*fstypes.Stat, error) {
	return nil, errors.New("not used")
}

// solvedFS is a baseFS whose state is already solved to ref.
func solvedFS(ref client.Reference) *baseFS {
	b := &baseFS{}
	b.once.Do(func() { b.solved = ref })
	return b
}

// A prefetch lists the folders and reads the files once; the Lstat and
// ReadFile calls after it are answered from what it read, a missing file
// included. A listing that failed is not kept: the next Lstat asks again and
// reports its error.
func TestBaseFSPrefetch(t *testing.T) {
	ctx := context.Background()
	ref := &fakeRef{
		dirs: map[string][]*fstypes.Stat{
			"/":    {{Path: "bin", Mode: uint32(fs.ModeSymlink | 0o777), Linkname: "usr/bin"}, {Path: "etc", Mode: uint32(fs.ModeDir | 0o755)}},
			"/etc": {{Path: "passwd", Mode: 0o644}},
			"/usr": {{Path: "bin", Mode: uint32(fs.ModeDir | 0o755)}},
		},
		files:  map[string][]byte{"/etc/passwd": []byte("root:x:0:0::/root:/bin/sh\n")},
		failOn: map[string]bool{"/usr": true},
		reads:  map[string]int{},
	}
	b := solvedFS(ref)
	b.Prefetch(ctx, []string{"/", "/etc", "/usr"}, []string{"/etc/group", "/etc/passwd"})

	if fi, err := b.Lstat(ctx, "/bin"); err != nil || fi == nil || fi.Linkname != "usr/bin" {
		t.Errorf("Lstat /bin = %+v, %v; want the link to usr/bin", fi, err)
	}
	if fi, err := b.Lstat(ctx, "/etc/passwd"); err != nil || fi == nil || !fi.Mode.IsRegular() {
		t.Errorf("Lstat /etc/passwd = %+v, %v", fi, err)
	}
	if dt, err := b.ReadFile(ctx, "/etc/passwd"); err != nil || string(dt) != "root:x:0:0::/root:/bin/sh\n" {
		t.Errorf("ReadFile /etc/passwd = %q, %v", dt, err)
	}
	if dt, err := b.ReadFile(ctx, "/etc/group"); err != nil || dt != nil {
		t.Errorf("ReadFile of a missing file = %q, %v; want nil, nil", dt, err)
	}
	for _, p := range []string{"dir /", "dir /etc", "file /etc/passwd", "file /etc/group"} {
		if ref.reads[p] != 1 {
			t.Errorf("%s read %d times, want once (by the prefetch)", p, ref.reads[p])
		}
	}
	// The failed listing of /usr is asked again, and now answers.
	if fi, err := b.Lstat(ctx, "/usr/bin"); err != nil || fi == nil || !fi.Mode.IsDir() {
		t.Errorf("Lstat /usr/bin = %+v, %v", fi, err)
	}
	if ref.reads["dir /usr"] != 2 {
		t.Errorf("/usr listed %d times, want twice (the failed prefetch, then the Lstat)", ref.reads["dir /usr"])
	}
}
