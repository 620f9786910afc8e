// Package repo finds the checkout of this repository that a command or test
// runs in: the test bed keeps its state below it, the frontend binary and
// image are built from it.
package repo

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ModulePath is the Go module of the repository (used to find its root).
const ModulePath = "edp.buildth.ing/devfw-cicd/stagex"

// EnvRoot names the checkout explicitly (hack/bed sets it, so that
// `stagex bed` finds the repository from any working directory).
const EnvRoot = "STAGEX_REPO"

// Root finds the repository root: $STAGEX_REPO when set, else the nearest
// folder upwards from the working directory whose go.mod declares
// ModulePath.
func Root() (string, error) {
	if dir := os.Getenv(EnvRoot); dir != "" {
		if modulePathOf(filepath.Join(dir, "go.mod")) != ModulePath {
			return "", fmt.Errorf("%s=%s: no go.mod of %s there", EnvRoot, dir, ModulePath)
		}
		return filepath.Abs(dir)
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return RootFrom(dir)
}

// RootFrom is Root starting at dir.
func RootFrom(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if modulePathOf(filepath.Join(dir, "go.mod")) == ModulePath {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("repository root (go.mod of %s) not found above %s", ModulePath, dir)
		}
		dir = parent
	}
}

func modulePathOf(gomod string) string {
	f, err := os.Open(gomod)
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if m, ok := strings.CutPrefix(strings.TrimSpace(s.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(m), `"`)
		}
	}
	return ""
}
