package imageset

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The reference application (examples/): its spec, its Dockerfile and the
// bake targets that build it, outside the default group.
const (
	// ExamplesDir holds the reference application, its spec and its lock.
	ExamplesDir = "examples"
	// AppTarget is the bake target of the composed application image
	// (examples/app.yaml).
	AppTarget = "example-app"
	// AppTestTarget runs the application in its image (Dockerfile stage
	// "test") and exports the answers it received (stage "test-result").
	AppTestTarget = "example-app-test"
	// AppTestOutVar is the bake variable naming the folder AppTestTarget
	// exports the answers to.
	AppTestOutVar = "EXAMPLES_TEST_OUT"
	// AppBinTarget builds the service binary in stagex-base-go.
	AppBinTarget = "example-app-bin"
	// ExamplesGroup is the bake group of the application and its test.
	ExamplesGroup = "examples"
	// appExpected holds, per answer file, what the test must receive; the
	// test script in the image compares with the same files.
	appExpected = "examples/test/expected"
)

// AppAnswer is one answer the application gave in its test.
type AppAnswer struct {
	File string // root.json, healthz.txt
	Got  string
}

// CheckAppAnswers compares the answers the test exported to dir with
// examples/test/expected/, file by file, and returns them.
func CheckAppAnswers(root, dir string) ([]AppAnswer, error) {
	want := filepath.Join(root, filepath.FromSlash(appExpected))
	ents, err := os.ReadDir(want)
	if err != nil {
		return nil, err
	}
	if len(ents) == 0 {
		return nil, fmt.Errorf("%s is empty: nothing to compare the answers with", appExpected)
	}
	var out []AppAnswer
	var bad []string
	for _, e := range ents {
		w, err := os.ReadFile(filepath.Join(want, e.Name()))
		if err != nil {
			return nil, err
		}
		g, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("the application test left no %s: %w", e.Name(), err)
		}
		if !bytes.Equal(g, w) {
			bad = append(bad, fmt.Sprintf("%s: got %q, want %q", e.Name(), g, w))
		}
		out = append(out, AppAnswer{File: e.Name(), Got: strings.TrimRight(string(g), "\n")})
	}
	if len(bad) > 0 {
		return out, fmt.Errorf("the reference application answered wrongly:\n  %s", strings.Join(bad, "\n  "))
	}
	return out, nil
}
