package testbed

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Buildx runs the pinned buildx against a bed's daemon through buildx's
// "remote" driver, with a configuration folder of its own so that a user's
// builders are neither used nor changed.
type Buildx struct {
	bin    string
	config string
	name   string
}

// NewBuildx creates a remote-driver builder for daemon addr (unix://…) in a
// temporary configuration folder that the test removes.
func NewBuildx(t testing.TB, addr string) *Buildx {
	t.Helper()
	bin, err := Tool("buildx")
	if err != nil {
		t.Fatal(err)
	}
	bx := &Buildx{bin: bin, config: t.TempDir(), name: "stagex-test"}
	if out, err := bx.Run("create", "--name", bx.name, "--driver", "remote", addr); err != nil {
		t.Fatalf("buildx create: %v\n%s", err, out)
	}
	return bx
}

// Run runs buildx with args and returns its combined output.
func (bx *Buildx) Run(args ...string) ([]byte, error) {
	cmd := exec.Command(bx.bin, args...)
	cmd.Env = append(os.Environ(), "BUILDX_CONFIG="+bx.config, "BUILDX_BUILDER="+bx.name)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("buildx %s: %w", strings.Join(args, " "), err)
	}
	return out, nil
}
