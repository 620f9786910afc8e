package bed

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"edp.buildth.ing/devfw-cicd/stagex/internal/repo"
)

// EnvToolsBin names the folder with the pinned buildkitd, buildctl, buildx
// and registry binaries (hack/tools.sh prints it; hack/test-integration
// exports it).
const EnvToolsBin = "STAGEX_TOOLS_BIN"

// ToolsBin is the folder of the pinned tools: dir when set, else
// $STAGEX_TOOLS_BIN, else the one hack/tools.sh of the repository builds
// into its cache (the first time takes minutes; its progress goes to log).
func ToolsBin(ctx context.Context, dir string, log io.Writer) (string, error) {
	if dir == "" {
		dir = os.Getenv(EnvToolsBin)
	}
	if dir != "" {
		return dir, nil
	}
	root, err := repo.Root()
	if err != nil {
		return "", fmt.Errorf("%w; set %s to the folder with buildkitd, buildctl, buildx and registry", err, EnvToolsBin)
	}
	cmd := exec.CommandContext(ctx, filepath.Join(root, "hack", "tools.sh"))
	cmd.Dir, cmd.Stderr = root, log
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("hack/tools.sh: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(bytes.TrimSpace(out))), "\n")
	return strings.TrimSpace(lines[len(lines)-1]), nil
}

// Tool returns the path of one of the pinned tools: from $STAGEX_TOOLS_BIN,
// else from PATH. Tests use the pinned build, never a stray system copy,
// when the variable is set.
func Tool(name string) (string, error) {
	if dir := os.Getenv(EnvToolsBin); dir != "" {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s: %w (is %s right?)", name, err, EnvToolsBin)
		}
		return p, nil
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s not found: set %s to the folder hack/tools.sh prints", name, EnvToolsBin)
	}
	return p, nil
}
