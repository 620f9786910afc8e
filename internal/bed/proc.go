package bed

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moby/buildkit/client"
)

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:16]
}

// start runs a service in a session of its own (it outlives this process
// and a terminal's signals), output to SVC.log, and saves its pid.
func (b *Bed) start(svc, bin string, args, env []string) error {
	logFile, err := os.Create(b.file(svc + ".log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("bed %s: start %s: %w", b.Name, svc, err)
	}
	// Reap it when it exits while this process still runs (a test, the
	// demo): a zombie would look alive to kill(pid, 0).
	go func() { _ = cmd.Wait() }()
	return b.savePID(svc, cmd.Process.Pid)
}

// startTime is the start time of process pid (field 22 of /proc/PID/stat),
// which tells a process apart from a later one that got the same pid. It
// fails for a process that is gone or a zombie.
func startTime(pid int) (string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", err
	}
	fields, err := statFields(string(data))
	if err != nil {
		return "", err
	}
	if fields[0] == "Z" {
		return "", fmt.Errorf("process %d is a zombie", pid)
	}
	return fields[19], nil
}

// statFields are the fields of a /proc/PID/stat line after "(comm) ",
// starting with field 3 (the state); comm may hold spaces and parentheses.
func statFields(stat string) ([]string, error) {
	i := strings.LastIndex(stat, ") ")
	if i < 0 {
		return nil, errors.New("malformed /proc stat line")
	}
	fields := strings.Fields(stat[i+2:])
	if len(fields) < 20 {
		return nil, errors.New("short /proc stat line")
	}
	return fields, nil
}

// savePID writes "PID STARTTIME" to the service's pid file.
func (b *Bed) savePID(svc string, pid int) error {
	st, err := startTime(pid)
	if err != nil {
		st = "0"
	}
	return os.WriteFile(b.file(svc+".pid"), []byte(fmt.Sprintf("%d %s\n", pid, st)), 0o644)
}

// pidOf is the saved pid of the service if that very process still lives.
func (b *Bed) pidOf(svc string) (int, bool) {
	if b.State == "" {
		return 0, false
	}
	data, err := os.ReadFile(b.file(svc + ".pid"))
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(data))
	if len(f) != 2 {
		return 0, false
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil || pid <= 0 {
		return 0, false
	}
	st, err := startTime(pid)
	if err != nil || st != f[1] {
		return 0, false
	}
	return pid, true
}

func alive(pid int) bool {
	_, err := startTime(pid)
	return err == nil
}

// kill stops pid with TERM, then KILL when it is still there after 10s
// (buildkitd's graceful stop waits for running builds).
func (b *Bed) kill(pid int, label string) {
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return
	}
	if waitGone(pid, 10*time.Second) {
		return
	}
	b.logf("%s (pid %d) still there 10s after TERM; sending KILL", label, pid)
	_ = syscall.Kill(pid, syscall.SIGKILL)
	waitGone(pid, 5*time.Second)
}

func waitGone(pid int, d time.Duration) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if !alive(pid) {
			return true
		}
	}
	return !alive(pid)
}

// process is a process as it was seen: its pid and its start time, so that
// a pid the kernel has since given to another process is left alone.
type process struct {
	pid   int
	start string
}

// descendants are all live descendants of pid (build containers: runc and
// the processes it started), deepest last.
func descendants(pid int) []process {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		fields, err := statFields(string(data))
		if err != nil {
			continue
		}
		if ppid, err := strconv.Atoi(fields[1]); err == nil {
			children[ppid] = append(children[ppid], p)
		}
	}
	var out []process
	for frontier := []int{pid}; len(frontier) > 0; {
		var next []int
		for _, p := range frontier {
			for _, c := range children[p] {
				if st, err := startTime(c); err == nil {
					out = append(out, process{c, st})
				}
			}
			next = append(next, children[p]...)
		}
		frontier = next
	}
	return out
}

