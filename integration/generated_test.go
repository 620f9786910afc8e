package integration

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	spdxjson "github.com/spdx/tools-golang/json"

	"edp.buildth.ing/devfw-cicd/stagex/internal/solve"
)

// generatedSpec writes every kind of generated entry: accounts, a file, a
// link through the merged-/usr /bin, a folder, a file copied to a new path,
// a folder copied, a file copied into a folder a package holds (it goes
// into the folder) and one copied onto a file a package holds.
const generatedSpec = `version: 1
name: generated
packages: [core-musl, core-busybox, core-ca-certificates]
accounts:
  groups: [{name: app, gid: 65532}]
  users:  [{name: app, uid: 65532, gid: 65532, home: /srv}]
paths:
  - {path: /etc/app.conf, type: file, mode: "0640", content: "key=value\n"}
  - {path: /bin/app-link, type: symlink, target: app}
  - {path: /srv/data, type: directory, uid: 65532, gid: 65532}
copy:
  - {src: dist/app, dst: /usr/bin/app, mode: "0755"}
  - {src: conf, dst: /srv/conf}
  - {src: dist/app, dst: /usr/share}
  - {src: ca.crt, dst: /etc/ssl/certs/ca-certificates.crt}
`

// writeContext adds files to a spec's build context.
func writeContext(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestGeneratedLayerMatchesSBOM reads the pushed image's generated layer
// back and holds it against the SBOM's file entries: each file the SBOM
// lists by checksum is in the layer with that sha256, each link with its
// target, each copy at its path; and every file or link in the layer is
// one the SBOM lists, or lies in a copy's dst. What the SBOM says the layer
// holds is what it holds.
func TestGeneratedLayerMatchesSBOM(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	b := requireBed(t)
	dir := specDir(t, frontendImage(t), generatedSpec)
	writeContext(t, dir, map[string]string{"conf/a.conf": "a=1\n", "conf/sub/b.conf": "b=2\n", "ca.crt": "my bundle\n"})
	ref, _ := attestedBuild(ctx, t, b, dir, "generated", "", "min", false)

	_, atts, err := attestations(ref)
	if err != nil {
		t.Fatal(err)
	}
	var sbomPredicate []byte
	for _, a := range atts {
		if a.PredicateType == predicateSPDX {
			sbomPredicate = a.Predicate
		}
	}
	doc, err := spdxjson.Read(bytes.NewReader(sbomPredicate))
	if err != nil {
		t.Fatalf("no SPDX SBOM: %v", err)
	}
	layer, err := layerEntries(ref, -1)
	if err != nil {
		t.Fatal(err)
	}
	inLayer := map[string]layerEntry{}
	for _, e := range layer {
		inLayer[e.Name] = e
	}

	var copies []string
	listed := map[string]bool{}
	for _, f := range doc.Files {
		p := strings.TrimPrefix(f.FileName, ".")
		listed[p] = true
		e, ok := inLayer[p]
		switch {
		case !ok:
			t.Errorf("the SBOM lists %s, which the generated layer does not hold", p)
		case len(f.Checksums) == 1:
			if e.Type != tar.TypeReg || e.SHA256 != f.Checksums[0].Value {
				t.Errorf("%s: the SBOM says sha256 %s, the layer holds type %c sha256 %s", p, f.Checksums[0].Value, e.Type, e.SHA256)
			}
		case strings.HasPrefix(f.FileComment, "symlink to "):
			if want := strings.TrimPrefix(f.FileComment, "symlink to "); e.Type != tar.TypeSymlink || e.Linkname != want {
				t.Errorf("%s: the SBOM says a link to %s, the layer holds type %c to %q", p, want, e.Type, e.Linkname)
			}
		case strings.HasPrefix(f.FileComment, "copied from "):
			copies = append(copies, p)
		default:
			t.Errorf("%s: SBOM entry of no known kind: %+v", p, f)
		}
	}
	for _, want := range []string{"/etc/passwd", "/etc/group", "/etc/app.conf", "/usr/bin/app-link", "/usr/bin/app", "/srv/conf", "/usr/share", "/etc/ssl/certs/ca-certificates.crt"} {
		if !listed[want] {
			t.Errorf("the SBOM does not list %s", want)
		}
	}
	inCopy := func(p string) bool {
		for _, c := range copies {
			if p == c || strings.HasPrefix(p, c+"/") {
				return true
			}
		}
		return false
	}
	for _, e := range layer {
		if e.Type != tar.TypeDir && !listed[e.Name] && !inCopy(e.Name) {
			t.Errorf("the generated layer holds %s (type %c), which the SBOM does not list", e.Name, e.Type)
		}
	}
	// The copies landed where the spec says: a file into a package's
	// folder goes into it, one onto a package's file replaces its content.
	for p, want := range map[string]string{"/usr/share/app": "#!/bin/sh\necho app\n", "/srv/conf/sub/b.conf": "b=2\n", "/etc/ssl/certs/ca-certificates.crt": "my bundle\n"} {
		got, err := readImageFile(ref, p)
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", p, got, err, want)
		}
	}
	if e := inLayer["/usr/share"]; e.Type != tar.TypeDir {
		t.Errorf("/usr/share in the generated layer has type %c, want the package's folder", e.Type)
	}
}

