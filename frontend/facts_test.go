package frontend

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/llb"
	bkllb "github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/solver/pb"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	fstypes "github.com/tonistiigi/fsutil/types"
)

// factsRootfs writes a small merged-/usr tree: links relative, absolute and
// climbing out of the root, a sticky folder, and a file of another owner.
func factsRootfs(t *testing.T) string {
	t.Helper()
	if os.Getuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("the facts test gives files other owners, which needs root; CI runs as root")
		}
		t.Skip("the facts test gives files other owners, which needs root")
	}
	root := t.TempDir()
	for _, d := range []string{"etc", "usr/bin", "usr/lib", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, data string) {
		if err := os.WriteFile(filepath.Join(root, p), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("etc/passwd", "root:x:0:0::/root:/bin/sh\n")
	write("usr/bin/busybox", "")
	write("usr/lib/ld-musl-x86_64.so.1", "loader")
	for link, target := range map[string]string{"bin": "usr/bin", "lib": "/usr/lib", "esc": "../../../etc"} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(root, "tmp"), fs.ModeSticky|0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(root, "etc/passwd"), 1000, 1001); err != nil {
		t.Fatal(err)
	}
	return root
}

// RunFacts lists folders and reads files as the gateway would: entries with
// their type bits, owners and link targets, links followed inside the root
// only, a missing folder empty and a missing file recorded as missing.
func TestRunFacts(t *testing.T) {
	root := factsRootfs(t)
	out := filepath.Join(t.TempDir(), "facts.json")
	err := RunFacts(root, out, []string{"/", "/bin", "/lib", "/missing/deeper", "/etc/passwd"},
		[]string{"/etc/passwd", "/etc/group", "/lib/ld-musl-x86_64.so.1", "/esc/passwd", "/bin/busybox"})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var f baseFacts
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	want := func(dir, name string, w llb.FileInfo) {
		t.Helper()
		got := f.Dirs[dir][name]
		if got == nil || *got != w {
			t.Errorf("%s in %s = %+v, want %+v", name, dir, got, w)
		}
	}
	want("/", "bin", llb.FileInfo{Mode: fs.ModeSymlink | 0o777, Linkname: "usr/bin"})
	want("/", "lib", llb.FileInfo{Mode: fs.ModeSymlink | 0o777, Linkname: "/usr/lib"})
	want("/", "tmp", llb.FileInfo{Mode: fs.ModeDir | fs.ModeSticky | 0o777})
	want("/etc", "passwd", llb.FileInfo{Mode: 0o644, UID: 1000, GID: 1001})
	want("/bin", "busybox", llb.FileInfo{Mode: 0o644})             // /usr/bin, through the link
	want("/usr", "bin", llb.FileInfo{Mode: fs.ModeDir | 0o755})    // the resolution went through /usr
	want("/lib", "ld-musl-x86_64.so.1", llb.FileInfo{Mode: 0o644}) // an absolute link, inside the root
	for _, d := range []string{"/missing/deeper", "/etc/passwd"} {
		if entries, ok := f.Dirs[d]; !ok || len(entries) != 0 {
			t.Errorf("folder %s = %v (listed: %v), want listed and empty", d, entries, ok)
		}
	}
	wantFiles := map[string]string{
		"/etc/passwd":              "root:x:0:0::/root:/bin/sh\n",
		"/lib/ld-musl-x86_64.so.1": "loader",
		"/esc/passwd":              "root:x:0:0::/root:/bin/sh\n", // ../../../etc stays in the root
		"/bin/busybox":             "",
	}
	for p, w := range wantFiles {
		if got, ok := f.Files[p]; !ok || string(got) != w {
			t.Errorf("file %s = %q (%v), want %q", p, got, ok, w)
		}
	}
	if !slices.Equal(f.Missing, []string{"/etc/group"}) {
		t.Errorf("missing = %v, want [/etc/group]", f.Missing)
	}
}

// factsClient is a gateway client that answers the facts exec by running
// RunFacts on root with the exec's own arguments, and any other solve (the
// packages merged, for a read Prefetch did not name) with merged.
type factsClient struct {
	client.Client
	t      *testing.T
	root   string
	merged *fakeRef

	mu          sync.Mutex
	execs       []*pb.ExecOp
	mergeSolves int
}

func (c *factsClient) BuildOpts() client.BuildOpts {
	return client.BuildOpts{LLBCaps: pb.Caps.CapSet(pb.Caps.All())}
}

