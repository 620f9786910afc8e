package frontendimage

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"testing"
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
