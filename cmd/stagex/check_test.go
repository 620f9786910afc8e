package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/check"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// checkImage is an image with a filesystem layer and one file of the given
// mode at /usr/bin/tool, from package core-tool.
func checkImage(t *testing.T, mode int64) v1.Image {
	t.Helper()
	passwd := []byte("root:x:0:0:root:/:/sbin/nologin\n")
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range []struct {
		h    tar.Header
		data []byte
	}{
		{tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755}, nil},
		{tar.Header{Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644}, passwd},
		{tar.Header{Name: "usr/", Typeflag: tar.TypeDir, Mode: 0o755}, nil},
		{tar.Header{Name: "usr/bin/", Typeflag: tar.TypeDir, Mode: 0o755}, nil},
		{tar.Header{Name: "usr/bin/tool", Typeflag: tar.TypeReg, Mode: mode}, []byte("x")},
	} {
		e.h.Size = int64(len(e.data))
		if err := tw.WriteHeader(&e.h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	b := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: layer, History: v1.History{CreatedBy: "stagex: diff core-tool 1.0 from example.test/stagex/core-tool (layer x)"}})
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func runStagex(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, &stdout, &stderr)
	code := 0
	if err != nil {
		code = 1
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		stderr.WriteString(err.Error())
	}
	return stdout.String(), stderr.String(), code
}

// The three local sources, a passing and a failing image, table and JSON,
// and a spec that accepts the finding.
func TestCheckCommand(t *testing.T) {
	dir := t.TempDir()
	ok, bad := checkImage(t, 0o755), checkImage(t, 0o4755)

	lp, err := layout.Write(filepath.Join(dir, "layout"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	for name, img := range map[string]v1.Image{"ok": ok, "bad": bad} {
		if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": name})); err != nil {
			t.Fatal(err)
		}
	}
	if err := tarball.WriteToFile(filepath.Join(dir, "bad.tar"), nil, bad); err != nil {
		t.Fatal(err)
	}
	ociTar := filepath.Join(dir, "ok-oci.tar")
	tarFolder(t, filepath.Join(dir, "layout"), ociTar)

	out, errOut, code := runStagex(t, "check", "oci:"+filepath.Join(dir, "layout")+":ok")
	if code != 0 || !strings.Contains(out, "PASS: 0 errors, 0 warnings, 0 accepted") || !strings.Contains(out, "0      core-tool") {
		t.Errorf("ok: exit %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, code = runStagex(t, "check", "--format", "json", "docker-archive:"+filepath.Join(dir, "bad.tar"))
	var r check.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if code != 1 || r.Passed || len(r.Findings) != 1 || r.Findings[0].Rule != check.RuleSetuid || r.Findings[0].Path != "/usr/bin/tool" || r.Findings[0].Package != "core-tool" {
		t.Errorf("bad: exit %d, report %+v\n%s", code, r, errOut)
	}
	out, _, code = runStagex(t, "check", "oci-archive:"+ociTar+":bad")
	if code != 1 || !strings.Contains(out, "error     setuid  /usr/bin/tool  core-tool") || !strings.Contains(out, "FAIL: 1 errors") {
		t.Errorf("oci-archive bad: exit %d\n%s", code, out)
	}
	// Without a ref, the layout holds two images for the platform.
	if _, errOut, code = runStagex(t, "check", "oci:"+filepath.Join(dir, "layout")); code != 2 || !strings.Contains(errOut, "2 images match") {
		t.Errorf("ambiguous layout: exit %d: %s", code, errOut)
	}

	spec := filepath.Join(dir, "tool.yaml")
	os.WriteFile(spec, []byte("version: 1\nname: tool\npackages: [core-tool]\ncheck:\n  accept:\n    - {rule: setuid, path: /usr/bin/tool, reason: the tool must switch users}\n"), 0o644)
	out, errOut, code = runStagex(t, "check", "--spec", spec, "docker-archive:"+filepath.Join(dir, "bad.tar"))
	if code != 0 || !strings.Contains(out, "[accepted: the tool must switch users]") || !strings.Contains(out, "PASS: 0 errors, 0 warnings, 1 accepted") {
		t.Errorf("accepted: exit %d\n%s\n%s", code, out, errOut)
	}
	os.WriteFile(spec, []byte("version: 1\nname: tool\npackages: [core-tool]\ncheck:\n  accept:\n    - {rule: suid, path: /usr/bin/tool, reason: typo}\n"), 0o644)
	if _, errOut, code := runStagex(t, "check", "--spec", spec, "docker-archive:"+filepath.Join(dir, "bad.tar")); code != 2 ||
		!strings.Contains(errOut, spec+":6:") || !strings.Contains(errOut, `unknown check rule "suid"`) {
		t.Errorf("an unknown rule: exit %d: %s", code, errOut)
	}
	os.WriteFile(spec, []byte("version: 1\nname: tool-static\npackages: [core-tool]\n"), 0o644)
	if _, _, code = runStagex(t, "check", "--spec", spec, "oci:"+filepath.Join(dir, "layout")+":ok"); code != 0 {
		t.Errorf("a static spec without a shell: exit %d", code)
	}

	for _, args := range [][]string{
		{"check"},
		{"check", "--format", "yaml", "x"},
		{"check", "oci:" + filepath.Join(dir, "nothing")},
		{"check", "--platform", "linux/", "oci:" + filepath.Join(dir, "layout")},
		{"check", "--spec", filepath.Join(dir, "nothing.yaml"), "oci:" + filepath.Join(dir, "layout")},
		{"check", "UPPER/Case:tag"},
	} {
		if _, errOut, code := runStagex(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2: %s", args, code, errOut)
		}
	}
}

// A registry reference: the image and the index holding it are read over
// HTTP, the platform picked from the index.
func TestCheckCommandRegistry(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	bad := checkImage(t, 0o4755)
	idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: bad, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}}})
	ref, err := name.ParseReference(host + "/stagex/tool:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runStagex(t, "check", host+"/stagex/tool:1")
	if code != 1 || !strings.Contains(out, "image: "+host+"/stagex/tool:1 (linux/"+runtime.GOARCH+")") || !strings.Contains(out, "setuid  /usr/bin/tool  core-tool") {
		t.Errorf("exit %d\n%s\n%s", code, out, errOut)
	}
	if _, errOut, code := runStagex(t, "check", "--platform", "linux/s390x", host+"/stagex/tool:1"); code != 2 || !strings.Contains(errOut, "s390x") {
		t.Errorf("a platform the index lacks: exit %d: %s", code, errOut)
	}
	if _, errOut, code := runStagex(t, "check", host+"/stagex/none:1"); code != 2 || !strings.Contains(errOut, "stagex/none:1") {
		t.Errorf("a missing image: exit %d: %s", code, errOut)
	}
}

// --timeout bounds the registry reads: a registry that never answers fails
// the command instead of hanging it.
func TestCheckCommandTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	start := time.Now()
	_, errOut, code := runStagex(t, "check", "--timeout", "300ms", host+"/stagex/tool:1")
	if code != 2 || !strings.Contains(errOut, "deadline exceeded") || time.Since(start) > 10*time.Second {
		t.Errorf("exit %d after %s: %s", code, time.Since(start), errOut)
	}
}

// tarFolder writes dir's files into a tar, as an OCI archive holds a layout.
func tarFolder(t *testing.T, dir, out string) {
	t.Helper()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	err = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: filepath.ToSlash(rel), Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(b))}); err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}
