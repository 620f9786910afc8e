package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runBedCmd runs `stagex bed args…` with the beds' state in a temporary
// folder.
func runBedCmd(t *testing.T, dir string, args ...string) (string, string, error) {
	t.Helper()
	t.Setenv("BED_DIR", dir)
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), append([]string{"bed"}, args...), &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if err != nil {
		return 1
	}
	return 0
}

func TestBedUsage(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{{}, {"up"}, {"status", "a", "b"}, {"launch", "a"}, {"status", "--nope", "a"}} {
		_, stderr, err := runBedCmd(t, dir, args...)
		if exitCode(err) != 2 || !strings.Contains(stderr, "stagex bed up") {
			t.Errorf("bed %q: exit %d, stderr %q", args, exitCode(err), stderr)
		}
	}
	if _, _, err := runBedCmd(t, dir, "status", "../x"); err == nil || !strings.Contains(err.Error(), "bad bed name") {
		t.Errorf("bed status ../x: %v", err)
	}
}

// A bed that was never started: status says stopped (exit 1), env and
// fixtures refuse with the command that starts it; flags may follow NAME.
func TestBedNotUp(t *testing.T) {
	dir := t.TempDir()
	stdout, _, err := runBedCmd(t, dir, "status", "x")
	if exitCode(err) != 1 || !strings.Contains(stdout, "buildkitd stopped") || !strings.Contains(stdout, "state     "+filepath.Join(dir, "x")) {
		t.Errorf("status: exit %d\n%s", exitCode(err), stdout)
	}
	if _, _, err := runBedCmd(t, dir, "env", "x"); err == nil || !strings.Contains(err.Error(), "hack/bed up x") {
		t.Errorf("env: %v", err)
	}
	lock := filepath.Join(t.TempDir(), "stagex.lock.yaml")
	if _, _, err := runBedCmd(t, dir, "fixtures", "x", "--lock", lock); err == nil || !strings.Contains(err.Error(), "hack/bed up x") {
		t.Errorf("fixtures: %v", err)
	}
	if _, err := os.Stat(lock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("fixtures on a bed that is not up wrote %s", lock)
	}
	// down of a bed that is not up is a no-op, not an error.
	if _, stderr, err := runBedCmd(t, dir, "down", "x"); err != nil || !strings.Contains(stderr, "not up") {
		t.Errorf("down: %v\n%s", err, stderr)
	}
}
