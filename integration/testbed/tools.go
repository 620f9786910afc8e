package testbed

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// EnvToolsBin names the folder with the pinned buildkitd, buildctl, buildx
// and registry binaries (hack/tools.sh prints it; hack/test-integration
// exports it).
const EnvToolsBin = "STAGEX_TOOLS_BIN"

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