func (c *factsClient) Solve(_ context.Context, req client.SolveRequest) (*client.Result, error) {
	var exec *pb.ExecOp
	for _, dt := range req.Definition.Def {
		var op pb.Op
		if err := op.UnmarshalVT(dt); err != nil {
			return nil, err
		}
		if e := op.GetExec(); e != nil {
			exec = e
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if exec == nil {
		c.mergeSolves++
		res := client.NewResult()
		res.SetRef(c.merged)
		return res, nil
	}
	c.execs = append(c.execs, exec)
	var dirs, files []string
	args := exec.Meta.Args
	for i := 2; i+1 < len(args); i += 2 {
		switch args[i] {
		case "--dir":
			dirs = append(dirs, args[i+1])
		case "--file":
			files = append(files, args[i+1])
		}
	}
	out := filepath.Join(c.t.TempDir(), "facts.json")
	if err := RunFacts(c.root, out, dirs, files); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	res := client.NewResult()
	res.SetRef(&fakeRef{files: map[string][]byte{factsFile: data}, reads: map[string]int{}})
	return res, nil
}

// With the frontend's own image at hand, a prefetch is one facts exec on
// the packages (read-only, without content-based caching, no network), and
// the reads it named are answered from its facts without solving the
// packages; the exec is what ReadOps hands Compose to fold. A read it did
// not name is still answered, through the gateway.
func TestBaseFSFromFacts(t *testing.T) {
	ctx := context.Background()
	c := &factsClient{t: t, root: factsRootfs(t), merged: &fakeRef{
		dirs:  map[string][]*fstypes.Stat{"/opt": {{Path: "app", Mode: uint32(fs.ModeDir | 0o700), Uid: 7}}},
		reads: map[string]int{},
	}}
	self := bkllb.Image("frontend.test/self")
	b := &baseFS{c: c, st: bkllb.Image("packages.test/merged"), p: ocispecs.Platform{OS: "linux", Architecture: "amd64"}, self: &self}
	b.Prefetch(ctx, []string{"/", "/bin", "/etc"}, []string{"/etc/group", "/etc/passwd"})

	if fi, err := b.Lstat(ctx, "/bin"); err != nil || fi == nil || fi.Linkname != "usr/bin" {
		t.Errorf("Lstat /bin = %+v, %v; want the link to usr/bin", fi, err)
	}
	if fi, err := b.Lstat(ctx, "/etc/passwd"); err != nil || fi == nil || fi.UID != 1000 || fi.GID != 1001 {
		t.Errorf("Lstat /etc/passwd = %+v, %v; want owner 1000:1001", fi, err)
	}
	if names, err := b.ReadDir(ctx, "/bin"); err != nil || !slices.Equal(names, []string{"busybox"}) {
		t.Errorf("ReadDir /bin = %v, %v", names, err)
	}
	if dt, err := b.ReadFile(ctx, "/etc/passwd"); err != nil || string(dt) != "root:x:0:0::/root:/bin/sh\n" {
		t.Errorf("ReadFile /etc/passwd = %q, %v", dt, err)
	}
	if dt, err := b.ReadFile(ctx, "/etc/group"); err != nil || dt != nil {
		t.Errorf("ReadFile of a missing file = %q, %v; want nil, nil", dt, err)
	}
	if len(c.execs) != 1 || c.mergeSolves != 0 {
		t.Fatalf("%d facts execs and %d solves of the packages; want one exec and no solve", len(c.execs), c.mergeSolves)
	}
	if ops := b.ReadOps(); len(ops) != 1 {
		t.Errorf("ReadOps = %d ops, want the one facts exec", len(ops))
	}
	e := c.execs[0]
	if e.Network != pb.NetMode_NONE {
		t.Errorf("the facts exec has network %v, want none", e.Network)
	}
	var rootfs *pb.Mount
	for _, m := range e.Mounts {
		if m.Dest == factsRoot {
			rootfs = m
		}
	}
	if rootfs == nil || !rootfs.Readonly || rootfs.ContentCache != pb.MountContentCache_OFF || rootfs.Selector != "" {
		t.Errorf("the packages' mount is %v, want read-only, the whole merge, without content-based caching", rootfs)
	}

	// Not named by the prefetch: read through the gateway.
	if fi, err := b.Lstat(ctx, "/opt/app"); err != nil || fi == nil || fi.UID != 7 || !fi.Mode.IsDir() {
		t.Errorf("Lstat /opt/app = %+v, %v; want the gateway's answer", fi, err)
	}
	if c.mergeSolves != 1 || len(c.execs) != 1 {
		t.Errorf("after an unannounced read: %d solves of the packages, %d execs; want 1 and 1", c.mergeSolves, len(c.execs))
	}
}

// A file asked for that is a FIFO or a folder fails the facts run rather
// than blocking it or reading garbage; the frontend then reads through the
// gateway, which reports it.
func TestRunFactsRefusesSpecialFiles(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc", "group"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(root, "etc", "passwd"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"/etc/passwd", "/etc/group"} {
		done := make(chan error, 1)
		go func() { done <- RunFacts(root, filepath.Join(t.TempDir(), "facts.json"), nil, []string{f}) }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "not a regular file") {
				t.Errorf("RunFacts(%s) = %v, want a not-a-regular-file error", f, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("RunFacts(%s) blocked", f)
		}
	}
}
