package llb

import (
	"context"
	"edp.buildth.ing/devfw-cicd/stagex/internal/golden"
	"encoding/json"
	"io/fs"
	"reflect"
	"slices"
	"strings"
	"testing"

	"edp.buildth.ing/devfw-cicd/stagex/spec"
	bkllb "github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
)

var jreSum = strings.Repeat("9a", 32)

const archiveTestSpec = `version: 1
name: base-java
packages: [core-musl, core-busybox]
config:
  env: {JAVA_HOME: /opt/java/openjdk}
  entrypoint: [/opt/java/openjdk/bin/java]
archives:
  - name: temurin-jre
    url: https://example.org/OpenJDK21U-jre_x64_alpine-linux_hotspot_21.0.12_8.tar.gz
    sha256: `

func archiveSpecYAML(strip int) string {
	return archiveTestSpec + jreSum + `
    dst: /opt/java/openjdk
    strip-components: ` + string(rune('0'+strip)) + `
    version: 21.0.12+8
    license: GPL-2.0-only WITH Classpath-exception-2.0
paths:
  - {path: /home/nonroot, type: directory}
`
}

// ops returns the definition's ops in order.
func ops(t *testing.T, c composed) []*pb.Op {
	t.Helper()
	var out []*pb.Op
	for _, dt := range c.def.Def {
		var op pb.Op
		if err := op.UnmarshalVT(dt); err != nil {
			t.Fatal(err)
		}
		out = append(out, &op)
	}
	return out
}

func TestArchiveGolden(t *testing.T) {
	c := compose(t, archiveSpecYAML(1))
	golden.Check(t, "archive.llb.json", dumpLLB(t, c.def))
	cfg, err := json.MarshalIndent(c.res.Image, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "archive.config.json", append(cfg, '\n'))
}

// TestArchiveLayer checks the LLB of an archive: fetched over HTTP with its
// checksum, unpacked, stripped, owned by root, and copied at the epoch.
func TestArchiveLayer(t *testing.T) {
	c := compose(t, archiveSpecYAML(1))
	var httpSrc *pb.SourceOp
	var unpack, place, layer *pb.FileActionCopy
	var mkdirs []string
	for _, op := range ops(t, c) {
		if s := op.GetSource(); s != nil && strings.HasPrefix(s.Identifier, "https://") {
			if httpSrc != nil {
				t.Fatal("two HTTP sources for one archive")
			}
			httpSrc = s
		}
		for _, a := range op.GetFile().GetActions() {
			if mk := a.GetMkdir(); mk != nil && strings.HasPrefix(mk.Path, "/opt") {
				mkdirs = append(mkdirs, mk.Path)
			}
			cp := a.GetCopy()
			switch {
			case cp == nil:
			case cp.AttemptUnpackDockerCompatibility:
				unpack = cp
			case cp.Dest == "/opt/java/openjdk":
				place = cp
			case cp.Src == "/" && cp.Dest == "/" && cp.Timestamp != -1 && place != nil && layer == nil:
				layer = cp
			}
		}
	}
	if httpSrc == nil {
		t.Fatal("no HTTP source")
	}
	if httpSrc.Identifier != "https://example.org/OpenJDK21U-jre_x64_alpine-linux_hotspot_21.0.12_8.tar.gz" ||
		httpSrc.Attrs[pb.AttrHTTPChecksum] != "sha256:"+jreSum {
		t.Errorf("HTTP source = %s %v, want the spec's url and checksum", httpSrc.Identifier, httpSrc.Attrs)
	}
	if unpack == nil || unpack.Src != "/"+archiveFile {
		t.Fatalf("unpack copy = %+v, want AttemptUnpack of /%s", unpack, archiveFile)
	}
	if place == nil || place.Src != "/*" || !place.AllowWildcard || !place.DirCopyContents {
		t.Fatalf("strip copy = %+v, want the contents of /* (strip-components 1)", place)
	}
	if o := place.Owner; o == nil || o.User.GetByID() != 0 || o.Group.GetByID() != 0 {
		t.Errorf("strip copy owner = %+v, want root (tar --no-same-owner)", o)
	}
	if want := "/opt /opt/java /opt/java/openjdk"; strings.Join(mkdirs, " ") != want {
		t.Errorf("mkdirs = %v, want %s", mkdirs, want)
	}
	if layer == nil || layer.Timestamp != c.input.Epoch.UnixNano() {
		t.Fatalf("final copy = %+v, want every time at the epoch", layer)
	}

	// strip-components 0 copies the archive's root, 2 goes two levels down.
	for strip, src := range map[int]string{0: "/", 2: "/*/*"} {
		c := compose(t, archiveSpecYAML(strip))
		found := false
		for _, op := range ops(t, c) {
			for _, a := range op.GetFile().GetActions() {
				if cp := a.GetCopy(); cp != nil && cp.Dest == "/opt/java/openjdk" {
					found = true
					if cp.Src != src || cp.AllowWildcard != (strip > 0) {
						t.Errorf("strip-components %d: copy %s wildcard %v, want %s", strip, cp.Src, cp.AllowWildcard, src)
					}
				}
			}
		}
		if !found {
			t.Errorf("strip-components %d: no copy into dst", strip)
		}
	}
}

