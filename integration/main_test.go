// Package integration holds the tests that run against the real BuildKit
// test bed (internal/bed; `make test` starts two). Without a bed they skip, except
// with CI=true, where they fail.
package integration

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/internal/bed"
	"edp.buildth.ing/devfw-cicd/stagex/internal/fixtures"
	"edp.buildth.ing/devfw-cicd/stagex/internal/frontendimage"
	"edp.buildth.ing/devfw-cicd/stagex/internal/repo"
)

// Shared state, set up at most once per test binary and only when a test
// asks for it, so runs without a bed stay instant.
var (
	tmpRoot string

	fixturesOnce sync.Once
	fixtureSet   fixtures.Set
	fixturesErr  error

	frontendOnce sync.Once
	frontendRef  string
	frontendErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if tmpRoot != "" {
		os.RemoveAll(tmpRoot)
	}
	os.Exit(code)
}

func tempRoot() (string, error) {
	if tmpRoot != "" {
		return tmpRoot, nil
	}
	d, err := os.MkdirTemp("", "stagex-integration-")
	if err == nil {
		tmpRoot = d
	}
	return d, err
}

// The beds hack/test-integration announces, probed once per test binary.
var (
	probeOnce sync.Once
	probeBeds [2]*bed.Bed
	probeErrs [2]error
)

// probe reads both beds from the environment and checks that their
// daemons and registries answer.
func probe() {
	probeOnce.Do(func() {
		for i, read := range []func() (*bed.Bed, error){bed.FromEnv, bed.SecondFromEnv} {
			b, err := read()
			if err == nil {
				err = reachable(b)
			}
			if err != nil && os.Geteuid() != 0 {
				err = fmt.Errorf("%w; not root (the bed needs root)", err)
			}
			probeBeds[i], probeErrs[i] = b, err
		}
	})
}

func reachable(b *bed.Bed) error {
	for _, a := range []string{b.BuildkitAddr, "tcp://" + b.RegistryAddr} {
		network, address := "tcp", strings.TrimPrefix(a, "tcp://")
		if p, ok := strings.CutPrefix(a, "unix://"); ok {
			network, address = "unix", p
		}
		conn, err := net.DialTimeout(network, address, 5*time.Second)
		if err != nil {
			return fmt.Errorf("test bed %s unreachable: %w", a, err)
		}
		conn.Close()
	}
	return nil
}

// requireBed returns the test bed (bed.FromEnv), or ends the test: with
// CI=true a missing or unreachable bed FAILS the test, elsewhere the test
// is skipped with a one-line reason.
func requireBed(t testing.TB) *bed.Bed {
	t.Helper()
	return requireProbed(t, 0)
}

// requireSecondBed is requireBed for the second, independent bed
// (bed.SecondFromEnv); it requires the first one as well.
func requireSecondBed(t testing.TB) *bed.Bed {
	t.Helper()
	requireBed(t)
	return requireProbed(t, 1)
}

// haveSecondBed tells whether the second bed is there, for tests that
// check more when it is.
func haveSecondBed() bool {
	probe()
	return probeErrs[1] == nil
}

func requireProbed(t testing.TB, i int) *bed.Bed {
	t.Helper()
	probe()
	if err := probeErrs[i]; err != nil {
		if bed.InCI() {
			t.Fatalf("CI=true and the test bed is missing: %v", err)
		}
		t.Skipf("%v", err)
	}
	return probeBeds[i]
}

// pushedFixtures builds the fixture packages and pushes them to the bed's
// registry, once. STAGEX_FIXTURES_LARGE=1 adds core-large (200 MiB).
func pushedFixtures(t testing.TB) fixtures.Set {
	t.Helper()
	b := requireBed(t)
	fixturesOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		start := time.Now()
		opts := fixtures.Options{Large: os.Getenv("STAGEX_FIXTURES_LARGE") == "1"}
		fixtureSet, fixturesErr = fixtures.Setup(ctx, b.RegistryAddr, opts)
		if fixturesErr == nil {
			t.Logf("fixtures: %d packages pushed to %s/%s in %s", len(fixtureSet), b.RegistryAddr,
				fixtures.RepoPrefix, time.Since(start).Round(time.Millisecond))
		}
	})
	if fixturesErr != nil {
		t.Fatalf("fixtures: %v", fixturesErr)
	}
	return fixtureSet
}

// frontendImage builds ./cmd/frontend, packs it into the frontend image on
// the first daemon and pushes it, once. It returns <registry>/stagex-frontend@sha256:….
func frontendImage(t testing.TB) string {
	t.Helper()
	b := requireBed(t)
	frontendOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		dir, err := tempRoot()
		if err != nil {
			frontendErr = err
			return
		}
		root, err := repo.Root()
		if err != nil {
			frontendErr = err
			return
		}
		c, err := b.Client(ctx)
		if err != nil {
			frontendErr = err
			return
		}
		defer c.Close()
		frontendRef, frontendErr = frontendimage.BuildAndPush(ctx, c, root, dir, b.RegistryAddr)
		if frontendErr == nil {
			t.Logf("frontend image: %s", frontendRef)
		}
	})
	if frontendErr != nil {
		t.Fatalf("frontend image: %v", frontendErr)
	}
	return frontendRef
}
