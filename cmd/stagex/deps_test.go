package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const modulePath = "edp.buildth.ing/devfw-cicd/stagex"

// thirdPartyTesting are the packages outside this module that import
// "testing" in a non-test file and are linked into the commands:
// digitorus/pkcs7's verify_test_dsa.go (reached through sigstore-go and
// buildkit) lacks the _test suffix; its fixed release needs a newer Go.
var thirdPartyTesting = []string{"github.com/digitorus/pkcs7"}

// TestCommandsImportNoTestCode: the commands are built from packages only:
// nothing under integration/ or hack/, and no package of this module that
// imports "testing" (tests and test helpers stay out of user binaries).
func TestCommandsImportNoTestCode(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(gobin, "list", "-deps", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "../../cmd/...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, " ")
		rel, ours := strings.CutPrefix(pkg, modulePath+"/")
		if ours && (strings.HasPrefix(rel, "integration") || strings.HasPrefix(rel, "hack/")) {
			t.Errorf("the commands link %s", pkg)
		}
		if slices.Contains(strings.Fields(imports), "testing") && !slices.Contains(thirdPartyTesting, pkg) {
			t.Errorf("%s imports testing and is linked into the commands", pkg)
		}
	}
}