// The archive is a merge input of its own, after the packages and before
// the generated layer; history and labels say where it came from.
func TestArchiveOrderHistoryAndLabels(t *testing.T) {
	c := compose(t, archiveSpecYAML(1))
	var merge *pb.MergeOp
	for _, op := range ops(t, c) {
		if m := op.GetMerge(); m != nil {
			merge = m
		}
	}
	// filesystem, musl, busybox, archive, generated
	if merge == nil || len(merge.Inputs) != 5 {
		t.Fatalf("merge = %+v, want 5 inputs", merge)
	}
	want := []spec.ResolvedArchive{{Archive: spec.Archive{
		Name: "temurin-jre", Version: "21.0.12+8", License: "GPL-2.0-only WITH Classpath-exception-2.0",
		URL: "https://example.org/OpenJDK21U-jre_x64_alpine-linux_hotspot_21.0.12_8.tar.gz", SHA256: jreSum, Dst: "/opt/java/openjdk",
	}}}
	if len(c.res.Archives) != 1 {
		t.Fatalf("Result.Archives = %+v, want %+v", c.res.Archives, want)
	}
	got := c.res.Archives[0]
	got.At, got.StripComponents = spec.ArchiveAt{}, 0
	if got != want[0] {
		t.Errorf("Result.Archives = %+v, want %+v", c.res.Archives, want)
	}
	h := c.res.Image.History
	if len(h) != 5 {
		t.Fatalf("history has %d entries, want 5 (3 packages, the archive, the generated layer)", len(h))
	}
	wantHistory := "stagex: archive temurin-jre 21.0.12+8 from " + want[0].URL + " (sha256:" + jreSum + ", not from StageX) into /opt/java/openjdk"
	if h[3].CreatedBy != wantHistory {
		t.Errorf("history[3] = %q, want %q", h[3].CreatedBy, wantHistory)
	}
	if !strings.Contains(h[4].CreatedBy, "generated layer") {
		t.Errorf("history[4] = %q, want the generated layer last", h[4].CreatedBy)
	}
	label := c.res.Image.Config.Labels[spec.ArchiveLabelPrefix+"temurin-jre"]
	if !strings.Contains(label, "not from StageX") || !strings.Contains(label, want[0].URL) || !strings.Contains(label, jreSum) {
		t.Errorf("label %s = %q", spec.ArchiveLabelPrefix+"temurin-jre", label)
	}
}

