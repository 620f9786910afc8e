package bed

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func testBed(t *testing.T, name string) *Bed {
	t.Helper()
	b, err := Open(name, Options{Dir: t.TempDir(), PortBase: 7190, Log: &bytes.Buffer{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(b.State, 0o755); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestOpenRejectsBadNames(t *testing.T) {
	for _, n := range []string{"", "-a", "a/b", "..", "a b"} {
		if _, err := Open(n, Options{Dir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "bad bed name") {
			t.Errorf("Open(%q) = %v, want a bad-name error", n, err)
		}
	}
}

// A state folder too long for a unix socket path gets its sockets under
// /run, in a folder named after the state folder.
func TestSockDir(t *testing.T) {
	short := "/work/x/.cache/bed/a"
	if got := sockDir(short); got != short {
		t.Errorf("sockDir(%q) = %q", short, got)
	}
	long := "/" + strings.Repeat("d", 90) + "/.cache/bed/a"
	got := sockDir(long)
	if !strings.HasPrefix(got, shortSockRoot+"/") || len(filepath.Base(got)) != 16 {
		t.Errorf("sockDir(long) = %q", got)
	}
	if got == sockDir(long+"b") {
		t.Errorf("two state folders share the socket folder %s", got)
	}
}

// A pid is trusted only with its process start time: a pid file of a
// process that is gone, or whose pid another process got, says stopped.
func TestPidFile(t *testing.T) {
	b := testBed(t, "p")
	if err := b.savePID("registry", os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if pid, ok := b.pidOf("registry"); !ok || pid != os.Getpid() {
		t.Fatalf("pidOf = %d, %v; want this process", pid, ok)
	}
	st, _ := startTime(os.Getpid())
	if err := os.WriteFile(b.file("registry.pid"), []byte(strconv.Itoa(os.Getpid())+" 1"+st+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.pidOf("registry"); ok {
		t.Error("pid with another start time counted as running")
	}
	if _, ok := b.pidOf("buildkitd"); ok {
		t.Error("missing pid file counted as running")
	}
	s := b.Status()
	if s.Up() {
		t.Error("Status().Up() with no service running")
	}
}

func TestStatFields(t *testing.T) {
	line := "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 10\n"
	f, err := statFields(line)
	if err != nil {
		t.Fatal(err)
	}
	if f[0] != "S" || f[1] != "1" || f[19] != "98765" {
		t.Errorf("state %q ppid %q start %q", f[0], f[1], f[19])
	}
	if _, err := statFields("4242 (x) S 1"); err == nil {
		t.Error("short line accepted")
	}
}

func TestMountsBelow(t *testing.T) {
	info := strings.Join([]string{
		`36 35 98:0 / /mnt/state rw - ext3 /dev/root rw`,
		`37 36 0:5 / /mnt/state/buildkit/a rw - overlay overlay rw`,
		`38 36 0:5 / /mnt/state/buildkit/a/b\040c rw - overlay overlay rw`,
		`39 1 0:5 / /mnt/state2 rw - tmpfs tmpfs rw`,
		`40 1 0:5 / /mnt rw - tmpfs tmpfs rw`,
	}, "\n")
	got := mountsBelow(strings.NewReader(info), "/mnt/state")
	want := []string{"/mnt/state/buildkit/a/b c", "/mnt/state/buildkit/a", "/mnt/state"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("mountsBelow = %q, want %q", got, want)
	}
}

// A port in use, and a port another bed's state claims, are skipped.
func TestPickPort(t *testing.T) {
	b := testBed(t, "a")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := l.Addr().(*net.TCPAddr).Port
	b.opts.PortBase = busy
	other := filepath.Join(b.opts.Dir, "b")
	if err := os.MkdirAll(other, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "registry.port"), []byte(strconv.Itoa(busy+1)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Its own claim does not count against it.
	if err := os.WriteFile(b.file("registry.port"), []byte(strconv.Itoa(busy+2)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := b.pickPort()
	if err != nil {
		t.Fatal(err)
	}
	if p <= busy+1 {
		t.Errorf("pickPort = %d; %d is busy and %d claimed by bed b", p, busy, busy+1)
	}
}

func TestWriteExports(t *testing.T) {
	var out bytes.Buffer
	err := WriteExports(&out, [][2]string{
		{EnvBuildkitAddr, "unix:///x/y.sock"},
		{EnvBuildxConfig, "/a b/it's"},
		{EnvToolsBin, "/tools/bin"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "export STAGEX_BUILDKIT_ADDR=unix:///x/y.sock\n" +
		"export BUILDX_CONFIG='/a b/it'\\''s'\n" +
		"export STAGEX_TOOLS_BIN=/tools/bin\n" +
		"export PATH=/tools/bin:\"$PATH\"\n"
	if out.String() != want {
		t.Errorf("WriteExports:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestEnvNeedsARunningBed(t *testing.T) {
	b := testBed(t, "e")
	if _, err := b.Env(t.Context()); err == nil || !strings.Contains(err.Error(), "hack/bed up e") {
		t.Errorf("Env of a bed that never picked a port: %v", err)
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv(EnvBuildkitAddr, "unix:///s")
	t.Setenv(EnvRegistryAddr, "")
	if _, err := FromEnv(); err != ErrNoBed {
		t.Errorf("FromEnv without a registry: %v", err)
	}
	t.Setenv(EnvRegistryAddr, "127.0.0.1:7100")
	t.Setenv(EnvName, "a")
	b, err := FromEnv()
	if err != nil || b.Name != "a" || b.Ref("/x/y:1") != "127.0.0.1:7100/x/y:1" {
		t.Fatalf("FromEnv = %+v, %v", b, err)
	}
	if err := b.Down(); err == nil {
		t.Error("a bed from the environment was taken down")
	}
	t.Setenv(EnvBuildkitAddr+"_2", "unix:///t")
	t.Setenv(EnvRegistryAddr+"_2", "")
	if _, err := SecondFromEnv(); err == nil {
		t.Error("SecondFromEnv without its registry: no error")
	}
}

// A leftover whose pid now belongs to another process (another start time)
// is not killed; the process seen at stop time is.
func TestKillLeftoversChecksStartTime(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer cmd.Process.Kill()
	pid := cmd.Process.Pid
	st, err := startTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	b := testBed(t, "k")
	b.killLeftovers([]process{{pid, st + "1"}})
	select {
	case err := <-done:
		t.Fatalf("a pid with another start time was killed: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	b.killLeftovers([]process{{pid, st}})
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "killed") {
			t.Errorf("sleep ended with %v, want killed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the leftover seen at stop time was not killed")
	}
}

// Up waits for the bed's own lock, which another up or down of the same
// bed holds, and starts nothing meanwhile.
func TestUpWaitsForTheBedsLock(t *testing.T) {
	dir := t.TempDir()
	b, err := Open("l", Options{Dir: dir, PortBase: 7190, Log: &bytes.Buffer{}})
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := b.lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := Up(ctx, "l", Options{Dir: dir, PortBase: 7190, Log: &bytes.Buffer{}}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Up while the bed's lock is held = %v, want it to wait until the context ends", err)
	}
	if _, err := os.Stat(b.State); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Up started the bed while the lock was held: %v", err)
	}
}
