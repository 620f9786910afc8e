// Package integration holds the tests that run against the real BuildKit
// test bed (hack/bed; `make test` starts it). Without a bed they skip, except
// with CI=true, where they fail.
package integration

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/integration/testbed"
)

// Shared state, set up at most once per test binary and only when a test
// asks for it, so runs without a bed stay instant.
var (
	tmpRoot string

	fixturesOnce sync.Once
	fixtureSet   testbed.FixtureSet
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

// requireBed returns the test bed or skips/fails the test (see testbed.Require).
func requireBed(t testing.TB) *testbed.Bed {
	t.Helper()
	return testbed.Require(t)
}

// fixtures builds the fixture packages and pushes them to the bed's
// registry, once. STAGEX_FIXTURES_LARGE=1 adds core-large (200 MiB).
func fixtures(t testing.TB) testbed.FixtureSet {
	t.Helper()
	b := requireBed(t)
	fixturesOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		start := time.Now()
		opts := testbed.Options{Large: os.Getenv("STAGEX_FIXTURES_LARGE") == "1"}
		fixtureSet, fixturesErr = b.SetupFixtures(ctx, opts)
		if fixturesErr == nil {
			t.Logf("fixtures: %d packages pushed to %s/%s in %s", len(fixtureSet), b.RegistryAddr,
				testbed.FixtureRepoPrefix, time.Since(start).Round(time.Millisecond))
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
		bin, err := testbed.BuildFrontendBinary(ctx, dir)
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
		frontendRef, frontendErr = b.PushFrontend(ctx, c, bin)
		if frontendErr == nil {
			t.Logf("frontend image: %s", frontendRef)
		}
	})
	if frontendErr != nil {
		t.Fatalf("frontend image: %v", frontendErr)
	}
	return frontendRef
}
