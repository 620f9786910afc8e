package integration

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/internal/bed"
)

// ownBedOptions are the options of a bed a test starts itself: state in a
// short temporary folder, registry ports above the harness beds' ports.
func ownBedOptions(t *testing.T) (bed.Options, *bytes.Buffer) {
	t.Helper()
	b := requireBed(t) // root, the pinned tools and the CI rule are settled
	dir, err := os.MkdirTemp("", "bed-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var log bytes.Buffer
	return bed.Options{Dir: dir, PortBase: portsAbove(b, 20), Log: &log}, &log
}

// portsAbove is a registry port base offset above the harness bed's
// registry port, so that a test's own beds stay out of the harness beds'
// (and other checkouts') ranges.
func portsAbove(harness *bed.Bed, offset int) int {
	if _, port, ok := strings.Cut(harness.RegistryAddr, ":"); ok {
		if n, err := strconv.Atoi(port); err == nil {
			return n + offset
		}
	}
	return bed.DefaultPortBase + offset
}

// internal/bed starts a bed of its own (idempotently), whose registry and
// buildkitd answer, and takes it down again: no process, mount or state
// left behind.
func TestBedUpDown(t *testing.T) {
	opts, log := ownBedOptions(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	b, err := bed.Up(ctx, "own", opts)
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	defer b.Down()
	st := b.Status()
	if !st.Up() || b.RegistryAddr == "" || b.Name != "own" {
		t.Fatalf("after Up: %+v, %+v", b, st)
	}
	resp, err := http.Get("http://" + b.RegistryAddr + "/v2/")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("registry %s: %v %v", b.RegistryAddr, resp, err)
	}
	resp.Body.Close()
	c, err := b.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := c.ListWorkers(ctx)
	c.Close()
	if err != nil || len(ws) == 0 {
		t.Fatalf("workers: %v %v", ws, err)
	}

	// Up again: the running bed is reused, same pids, same port.
	again, err := bed.Up(ctx, "own", opts)
	if err != nil {
		t.Fatal(err)
	}
	if again.RegistryAddr != b.RegistryAddr || again.Status().Services[0].PID != st.Services[0].PID {
		t.Errorf("second Up restarted the bed: %+v vs %+v", again.Status(), st)
	}
	if !strings.Contains(log.String(), "already up") {
		t.Errorf("second Up did not say the bed was up:\n%s", log)
	}
	env, err := b.Env(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range env {
		got[kv[0]] = kv[1]
	}
	if got["BUILDKIT_HOST"] != b.BuildkitAddr || got["BUILDX_BUILDER"] == "" || !strings.HasPrefix(got["BUILDX_CONFIG"], b.State) {
		t.Errorf("env %v", got)
	}
	if _, err := os.Stat(filepath.Join(got["BUILDX_CONFIG"], "instances", got["BUILDX_BUILDER"])); err != nil {
		t.Errorf("buildx builder: %v", err)
	}

	pids := []int{st.Services[0].PID, st.Services[1].PID}
	if err := b.Down(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid))); err == nil {
			if stat, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat")); !strings.Contains(string(stat), ") Z ") {
				t.Errorf("pid %d still running after Down", pid)
			}
		}
	}
	if _, err := os.Stat(b.State); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state %s left after Down: %v", b.State, err)
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), b.State) {
		t.Errorf("mounts below %s left after Down", b.State)
	}
	if err := b.Down(); err != nil {
		t.Errorf("second Down: %v", err)
	}
}

// A service that dies at start-up fails Up with the end of its log, and
// nothing keeps running.
func TestBedUpFailsWithServiceLog(t *testing.T) {
	opts, log := ownBedOptions(t)
	real, err := bed.ToolsBin(context.Background(), "", log)
	if err != nil {
		t.Fatal(err)
	}
	tools := t.TempDir()
	for _, n := range []string{"buildkitd", "buildx"} {
		if err := os.Symlink(filepath.Join(real, n), filepath.Join(tools, n)); err != nil {
			t.Fatal(err)
		}
	}
	script := "#!/bin/sh\necho 'registry: config broken beyond repair' >&2\nexit 3\n"
	if err := os.WriteFile(filepath.Join(tools, "registry"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	opts.ToolsBin = tools
	opts.Timeout = 20 * time.Second
	_, err = bed.Up(context.Background(), "broken", opts)
	if err == nil {
		t.Fatal("Up with a registry that exits: no error")
	}
	for _, want := range []string{"registry exited during start-up", "registry.log", "config broken beyond repair"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	b, err := bed.Open("broken", opts)
	if err != nil {
		t.Fatal(err)
	}
	if b.Status().Services[1].Running {
		t.Error("registry counted as running after a failed Up")
	}
	if err := b.Down(); err != nil {
		t.Fatal(err)
	}
}
