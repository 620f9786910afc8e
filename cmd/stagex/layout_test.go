package main

import (
	"encoding/json"
	"io"
	"os/exec"
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
