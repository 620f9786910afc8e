package testbed

import (
	"archive/tar"
	"bytes"
	"edp.buildth.ing/devfw-cicd/stagex/spec"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// testOptions builds without the host's busybox and with a small core-large,
// so the unit tests need nothing installed and stay fast.
func testOptions() Options {
	return Options{Busybox: []byte("#!fake busybox\n"), Large: true, LargeSize: 3 << 20, Extra: []string{"core-anything"}}
}

func TestFixturesDeterministic(t *testing.T) {
	a, err := BuildFixtures(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	b, err := BuildFixtures(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != len(DefaultFixtureNames)+2 {
		t.Fatalf("built %d fixtures: %v", len(a), a.Names())
	}
	for _, n := range a.Names() {
		if a[n].Digest != b[n].Digest {
			t.Errorf("%s: digest differs between two builds: %s vs %s", n, a[n].Digest, b[n].Digest)
		}
		if strings.Join(a[n].Layers, ",") != strings.Join(b[n].Layers, ",") {
			t.Errorf("%s: layers differ between two builds", n)
		}
	}
	la, _ := NewLock("127.0.0.1:5000", a).Marshal()
	lb, _ := NewLock("127.0.0.1:5000", b).Marshal()
	if !bytes.Equal(la, lb) {
		t.Errorf("locks differ:\n%s\n%s", la, lb)
	}
}

func TestFixtureShape(t *testing.T) {
	set, err := BuildFixtures(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	fs := set[Filesystem]
	if len(fs.Layers) != 1 {
		t.Fatalf("core-filesystem has %d layers, want 1", len(fs.Layers))
	}
	for _, n := range set.Names() {
		f := set[n]
		m, err := f.Image.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		if m.MediaType != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON {
			t.Errorf("%s: media types %s / %s", n, m.MediaType, m.Config.MediaType)
		}
		for _, l := range m.Layers {
			if l.MediaType != types.OCILayer {
				t.Errorf("%s: layer media type %s", n, l.MediaType)
			}
		}
		cf, err := f.Image.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.OS != "linux" || cf.Architecture != "amd64" || cf.Created.Unix() != 0 {
			t.Errorf("%s: config os/arch/created = %s/%s/%s", n, cf.OS, cf.Architecture, cf.Created)
		}
		if len(cf.History) != len(f.Layers) || len(cf.RootFS.DiffIDs) != len(f.Layers) {
			t.Errorf("%s: %d history entries, %d diff_ids, %d layers", n, len(cf.History), len(cf.RootFS.DiffIDs), len(f.Layers))
		}
		if len(cf.Config.Entrypoint) != 0 {
			t.Errorf("%s: has an entrypoint", n)
		}
		switch n {
		case Filesystem:
		case PalletTools:
			if len(f.Layers) != 3 || f.Layers[0] == fs.Layers[0] {
				t.Errorf("pallet-tools layers = %v, want 3 of its own", f.Layers)
			}
		default:
			if len(f.Layers) != 2 || f.Layers[0] != fs.Layers[0] {
				t.Errorf("%s layers = %v, want [%s, own]", n, f.Layers, fs.Layers[0])
			}
			if cf.Config.User != "1000:1000" {
				t.Errorf("%s: user %q", n, cf.Config.User)
			}
			files := flatten(t, f)
			if got := files["usr/share/stagex-fixture/"+n+"/README"]; got != markerText(n) {
				t.Errorf("%s: marker README = %q", n, got)
			}
		}
	}

	fsFiles := flatten(t, fs)
	if !strings.Contains(fsFiles["etc/passwd"], "user:x:1000:1000:") || !strings.Contains(fsFiles["etc/passwd"], "nobody:x:65534:") {
		t.Errorf("etc/passwd = %q", fsFiles["etc/passwd"])
	}
	if fsFiles["bin"] != "-> usr/bin" || fsFiles["tmp/"] != "dir 1777" {
		t.Errorf("bin = %q, tmp = %q", fsFiles["bin"], fsFiles["tmp/"])
	}
	bb := flatten(t, set[Busybox])
	if bb["usr/bin/sh"] != "-> busybox" || bb["usr/bin/busybox"] != "#!fake busybox\n" {
		t.Errorf("busybox: sh = %q, busybox = %q", bb["usr/bin/sh"], bb["usr/bin/busybox"])
	}
	musl := flatten(t, set[Musl])
	if musl["usr/lib/libc.so"] != "-> /usr/lib/ld-musl-x86_64.so.1" || musl["usr/lib/libc.musl-x86_64.so.1"] != "-> ld-musl-x86_64.so.1" {
		t.Errorf("musl links: libc.so %q, libc.musl-x86_64.so.1 %q", musl["usr/lib/libc.so"], musl["usr/lib/libc.musl-x86_64.so.1"])
	}
	large, _ := set[Large].Image.Layers()
	if sz, _ := large[1].Size(); sz < 3<<20 {
		t.Errorf("core-large package layer is %d bytes compressed: not incompressible?", sz)
	}
}

// flatten returns path → content ("-> target" for symlinks, "dir MODE" for
// directories, with a trailing slash on the key).
func flatten(t *testing.T, f *Fixture) map[string]string {
	t.Helper()
	rc := mutate.Extract(f.Image)
	defer rc.Close()
	out := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if !h.ModTime.Equal(Epoch) || h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s: %s mtime %s uid %d gid %d", f.Name, h.Name, h.ModTime, h.Uid, h.Gid)
		}
		switch h.Typeflag {
		case tar.TypeSymlink:
			out[h.Name] = "-> " + h.Linkname
		case tar.TypeDir:
			out[strings.TrimSuffix(h.Name, "/")+"/"] = "dir " + octal(h.Mode)
		default:
			b, _ := io.ReadAll(tr)
			out[h.Name] = string(b)
		}
	}
}

func octal(m int64) string { return strconv.FormatInt(m, 8) }

func TestLockFormat(t *testing.T) {
	set := FixtureSet{
		"core-zlib": {Name: "core-zlib", Version: "1.3.1", License: "Zlib", Digest: "sha256:" + strings.Repeat("b", 64)},
		"core-musl": {Name: "core-musl", Version: "1.2.5", License: "MIT", Digest: "sha256:" + strings.Repeat("a", 64)},
	}
	b, err := NewLock("127.0.0.1:5000", set).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// The fixture lock must read back through the frontend's own parser.
	back, err := spec.ParseLock("fixtures.lock.yaml", b)
	if err != nil {
		t.Fatalf("the fixture lock does not parse as a lock: %v\n%s", err, b)
	}
	if back.Registry != "127.0.0.1:5000/stagex" || back.Release != FixtureRelease ||
		back.Packages["core-zlib"].Digests[FixturePlatform] != "sha256:"+strings.Repeat("b", 64) ||
		back.Packages["core-musl"].Version != "1.2.5" || back.Packages["core-musl"].License != "MIT" {
		t.Errorf("round trip: %+v", back)
	}
	if got := ManifestPath("/x/out.lock.yaml"); got != "/x/out.fixtures.json" {
		t.Errorf("ManifestPath = %s", got)
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv(EnvBuildkitAddr, "")
	t.Setenv(EnvRegistryAddr, "")
	if _, err := FromEnv(); err == nil {
		t.Fatal("FromEnv without env: no error")
	}
	t.Setenv(EnvBuildkitAddr, "unix:///x.sock")
	t.Setenv(EnvRegistryAddr, "127.0.0.1:1")
	t.Setenv(EnvBuildkitAddr2, "unix:///y.sock")
	b, err := FromEnv()
	if err != nil || b.BuildkitAddr != "unix:///x.sock" || b.BuildkitAddr2 != "unix:///y.sock" || b.RegistryAddr != "127.0.0.1:1" {
		t.Fatalf("FromEnv = %+v, %v", b, err)
	}
}
