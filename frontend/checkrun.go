package frontend

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/check"
)

// This file is the half of the build-time check that runs inside BuildKit,
// in containers the frontend starts with its own image (`frontend check`,
// `frontend test-run`; see cmd/frontend). The other half (check.go) builds
// those containers and reads what they write.

// checkJob is what the frontend hands `frontend check`: the check's options
// and, for each layer folder /layers/<i>, nothing more than its index (the
// package names are in Options.Packages).
type checkJob struct {
	Options check.Options `json:"options"`
	Layers  int           `json:"layers"`
}

// RunCheckJob checks the merged rootfs at root, with the merge inputs
// mounted at layers/0, layers/1, …, as job (a JSON checkJob file) says, and
// writes the JSON report to out. A failing image is not an error here: the
// frontend reads the report and decides.
func RunCheckJob(root, layers, job, out string) error {
	data, err := os.ReadFile(job)
	if err != nil {
		return err
	}
	var j checkJob
	if err := json.Unmarshal(data, &j); err != nil {
		return fmt.Errorf("%s: %w", job, err)
	}
	merged, closer, err := check.DirFS(root)
	if err != nil {
		return err
	}
	defer closer.Close()
	dirs := make([]check.FS, j.Layers)
	for i := range dirs {
		l, c, err := check.DirFS(filepath.Join(layers, strconv.Itoa(i)))
		if err != nil {
			return err
		}
		defer c.Close()
		dirs[i] = l
	}
	stack, err := check.NewStack(merged, dirs)
	if err != nil {
		return err
	}
	report, err := check.Run(stack, j.Options)
	if err != nil {
		return err
	}
	return writeJSON(out, report)
}

// testRun is what `frontend test-run` writes: how the smoke test's command
// ended and what it printed.
type testRun struct {
	Exit   int    `json:"exit"`            // -1 when it could not start or was killed
	Error  string `json:"error,omitempty"` // why it could not start, or the signal
	Output string `json:"output"`          // stdout and stderr together, the tail when long
}

// maxTestOutput bounds the output kept of one smoke test: enough for a
// traceback, not a flood in the build error.
const maxTestOutput = 16 << 10

// TestTimeout bounds one smoke test.
const TestTimeout = 10 * time.Minute

// RunTest runs args (exec form) as userSpec ("name", "uid", "name:group",
// "uid:gid", as config.user spells it; "" is root), resolved against the
// /etc/passwd and /etc/group of the image it runs in, and writes a testRun
// to out. It runs as root itself only to write out and switch users.
func RunTest(ctx context.Context, userSpec, out string, args []string) error {
	if len(args) == 0 {
		return errors.New("test-run: no command")
	}
	res := testRun{Exit: -1}
	cred, err := lookupCredential(userSpec)
	if err != nil {
		res.Error = err.Error()
		return writeJSON(out, res)
	}
	ctx, cancel := context.WithTimeout(ctx, TestTimeout)
	defer cancel()
	var buf tailBuffer
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	// One writer for both, so that os/exec gives the command one pipe: the
	// output keeps its order, and one goroutine writes the buffer.
	both := io.MultiWriter(&buf, os.Stdout)
	cmd.Stdout, cmd.Stderr = both, both
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	err = cmd.Run()
	res.Output = buf.String()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		res.Exit = 0
	case errors.As(err, &exitErr) && exitErr.ExitCode() >= 0:
		res.Exit = exitErr.ExitCode()
	case ctx.Err() != nil:
		res.Error = fmt.Sprintf("killed after %s", TestTimeout)
	default:
		res.Error = err.Error()
	}
	return writeJSON(out, res)
}

// lookupCredential resolves a config user the way container runtimes do: a
// name must be in /etc/passwd; a uid need not be, and then its group is 0;
// the supplementary groups are the user's groups from /etc/group.
func lookupCredential(spec string) (*syscall.Credential, error) {
	name, group, hasGroup := strings.Cut(spec, ":")
	cred := &syscall.Credential{}
	var u *user.User
	if name == "" {
		name = "0"
	}
	if uid, err := strconv.ParseUint(name, 10, 32); err == nil {
		cred.Uid = uint32(uid)
		u, _ = user.LookupId(name)
	} else {
		if u, err = user.Lookup(name); err != nil {
			return nil, fmt.Errorf("user %q is not in the image's /etc/passwd", name)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		cred.Uid = uint32(uid)
	}
	if u != nil {
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		cred.Gid = uint32(gid)
		if ids, err := u.GroupIds(); err == nil {
			for _, id := range ids {
				if g, err := strconv.ParseUint(id, 10, 32); err == nil {
					cred.Groups = append(cred.Groups, uint32(g))
				}
			}
		}
	}
	if hasGroup {
		if gid, err := strconv.ParseUint(group, 10, 32); err == nil {
			cred.Gid = uint32(gid)
		} else {
			g, err := user.LookupGroup(group)
			if err != nil {
				return nil, fmt.Errorf("group %q is not in the image's /etc/group", group)
			}
			gid, _ := strconv.ParseUint(g.Gid, 10, 32)
			cred.Gid = uint32(gid)
		}
	}
	if cred.Groups == nil {
		cred.Groups = []uint32{cred.Gid}
	}
	return cred, nil
}

// tailBuffer keeps the last maxTestOutput bytes written to it.
type tailBuffer struct {
	b       bytes.Buffer
	dropped bool
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b.Write(p)
	if extra := t.b.Len() - maxTestOutput; extra > 0 {
		t.b.Next(extra)
		rest := bytes.Clone(t.b.Bytes())
		t.b.Reset()
		t.b.Write(rest)
		t.dropped = true
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	if t.dropped {
		return "[…]" + t.b.String()
	}
	return t.b.String()
}

func writeJSON(file string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(file, append(data, '\n'), 0o644)
}
