// Package bed owns a local BuildKit test bed: an embedded buildkitd (OCI
// worker, runc, overlayfs, run as root) and a distribution registry, both on
// loopback only. Integration tests, the demo, the image set, the benchmarks,
// `stagex bed` and the thin hack/bed wrapper all start and stop beds here.
//
// A bed keeps its state in Options.Dir/NAME (default <repo>/.cache/bed/NAME):
// buildkitd.sock, buildkitd.toml, registry.yml, registry.port, *.pid (pid and
// process start time), *.log, buildkit/ (daemon root), registry/ (storage),
// buildx/ (a buildx configuration holding a remote-driver builder for the
// bed). Several beds run side by side; each picks a free registry port from
// Options.PortBase upwards, skipping the ports other beds' state claims.
//
// Up is idempotent: a running bed is left alone, a half-started one is
// cleaned first. Down stops the services by their saved pids (a pid is only
// trusted together with its process start time), kills leftover build
// containers, unmounts what the daemon left mounted below the state folder,
// and removes the state unless Options.Keep.
//
// A test reads the bed it runs against from the environment (FromEnv):
// hack/test-integration exports it.
package bed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/internal/repo"
	"edp.buildth.ing/devfw-cicd/stagex/internal/solve"
	"github.com/moby/buildkit/client"
)

// Environment variables that configure a bed (see Options).
const (
	EnvDir      = "BED_DIR"
	EnvPortBase = "BED_PORT_BASE"
	EnvTimeout  = "BED_TIMEOUT"
	EnvKeep     = "KEEP"
)

// Defaults of Options.
const (
	DefaultPortBase = 5000
	DefaultTimeout  = 60 * time.Second
	// portRange is how many ports from PortBase are tried.
	portRange = 200
	// maxStateLen is the longest state folder that keeps its sockets: a
	// unix socket path must fit in 108 bytes.
	maxStateLen = 80
	// shortSockRoot holds the sockets of beds with a longer state path.
	shortSockRoot = "/run/stagex-bed"
)

// Options configure Up, Open and Down. Zero fields take their defaults from
// the environment, then from the constants above.
type Options struct {
	// Dir holds the beds' state folders, Dir/NAME. Default $BED_DIR, else
	// <repo>/.cache/bed (the repository the working directory is in).
	Dir string
	// PortBase is the first registry port tried. Default $BED_PORT_BASE,
	// else 5000.
	PortBase int
	// Timeout bounds the start-up of each service. Default $BED_TIMEOUT
	// (seconds), else 60s.
	Timeout time.Duration
	// ToolsBin is the folder with the pinned buildkitd, registry and buildx.
	// Default $STAGEX_TOOLS_BIN, else what hack/tools.sh prints (it builds
	// them the first time).
	ToolsBin string
	// Keep leaves the state folder in place on Down.
	Keep bool
	// Log receives progress lines ("[bed NAME] …"). Default os.Stderr.
	Log io.Writer
}

