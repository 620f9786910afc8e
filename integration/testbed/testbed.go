// Package testbed connects tests, benchmarks and demos to a real BuildKit
// test bed: a buildkitd and an OCI registry on loopback, started by hack/bed
// (make test does it) and announced through the environment:
//
//	STAGEX_BUILDKIT_ADDR    buildkitd address (unix://…/buildkitd.sock)
//	STAGEX_REGISTRY_ADDR    registry host:port (plain HTTP, loopback)
//	STAGEX_BUILDKIT_ADDR_2  a second, independent buildkitd (optional)
//
// It also generates the fixture packages (fixtures.go) that stand in for
// StageX package images.
package testbed

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/buildkit/client"
)

// Environment variables that describe the test bed.
const (
	EnvBuildkitAddr  = "STAGEX_BUILDKIT_ADDR"
	EnvBuildkitAddr2 = "STAGEX_BUILDKIT_ADDR_2"
	EnvRegistryAddr  = "STAGEX_REGISTRY_ADDR"
)

// ModulePath is the Go module of the repository (used to find its root).
const ModulePath = "edp.buildth.ing/devfw-cicd/stagex"

// Bed is a running test bed.
type Bed struct {
	// BuildkitAddr is the first daemon's address (unix://…).
	BuildkitAddr string
	// BuildkitAddr2 is the second daemon's address; empty when there is none.
	BuildkitAddr2 string
	// RegistryAddr is the registry's host:port, e.g. 127.0.0.1:5000.
	RegistryAddr string
}

// ErrNoBed tells that the test bed environment variables are not set.
var ErrNoBed = errors.New("no test bed: " + EnvBuildkitAddr + " and " + EnvRegistryAddr + " are not set (run `make test`)")

// FromEnv reads the test bed from the environment. It returns ErrNoBed
// (wrapped) when STAGEX_BUILDKIT_ADDR or STAGEX_REGISTRY_ADDR is unset.
func FromEnv() (*Bed, error) {
	b := &Bed{
		BuildkitAddr:  strings.TrimSpace(os.Getenv(EnvBuildkitAddr)),
		BuildkitAddr2: strings.TrimSpace(os.Getenv(EnvBuildkitAddr2)),
		RegistryAddr:  strings.TrimSpace(os.Getenv(EnvRegistryAddr)),
	}
	if b.BuildkitAddr == "" || b.RegistryAddr == "" {
		return nil, ErrNoBed
	}
	return b, nil
}

// InCI reports whether CI=true (or 1): then a missing bed fails tests.
func InCI() bool {
	v := strings.ToLower(strings.TrimSpace(os.Getenv("CI")))
	return v == "true" || v == "1" || v == "yes"
}

var (
	probeOnce sync.Once
	probeBed  *Bed
	probeErr  error
)

// probe checks once per process that the bed is set and reachable.
func probe() (*Bed, error) {
	probeOnce.Do(func() {
		b, err := FromEnv()
		if err != nil {
			if os.Geteuid() != 0 {
				err = fmt.Errorf("%w; not root (the bed needs root)", err)
			}
			probeErr = err
			return
		}
		for _, a := range []string{b.BuildkitAddr, b.BuildkitAddr2} {
			if a == "" {
				continue
			}
			if err := dialAddr(a); err != nil {
				probeErr = fmt.Errorf("test bed buildkitd %s unreachable: %w", a, err)
				return
			}
		}
		if err := dialAddr("tcp://" + b.RegistryAddr); err != nil {
			probeErr = fmt.Errorf("test bed registry %s unreachable: %w", b.RegistryAddr, err)
			return
		}
		probeBed = b
	})
	return probeBed, probeErr
}

func dialAddr(addr string) error {
	network, address := "tcp", addr
	if p, ok := strings.CutPrefix(addr, "unix://"); ok {
		network, address = "unix", p
	} else if p, ok := strings.CutPrefix(addr, "tcp://"); ok {
		address = p
	}
	conn, err := net.DialTimeout(network, address, 5*time.Second)
	if err != nil {
		return err
	}
	return conn.Close()
}

// Require returns the test bed, or ends the test: with CI=true a missing or
// unreachable bed FAILS the test, elsewhere the test is skipped with a
// one-line reason.
func Require(t testing.TB) *Bed {
	t.Helper()
	b, err := probe()
	if err == nil {
		return b
	}
	if InCI() {
		t.Fatalf("CI=true and the test bed is missing: %v", err)
	}
	t.Skipf("%v", err)
	return nil
}

// RequireSecond is Require plus the second daemon (STAGEX_BUILDKIT_ADDR_2).
func RequireSecond(t testing.TB) *Bed {
	t.Helper()
	b := Require(t)
	if b.BuildkitAddr2 == "" {
		if InCI() {
			t.Fatalf("CI=true and %s is not set", EnvBuildkitAddr2)
		}
		t.Skipf("no second buildkitd: %s is not set (run `make test`)", EnvBuildkitAddr2)
	}
	return b
}

// Client connects to the first buildkitd.
func (b *Bed) Client(ctx context.Context) (*client.Client, error) {
	return client.New(ctx, b.BuildkitAddr)
}

// Client2 connects to the second buildkitd.
func (b *Bed) Client2(ctx context.Context) (*client.Client, error) {
	if b.BuildkitAddr2 == "" {
		return nil, fmt.Errorf("%s is not set", EnvBuildkitAddr2)
	}
	return client.New(ctx, b.BuildkitAddr2)
}

// Ref is <registry>/<repo> on the bed's registry.
func (b *Bed) Ref(repo string) string { return b.RegistryAddr + "/" + strings.TrimPrefix(repo, "/") }

// RepoRoot finds the repository root: the nearest folder upwards from the
// working directory whose go.mod declares ModulePath.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if modulePathOf(filepath.Join(dir, "go.mod")) == ModulePath {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("repository root (go.mod of %s) not found above the working directory", ModulePath)
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