// composeArchiveWithLock composes the one-archive spec through the test
// lock plus archives (YAML lines to append), and returns the result and the
// LLB's HTTP sources.
func composeArchiveWithLock(t *testing.T, archives string) (*spec.Spec, *Result, []*pb.SourceOp) {
	t.Helper()
	s, err := spec.ParseSpec("stagex.yaml", []byte(archiveSpecYAML(1)))
	if err != nil {
		t.Fatal(err)
	}
	l, err := spec.ParseLock("stagex.lock.yaml", []byte(lockYAML+archives))
	if err != nil {
		t.Fatal(err)
	}
	r, err := spec.Resolve(s, l, spec.ResolveOptions{Platform: "linux/amd64"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Compose(context.Background(), &Input{Spec: s, Resolved: r, Images: images(t, r), Platform: amd64, BaseFS: filesystem})
	if err != nil {
		t.Fatal(err)
	}
	def, err := res.State.Marshal(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var http []*pb.SourceOp
	for _, dt := range def.Def {
		var op pb.Op
		if err := op.UnmarshalVT(dt); err != nil {
			t.Fatal(err)
		}
		if src := op.GetSource(); src != nil && strings.HasPrefix(src.Identifier, "http") {
			http = append(http, src)
		}
	}
	return s, res, http
}

// The lock's pin replaces the spec's, and the image says so.
func TestArchiveLockPin(t *testing.T) {
	other := strings.Repeat("0f", 32)
	_, res, http := composeArchiveWithLock(t, "archives:\n  temurin-jre: {url: \"http://127.0.0.1:5000/jre.tgz\", sha256: "+other+"}\n")
	if a := res.Archives[0]; a.URL != "http://127.0.0.1:5000/jre.tgz" || a.SHA256 != other || !a.FromLock {
		t.Errorf("archive = %+v, want the lock's pin", a)
	}
	if len(http) != 1 || http[0].Identifier != "http://127.0.0.1:5000/jre.tgz" || http[0].Attrs[pb.AttrHTTPChecksum] != "sha256:"+other {
		t.Errorf("HTTP sources = %v, want one with the lock's url and checksum", http)
	}
}

// Parent folders keep the base's metadata; a parent that is not a folder in
// the base, or one with special bits, stops the build at the spec's line.
func TestArchiveParents(t *testing.T) {
	base := mapFS{}
	for k, v := range filesystem {
		base[k] = v
	}
	base["/opt"] = memFile{FileInfo: FileInfo{Mode: fs.ModeDir | 0o750, UID: 7, GID: 8}}
	s, r := resolve(t, archiveSpecYAML(1))
	in := &Input{Spec: s, Resolved: r, Images: images(t, r), Platform: amd64, BaseFS: base}
	res, err := Compose(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	def, _ := res.State.Marshal(context.Background())
	var opt *pb.FileActionMkDir
	for _, dt := range def.Def {
		var op pb.Op
		_ = op.UnmarshalVT(dt)
		for _, a := range op.GetFile().GetActions() {
			if mk := a.GetMkdir(); mk != nil && mk.Path == "/opt" {
				opt = mk
			}
		}
	}
	if opt == nil || opt.Mode != 0o750 || opt.Owner.User.GetByID() != 7 || opt.Owner.Group.GetByID() != 8 {
		t.Errorf("mkdir /opt = %+v, want the base's 0750 7:8", opt)
	}

	for name, f := range map[string]memFile{
		"file":   file(0o644, "x"),
		"sticky": dir(fs.ModeSticky | 0o777),
	} {
		base["/opt"] = f
		_, err := Compose(context.Background(), in)
		if err == nil || !strings.Contains(err.Error(), "stagex.yaml:11:") {
			t.Errorf("%s /opt in the base: err = %v, want an error at the dst line", name, err)
		}
	}
}

// Result.Inputs are the merge inputs, in the merge's order, each named by
// what it is, so the build-time check can mount each one and attribute its
// files.
func TestResultInputs(t *testing.T) {
	c := compose(t, archiveSpecYAML(1))
	var mergeOp *pb.Op
	for _, op := range ops(t, c) {
		if op.GetMerge() != nil {
			mergeOp = op
		}
	}
	names := make([]string, len(c.res.Inputs))
	for i, in := range c.res.Inputs {
		names[i] = in.Name
		def, err := in.State.Marshal(context.Background(), bkllb.Platform(amd64))
		if err != nil {
			t.Fatal(err)
		}
		var ret pb.Op // the definition ends with an op that names the state's vertex
		if err := ret.UnmarshalVT(def.Def[len(def.Def)-1]); err != nil {
			t.Fatal(err)
		}
		want := mergeOp.Inputs[mergeOp.GetMerge().Inputs[i].Input].Digest
		if got := ret.Inputs[0].Digest; got != want {
			t.Errorf("Inputs[%d] (%s) is %s, merge input %d is %s", i, in.Name, got, i, want)
		}
	}
	want := []string{"core-filesystem", "core-musl", "core-busybox", "temurin-jre", GeneratedName}
	if !slices.Equal(names, want) {
		t.Errorf("Inputs = %v, want %v", names, want)
	}
}

// A lock that pins the spec's sha256 at another url is a mirror of the same
// bytes: BuildKit fetches from the mirror, but the history entry and the
// label name the spec's url, so that the image is the same from any mirror.
func TestArchiveMirrorKeepsTheImage(t *testing.T) {
	mirror := "http://127.0.0.1:5000/v2/stagex/temurin-jre/blobs/sha256:" + jreSum
	s, plain, _ := composeArchiveWithLock(t, "")
	_, mirrored, http := composeArchiveWithLock(t, "archives:\n  temurin-jre: {url: \""+mirror+"\", sha256: "+jreSum+"}\n")
	if len(http) != 1 || http[0].Identifier != mirror || http[0].Attrs[pb.AttrHTTPChecksum] != "sha256:"+jreSum {
		t.Errorf("HTTP sources = %v, want one, the mirror with the spec's checksum", http)
	}
	a := mirrored.Archives[0]
	if a.URL != s.Archives[0].URL || a.Mirror != mirror || a.FetchURL() != mirror || !a.FromLock {
		t.Errorf("archive = %+v, want the spec's url, fetched from the mirror", a)
	}
	if !reflect.DeepEqual(mirrored.Image, plain.Image) {
		t.Errorf("the mirror changed the image config:\n%+v\nwant\n%+v", mirrored.Image, plain.Image)
	}
	for _, h := range mirrored.Image.History {
		if strings.Contains(h.CreatedBy, "127.0.0.1") {
			t.Errorf("history names the mirror: %q", h.CreatedBy)
		}
	}
}