// Bed is one test bed.
type Bed struct {
	// Name is the bed's name ("a", "demo"); empty for a bed read from the
	// environment without STAGEX_BED_NAME.
	Name string
	// BuildkitAddr is the daemon's address, unix://…/buildkitd.sock.
	BuildkitAddr string
	// RegistryAddr is the registry's host:port on loopback (plain HTTP),
	// e.g. 127.0.0.1:5000; empty while the bed is not up.
	RegistryAddr string
	// State is the state folder; empty for a bed read from the environment
	// (it cannot be taken down from here).
	State string

	sockDir string
	opts    Options
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// Open returns the bed NAME as its state describes it, without starting or
// stopping anything: RegistryAddr is set when the bed has picked a port.
func Open(name string, opts Options) (*Bed, error) {
	if !nameRE.MatchString(name) {
		return nil, fmt.Errorf("bad bed name %q: letters, digits, '_', '.', '-', starting with a letter or digit", name)
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	state := filepath.Join(opts.Dir, name)
	b := &Bed{Name: name, State: state, sockDir: sockDir(state), opts: opts}
	b.BuildkitAddr = "unix://" + b.sock()
	if p, err := b.port(); err == nil {
		b.RegistryAddr = "127.0.0.1:" + strconv.Itoa(p)
	}
	return b, nil
}

// Up starts the bed NAME and returns it once both services answer. A
// running bed is reused as it is. On failure everything started is stopped
// again and the error quotes the end of the failing service's log.
func Up(ctx context.Context, name string, opts Options) (*Bed, error) {
	b, err := Open(name, opts)
	if err != nil {
		return nil, err
	}
	unlock, err := b.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := b.up(ctx); err != nil {
		return nil, err
	}
	return b, nil
}

// lock takes the bed's own lock, so that two `up NAME` (or an up and a
// down) at the same time do not both start, or stop, the same bed: the
// second waits and then finds the bed up (or gone). It lies beside the state
// folder, which Down removes. Starting a bed may build the tools first, so
// the wait is long; ctx ends it.
func (b *Bed) lock(ctx context.Context) (func(), error) {
	return lockFile(ctx, filepath.Join(b.opts.Dir, "."+b.Name+".lock"), 30*time.Minute)
}

func (o Options) withDefaults() (Options, error) {
	if o.Log == nil {
		o.Log = os.Stderr
	}
	if o.Dir == "" {
		o.Dir = os.Getenv(EnvDir)
	}
	if o.Dir == "" {
		root, err := repo.Root()
		if err != nil {
			return o, fmt.Errorf("%w; set %s to a folder for the beds' state", err, EnvDir)
		}
		o.Dir = filepath.Join(root, ".cache", "bed")
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return o, err
	}
	o.Dir = dir
	if o.PortBase == 0 {
		o.PortBase = DefaultPortBase
		if v := os.Getenv(EnvPortBase); v != "" {
			p, err := strconv.Atoi(v)
			if err != nil || p < 1 || p+portRange > 65536 {
				return o, fmt.Errorf("%s=%q: want a port number below %d", EnvPortBase, v, 65536-portRange)
			}
			o.PortBase = p
		}
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
		if v := os.Getenv(EnvTimeout); v != "" {
			s, err := strconv.Atoi(v)
			if err != nil || s < 1 {
				return o, fmt.Errorf("%s=%q: want a number of seconds", EnvTimeout, v)
			}
			o.Timeout = time.Duration(s) * time.Second
		}
	}
	return o, nil
}

// sockDir is where a bed keeps its sockets: the state folder, or for a
// deep checkout a short folder under /run named after the state folder
// (a unix socket path must fit in 108 bytes).
func sockDir(state string) string {
	if len(state) <= maxStateLen {
		return state
	}
	return filepath.Join(shortSockRoot, shortHash(state))
}

func (b *Bed) sock() string     { return filepath.Join(b.sockDir, "buildkitd.sock") }
func (b *Bed) otelSock() string { return filepath.Join(b.sockDir, "otel-grpc.sock") }
func (b *Bed) file(n string) string {
	return filepath.Join(b.State, n)
}

// port is the registry port the bed picked.
func (b *Bed) port() (int, error) {
	data, err := os.ReadFile(b.file("registry.port"))
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(data)))
}

func (b *Bed) logf(format string, args ...any) {
	fmt.Fprintf(b.opts.Log, "[bed %s] %s\n", b.Name, fmt.Sprintf(format, args...))
}

// Client connects to the bed's buildkitd.
func (b *Bed) Client(ctx context.Context) (*client.Client, error) {
	return client.New(ctx, b.BuildkitAddr)
}

// Ref is <registry>/<repo> on the bed's registry.
func (b *Bed) Ref(repo string) string { return b.RegistryAddr + "/" + strings.TrimPrefix(repo, "/") }

// services are the bed's processes, in the order they start.
var services = []string{"registry", "buildkitd"}

// Service is the state of one of the bed's processes.
type Service struct {
	Name    string
	PID     int // 0 when stopped
	Running bool
}