// killLeftovers KILLs those of procs still alive (they were children of a
// daemon that was stopped, e.g. build containers). A pid whose start time
// changed is another process now, and is not touched.
func (b *Bed) killLeftovers(procs []process) {
	for _, p := range procs {
		if st, err := startTime(p.pid); err != nil || st != p.start {
			continue
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.pid))
		c := strings.ReplaceAll(string(cmdline), "\x00", " ")
		if len(c) > 60 {
			c = c[:60]
		}
		b.logf("killing leftover process %d (%s)", p.pid, c)
		_ = syscall.Kill(p.pid, syscall.SIGKILL)
	}
}

// unmountAll unmounts every mount at or below the state folder, deepest
// first (lazily when a plain unmount fails).
func (b *Bed) unmountAll() {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		b.logf("could not read mounts: %v", err)
		return
	}
	defer f.Close()
	for _, m := range mountsBelow(f, b.State) {
		if syscall.Unmount(m, 0) != nil && syscall.Unmount(m, syscall.MNT_DETACH) != nil {
			b.logf("could not unmount %s", m)
		}
	}
}

// mountsBelow lists the mount points of a mountinfo table at or below dir,
// longest first.
func mountsBelow(mountinfo io.Reader, dir string) []string {
	var out []string
	s := bufio.NewScanner(mountinfo)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) < 5 {
			continue
		}
		m := unescapeMount(f[4])
		if m == dir || strings.HasPrefix(m, dir+"/") {
			out = append(out, m)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// unescapeMount decodes mountinfo's octal escapes (\040 for a space, …).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				sb.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		sb.WriteByte(s[i])
	}
	return sb.String()
}

// lockFile takes an exclusive flock on path, waiting at most timeout.
func lockFile(ctx context.Context, path string, timeout time.Duration) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(timeout)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("could not take %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// pickPort is the first port from PortBase that nothing listens on and no
// other bed's state claims.
func (b *Bed) pickPort() (int, error) {
	for p := b.opts.PortBase; p < b.opts.PortBase+portRange; p++ {
		if portBusy(p) || b.portClaimed(p) {
			continue
		}
		return p, nil
	}
	return 0, fmt.Errorf("bed %s: no free port in %d..%d (set %s to another range)", b.Name, b.opts.PortBase, b.opts.PortBase+portRange-1, EnvPortBase)
}

func portBusy(p int) bool {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
	if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
		c.Close()
		return true
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return true
	}
	l.Close()
	return false
}

// portClaimed tells whether another bed's state (beside this one) names
// port p.
func (b *Bed) portClaimed(p int) bool {
	files, _ := filepath.Glob(filepath.Join(b.opts.Dir, "*", "registry.port"))
	for _, f := range files {
		if f == b.file("registry.port") {
			continue
		}
		if data, err := os.ReadFile(f); err == nil && strings.TrimSpace(string(data)) == strconv.Itoa(p) {
			return true
		}
	}
	return false
}

func registryReady(ctx context.Context, addr string) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v2/", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func buildkitReady(ctx context.Context, sock, addr string) bool {
	if fi, err := os.Stat(sock); err != nil || fi.Mode()&os.ModeSocket == 0 {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := client.New(ctx, addr)
	if err != nil {
		return false
	}
	defer c.Close()
	ws, err := c.ListWorkers(ctx)
	return err == nil && len(ws) > 0
}

// ensurePackages installs runc (buildkitd's OCI worker runs it) and
// busybox-static (the fixtures copy its /bin/busybox into core-busybox)
// with apt-get when they are missing.
func (b *Bed) ensurePackages(ctx context.Context) error {
	var missing []string
	if _, err := exec.LookPath("runc"); err != nil {
		missing = append(missing, "runc")
	}
	out, _ := exec.CommandContext(ctx, "dpkg-query", "-W", "-f=${Status}", "busybox-static").Output()
	if !strings.Contains(string(out), "ok installed") {
		missing = append(missing, "busybox-static")
	}
	if len(missing) == 0 {
		return nil
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return fmt.Errorf("bed %s: missing %s and no apt-get to install them", b.Name, strings.Join(missing, " "))
	}
	b.logf("installing %s with apt-get", strings.Join(missing, " "))
	for _, args := range [][]string{{"update", "-qq"}, append([]string{"install", "-y", "-qq", "--no-install-recommends"}, missing...)} {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = b.opts.Log, b.opts.Log
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("bed %s: apt-get %s: %w", b.Name, args[0], err)
		}
	}
	return nil
}
