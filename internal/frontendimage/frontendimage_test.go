package frontendimage

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"edp.buildth.ing/devfw-cicd/stagex/internal/repo"
)

func TestRepository(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:5000/stagex-frontend:test": "127.0.0.1:5000/stagex-frontend",
		"127.0.0.1:5000/stagex-frontend":      "127.0.0.1:5000/stagex-frontend",
		"reg.example/a/b:1":                   "reg.example/a/b",
	} {
		if got := repository(in); got != want {
			t.Errorf("repository(%q) = %q, want %q", in, got, want)
		}
	}
}

// The archive frontend-prebuilt unpacks: bin/ and bin/frontend, root's,
// 0755, at the epoch, the binary's bytes unchanged.
func TestArchive(t *testing.T) {
	tr := tar.NewReader(bytes.NewReader(Archive([]byte("binary"))))
	var got []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %c %o %d:%d %d %q", h.Name, h.Typeflag, h.Mode, h.Uid, h.Gid, h.ModTime.Unix(), body))
	}
	want := []string{`bin/ 5 755 0:0 0 ""`, `bin/frontend 0 755 0:0 0 "binary"`}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("archive entries:\n%q\nwant\n%q", got, want)
	}
}

// The frontend binary is built with BuildTags in both places, and with them
// it links no text/template: the package whose calls of methods by name
// keep every exported method in the binary (see BuildTags).
func TestBuildTags(t *testing.T) {
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	df, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(df), "RUN go build -tags "+BuildTags+" ") {
		t.Errorf("the Dockerfile's build stage does not build with -tags %s", BuildTags)
	}
	cmd := exec.Command(GoBinary(), "list", "-deps", "-tags="+BuildTags, "./cmd/frontend")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if p == "text/template" || p == "golang.org/x/net/trace" {
			t.Errorf("./cmd/frontend links %s with -tags %s", p, BuildTags)
		}
	}
}
