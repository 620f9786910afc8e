package bed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Environment variables that announce a running bed to tests and tools
// (`stagex bed env` prints them; hack/test-integration exports them for two
// beds, the second one's with the suffix _2).
const (
	EnvBuildkitAddr = "STAGEX_BUILDKIT_ADDR"
	EnvRegistryAddr = "STAGEX_REGISTRY_ADDR"
	EnvName         = "STAGEX_BED_NAME"
	// EnvBuildkitHost is what buildctl reads.
	EnvBuildkitHost = "BUILDKIT_HOST"
	// EnvBuildxConfig and EnvBuildxBuilder make buildx use the bed's
	// builder, whose configuration lives in the bed's state folder.
	EnvBuildxConfig  = "BUILDX_CONFIG"
	EnvBuildxBuilder = "BUILDX_BUILDER"
)

// ErrNoBed tells that the environment names no bed.
var ErrNoBed = errors.New("no test bed: " + EnvBuildkitAddr + " and " + EnvRegistryAddr + " are not set (run `make test`, or eval \"$(hack/bed env NAME)\")")

// FromEnv reads the bed a test runs against from the environment
// (STAGEX_BUILDKIT_ADDR, STAGEX_REGISTRY_ADDR, STAGEX_BED_NAME). It returns
// ErrNoBed when either address is unset. The bed cannot be taken down.
func FromEnv() (*Bed, error) { return fromEnv("") }

// SecondFromEnv reads the second bed hack/test-integration starts (the
// same variables with the suffix _2).
func SecondFromEnv() (*Bed, error) { return fromEnv("_2") }

func fromEnv(suffix string) (*Bed, error) {
	b := &Bed{
		Name:         strings.TrimSpace(os.Getenv(EnvName + suffix)),
		BuildkitAddr: strings.TrimSpace(os.Getenv(EnvBuildkitAddr + suffix)),
		RegistryAddr: strings.TrimSpace(os.Getenv(EnvRegistryAddr + suffix)),
	}
	if b.BuildkitAddr == "" || b.RegistryAddr == "" {
		if suffix != "" {
			return nil, fmt.Errorf("no second test bed: %s%s and %s%s are not set (run `make test`)", EnvBuildkitAddr, suffix, EnvRegistryAddr, suffix)
		}
		return nil, ErrNoBed
	}
	return b, nil
}

// InCI reports whether CI=true (or 1, yes): then a missing bed fails tests
// instead of skipping them.
func InCI() bool {
	v := strings.ToLower(strings.TrimSpace(os.Getenv("CI")))
	return v == "true" || v == "1" || v == "yes"
}

// builderName is the bed's buildx builder.
func (b *Bed) builderName() string { return "stagex-bed-" + b.Name }

func (b *Bed) buildxConfig() string { return b.file("buildx") }

// ensureBuilder creates the bed's buildx builder (remote driver, pointed
// at the bed's buildkitd) in its own configuration folder in the state, so
// that the user's buildx configuration is neither used nor changed.
func (b *Bed) ensureBuilder(ctx context.Context) error {
	if _, err := os.Stat(filepath.Join(b.buildxConfig(), "instances", b.builderName())); err == nil {
		return nil
	}
	bin, err := b.toolsBin(ctx)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(b.buildxConfig(), 0o700); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "buildx"), "create", "--name", b.builderName(), "--driver", "remote", b.BuildkitAddr)
	cmd.Env = append(os.Environ(), EnvBuildxConfig+"="+b.buildxConfig())
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("bed %s: buildx create --driver remote: %w\n%s", b.Name, err, out)
	}
	return nil
}

// toolsBin is the tools folder the bed was started with.
func (b *Bed) toolsBin(ctx context.Context) (string, error) {
	if b.opts.ToolsBin == "" {
		if data, err := os.ReadFile(b.file("tools.bin")); err == nil {
			b.opts.ToolsBin = strings.TrimSpace(string(data))
		}
	}
	return ToolsBin(ctx, b.opts.ToolsBin, b.opts.Log)
}

// Env is the environment that points tools at the bed, in order:
// STAGEX_BUILDKIT_ADDR and STAGEX_REGISTRY_ADDR (tests), BUILDKIT_HOST
// (buildctl), BUILDX_CONFIG and BUILDX_BUILDER (buildx, the bed's builder),
// and STAGEX_TOOLS_BIN (WriteExports puts it first on PATH).
func (b *Bed) Env(ctx context.Context) ([][2]string, error) {
	if b.RegistryAddr == "" || b.State == "" {
		return nil, fmt.Errorf("bed %s is not up (no %s); run: hack/bed up %s: %w", b.Name, b.file("registry.port"), b.Name, ErrNotUp)
	}
	if err := b.ensureBuilder(ctx); err != nil {
		return nil, err
	}
	bin, err := b.toolsBin(ctx)
	if err != nil {
		return nil, err
	}
	return [][2]string{
		{EnvBuildkitAddr, b.BuildkitAddr},
		{EnvRegistryAddr, b.RegistryAddr},
		{EnvName, b.Name},
		{EnvBuildkitHost, b.BuildkitAddr},
		{EnvBuildxConfig, b.buildxConfig()},
		{EnvBuildxBuilder, b.builderName()},
		{EnvToolsBin, bin},
	}, nil
}

// WriteExports prints env as shell export lines, values quoted for sh;
// STAGEX_TOOLS_BIN also goes first on PATH, so that plain `buildctl` and
// `buildx` are the pinned ones.
func WriteExports(w io.Writer, env [][2]string) error {
	for _, kv := range env {
		if _, err := fmt.Fprintf(w, "export %s=%s\n", kv[0], shellQuote(kv[1])); err != nil {
			return err
		}
		if kv[0] == EnvToolsBin {
			if _, err := fmt.Fprintf(w, "export PATH=%s:\"$PATH\"\n", shellQuote(kv[1])); err != nil {
				return err
			}
		}
	}
	return nil
}

// shellQuote quotes s for sh when it holds anything but plain path
// characters.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-:+=@,%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