// Status is what `stagex bed status` reports.
type Status struct {
	Services     []Service // buildkitd, registry
	BuildkitAddr string
	RegistryAddr string // empty when no port was picked
	State        string
}

// Up tells whether every service runs.
func (s Status) Up() bool {
	for _, svc := range s.Services {
		if !svc.Running {
			return false
		}
	}
	return true
}

// Status reports whether the bed's services run.
func (b *Bed) Status() Status {
	s := Status{BuildkitAddr: b.BuildkitAddr, RegistryAddr: b.RegistryAddr, State: b.State}
	for _, name := range []string{"buildkitd", "registry"} {
		pid, ok := b.pidOf(name)
		s.Services = append(s.Services, Service{Name: name, PID: pid, Running: ok})
	}
	return s
}

// WriteTo prints the status as `stagex bed status` does.
func (s Status) WriteTo(w io.Writer) (int64, error) {
	var sb strings.Builder
	for _, svc := range s.Services {
		if svc.Running {
			fmt.Fprintf(&sb, "%-9s running (pid %d)\n", svc.Name, svc.PID)
		} else {
			fmt.Fprintf(&sb, "%-9s stopped\n", svc.Name)
		}
	}
	if s.RegistryAddr != "" {
		fmt.Fprintf(&sb, "registry  %s\n", s.RegistryAddr)
	}
	fmt.Fprintf(&sb, "buildkit  %s\n", s.BuildkitAddr)
	fmt.Fprintf(&sb, "state     %s\n", s.State)
	n, err := io.WriteString(w, sb.String())
	return int64(n), err
}

// ErrNotUp tells that a bed has not been started.
var ErrNotUp = errors.New("bed is not up")

func (b *Bed) needRoot(what string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%s bed %s: must run as root (buildkitd with runc and overlayfs needs it); try: sudo hack/bed %s %s", what, b.Name, what, b.Name)
	}
	return nil
}

func (b *Bed) up(ctx context.Context) (err error) {
	if b.State == "" {
		return fmt.Errorf("bed %s: read from the environment, cannot be started here", b.Name)
	}
	if err := b.needRoot("up"); err != nil {
		return err
	}
	if b.Status().Up() {
		b.logf("already up (%s)", b.State)
		return b.ensureBuilder(ctx)
	}
	if _, err := os.Stat(b.State); err == nil {
		b.logf("cleaning a half-started bed")
		b.stopAll()
	}
	if err := b.ensurePackages(ctx); err != nil {
		return err
	}
	bin, err := ToolsBin(ctx, b.opts.ToolsBin, b.opts.Log)
	if err != nil {
		return err
	}
	b.opts.ToolsBin = bin
	for _, d := range []string{b.file("buildkit"), b.file("registry"), b.file("tmp"), b.sockDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(b.file("tools.bin"), []byte(bin+"\n"), 0o644); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			b.stopAll()
		}
	}()
	if err := b.startRegistry(ctx, bin); err != nil {
		return err
	}
	if err := b.startBuildkitd(ctx, bin); err != nil {
		return err
	}
	if err := b.ensureBuilder(ctx); err != nil {
		return err
	}
	b.logf("up: buildkitd %s, registry %s (state %s)", b.BuildkitAddr, b.RegistryAddr, b.State)
	return nil
}

// startRegistry picks the port and starts the registry under one lock, so
// that beds started at the same time do not pick the same port.
func (b *Bed) startRegistry(ctx context.Context, bin string) error {
	unlock, err := lockFile(ctx, filepath.Join(b.opts.Dir, ".bed.lock"), b.opts.Timeout)
	if err != nil {
		return err
	}
	defer unlock()
	port, err := b.pickPort()
	if err != nil {
		return err
	}
	if err := os.WriteFile(b.file("registry.port"), []byte(strconv.Itoa(port)+"\n"), 0o644); err != nil {
		return err
	}
	b.RegistryAddr = "127.0.0.1:" + strconv.Itoa(port)
	if err := b.writeConfigs(port); err != nil {
		return err
	}
	b.logf("starting registry on %s", b.RegistryAddr)
	if err := b.start("registry", filepath.Join(bin, "registry"), []string{"serve", b.file("registry.yml")}, nil); err != nil {
		return err
	}
	return b.waitFor(ctx, "registry", func(ctx context.Context) bool { return registryReady(ctx, b.RegistryAddr) })
}

