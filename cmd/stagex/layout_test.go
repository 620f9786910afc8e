package main

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"edp.buildth.ing/devfw-cicd/stagex/internal/repo"
)

// thirdPartyTesting lists the packages outside this module that the
// commands link and that import "testing" from a non-test file. Upstream
// pkcs7 renamed the file (verify_test_dsa.go → dsa_test.go, commit
// 72707fb, July 2025), but the module version with the rename is not
// served to this build and the next one needs Go 1.27; it comes in through
// sigstore-go (timestamp verification).
var thirdPartyTesting = []string{"github.com/digitorus/pkcs7"}

// TestCommandsLinkNoTestCode: what the commands link holds no package of
// this module that imports "testing", nothing under integration/ or hack/,
// and no test helper package (golden files, lock signers).
func TestCommandsLinkNoTestCode(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath,Imports,Module", "./cmd/...")
	cmd.Dir = layoutRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var third []string
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p struct {
			ImportPath string
			Imports    []string
			Module     *struct{ Path string }
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		ours := p.Module != nil && p.Module.Path == repo.ModulePath
		if ours {
			rel := strings.TrimPrefix(p.ImportPath, repo.ModulePath)
			for _, bad := range []string{"/integration", "/hack/", "/internal/golden", "/lock/locktest"} {
				if strings.HasPrefix(rel+"/", bad) || strings.HasPrefix(rel, bad) {
					t.Errorf("the commands link %s", p.ImportPath)
				}
			}
		}
		if slices.Contains(p.Imports, "testing") {
			if ours {
				t.Errorf("%s imports testing and is linked into a command", p.ImportPath)
			} else {
				third = append(third, p.ImportPath)
			}
		}
	}
	slices.Sort(third)
	if !slices.Equal(third, thirdPartyTesting) {
		t.Errorf("third-party packages importing testing: %v, want %v (update the list and its comment)", third, thirdPartyTesting)
	}
}

func layoutRoot(t *testing.T) string {
	t.Helper()
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// TestMakeHelpListsEveryTarget: `make help` (the README's pointer to every
// target) names each target the Makefile defines, but for the internal
// ones named here.
func TestMakeHelpListsEveryTarget(t *testing.T) {
	internal := []string{"pipeline-stagex"} // builds the stagex binary the pipeline targets call
	root := layoutRoot(t)
	if _, err := exec.LookPath("make"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("no make:", err) // .ci/run installs it
		}
		t.Skip("no make:", err)
	}
	cmd := exec.Command("make", "--no-print-directory", "help")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("make help: %v", err)
	}
	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	targets := regexp.MustCompile(`(?m)^([a-z][a-z0-9-]*):`).FindAllStringSubmatch(string(makefile), -1)
	if len(targets) < 10 {
		t.Fatalf("found only %d targets in the Makefile", len(targets))
	}
	for _, m := range targets {
		if slices.Contains(internal, m[1]) {
			continue
		}
		if !regexp.MustCompile(`(?m)^\s+`+regexp.QuoteMeta(m[1])+`\b`).Match(out) &&
			!regexp.MustCompile(`/ `+regexp.QuoteMeta(m[1])+`\b`).Match(out) {
			t.Errorf("make help does not list %s (give it a ## line)", m[1])
		}
	}
}