// nonTag matches what a tag cannot hold.
var nonTag = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// TestGeneratedLayerReplacesNothing: entries that would replace a link or
// a file of the packages with another kind fail with the spec's line,
// pushing nothing; for copies onto the packages' folders and files that is
// decided by what the build context holds, read back after the solve.
// /usr/lib/ld-musl-x86_64.so.1 is core-musl's, not the base's.
func TestGeneratedLayerReplacesNothing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	b := requireBed(t)
	fe := frontendImage(t)
	c := client1(ctx, t)
	head := "version: 1\npackages: [core-musl, core-ca-certificates]\n"
	for _, tc := range []struct {
		name, body string
		want       []string
		files      map[string]string
	}{
		{"folder over /lib", "paths:\n  - {path: /lib, type: directory}\n",
			[]string{"stagex.yaml:5:", "/lib as a symlink to usr/lib"}, nil},
		{"copy over /bin", "copy:\n  - {src: dist, dst: /bin}\n",
			[]string{"stagex.yaml:5:", "/bin as a symlink to usr/bin", "/usr/bin"}, nil},
		{"file over a package's link", "paths:\n  - {path: /lib/libc.so, type: file}\n",
			[]string{"stagex.yaml:5:", "/usr/lib/libc.so as a symlink to"}, nil},
		{"copy into the accounts' folder", "accounts:\n  groups: [{name: app, gid: 10}]\ncopy:\n  - {src: dist, dst: /etc}\n",
			[]string{"stagex.yaml:7:", "could overwrite /etc/group"}, nil},
		{"folder copied onto a package's file", "copy:\n  - {src: dist, dst: /etc/ssl/certs/ca-certificates.crt}\n",
			[]string{"stagex.yaml:5:", "the copy to /etc/ssl/certs/ca-certificates.crt puts a folder at /etc/ssl/certs/ca-certificates.crt: the packages hold /etc/ssl/certs/ca-certificates.crt as a file"}, nil},
		{"a rootfs with bin/ copied into /", "copy:\n  - {src: rootfs, dst: /}\n",
			[]string{"stagex.yaml:5:", "the copy to / puts a folder at /bin: the packages hold /bin as a symlink to usr/bin"},
			map[string]string{"rootfs/bin/tool": "x", "rootfs/etc/tool.conf": "y"}},
		{"a file over a package's link, copied into its folder", "copy:\n  - {src: lib, dst: /usr/lib}\n",
			[]string{"stagex.yaml:5:", "puts a file at /usr/lib/libc.so: the packages hold /usr/lib/libc.so as a symlink"},
			map[string]string{"lib/libc.so": "not a libc"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := specDir(t, fe, head+tc.body)
			writeContext(t, dir, tc.files)
			ref := b.Ref("it/replace:" + strings.Trim(nonTag.ReplaceAllString(tc.name, "-"), "-"))
			requireBuildFails(ctx, t, c, solve.DockerfileBuild{DockerfileDir: dir, ContextDir: dir, Filename: "stagex.yaml", Push: ref}, tc.want...)
		})
	}
}