func (b *Bed) startBuildkitd(ctx context.Context, bin string) error {
	b.logf("starting buildkitd on %s", b.BuildkitAddr)
	_ = os.Remove(b.sock())
	args := []string{
		"--root", b.file("buildkit"),
		"--addr", b.BuildkitAddr,
		"--config", b.file("buildkitd.toml"),
		"--oci-worker=true",
		"--containerd-worker=false",
		"--oci-worker-snapshotter=overlayfs",
		"--oci-worker-net=host",
	}
	if err := b.start("buildkitd", filepath.Join(bin, "buildkitd"), args, []string{"TMPDIR=" + b.file("tmp")}); err != nil {
		return err
	}
	return b.waitFor(ctx, "buildkitd", func(ctx context.Context) bool { return buildkitReady(ctx, b.sock(), b.BuildkitAddr) })
}

// waitFor polls ready until it holds, failing when the service exits or
// does not come up within the timeout.
func (b *Bed) waitFor(ctx context.Context, svc string, ready func(context.Context) bool) error {
	deadline := time.Now().Add(b.opts.Timeout)
	for {
		if ready(ctx) {
			return nil
		}
		if _, ok := b.pidOf(svc); !ok {
			return b.serviceError(svc, svc+" exited during start-up")
		}
		if time.Now().After(deadline) {
			return b.serviceError(svc, fmt.Sprintf("%s did not come up within %s", svc, b.opts.Timeout))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bed %s: %s start-up: %w", b.Name, svc, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// serviceError is msg with the end of the service's log.
func (b *Bed) serviceError(svc, msg string) error {
	logFile := b.file(svc + ".log")
	var tail string
	if data, err := os.ReadFile(logFile); err == nil {
		tail = indent(solve.TailLines(string(data), 25), "    ")
	}
	return fmt.Errorf("bed %s: %s\nlog: %s (last lines:)\n%s", b.Name, msg, logFile, tail)
}

func indent(s, prefix string) string {
	if s == "" {
		return ""
	}
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// Down stops the bed: both services by their saved pids, leftover build
// containers, mounts below the state folder; then it removes the state
// unless Options.Keep. A bed that is not up is left as it is.
func (b *Bed) Down() error {
	if b.State == "" {
		return fmt.Errorf("bed %s: read from the environment, cannot be taken down here", b.Name)
	}
	if _, err := os.Stat(b.State); errors.Is(err, os.ErrNotExist) {
		b.logf("not up (no %s)", b.State)
		return nil
	}
	if err := b.needRoot("down"); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	unlock, err := b.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	b.stopAll()
	_ = os.Remove(b.sock())
	_ = os.Remove(b.otelSock())
	if b.sockDir != b.State {
		_ = os.Remove(b.sockDir)
	}
	if b.opts.Keep {
		b.logf("down (state kept in %s)", b.State)
		return nil
	}
	if err := os.RemoveAll(b.State); err != nil {
		return fmt.Errorf("bed %s: remove state: %w", b.Name, err)
	}
	b.logf("down (state removed)")
	return nil
}

// stopAll stops both services and unmounts what is left below the state.
func (b *Bed) stopAll() {
	for _, svc := range []string{"buildkitd", "registry"} {
		if pid, ok := b.pidOf(svc); ok {
			kids := descendants(pid)
			b.logf("stopping %s (pid %d)", svc, pid)
			b.kill(pid, svc)
			b.killLeftovers(kids)
		}
		_ = os.Remove(b.file(svc + ".pid"))
	}
	if _, err := os.Stat(b.State); err == nil {
		b.unmountAll()
	}
}
