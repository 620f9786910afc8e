package llb

import (
	"context"
	"io/fs"
	"maps"
	"path"
	"reflect"
	"slices"
	"strings"
	"testing"

	"edp.buildth.ing/devfw-cicd/stagex/spec"
	bkllb "github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
)

func TestParseAccountDBNames(t *testing.T) {
	db := parseAccountDB([]byte("root:x:0:0:root:/root:/bin/sh\n# comment:x:1:1\n\nshort:x\nnobody:x:65534:65534:nobody:/:/sbin/nologin"))
	if got := slices.Sorted(maps.Keys(db.names)); strings.Join(got, " ") != "nobody root" {
		t.Errorf("names = %v, want nobody root (no comment, no line without an id)", got)
	}
	if db.ids[65534] != "nobody" || len(db.lines) != 4 {
		t.Errorf("ids = %v, %d lines; want nobody at 65534 and every non-blank line kept", db.ids, len(db.lines))
	}
}

// countingFS counts the files read from the base, each a gateway round trip
// in the frontend.
type countingFS struct {
	mapFS
	reads map[string]int
}

func (c countingFS) ReadFile(ctx context.Context, p string) ([]byte, error) {
	c.reads[p]++
	return c.mapFS.ReadFile(ctx, p)
}

// config.user and the accounts both need the base's account files; they are
// read once, and not at all when nothing needs them.
func TestBaseAccountsReadOnce(t *testing.T) {
	for y, want := range map[string]int{
		"version: 1\npackages: [core-musl]\nconfig: {user: nobody}\naccounts:\n  users: [{name: app, uid: 10, gid: 10}]\n": 1,
		"version: 1\npackages: [core-musl]\nconfig: {user: \"10:10\"}\n":                                                   0,
	} {
		s, r := resolve(t, y)
		base := countingFS{mapFS: filesystem, reads: map[string]int{}}
		if _, err := Compose(context.Background(), &Input{Spec: s, Resolved: r, Images: images(t, r), Platform: amd64, BaseFS: base}); err != nil {
			t.Fatal(err)
		}
		if base.reads["/etc/passwd"] != want || base.reads["/etc/group"] != want {
			t.Errorf("%q: reads = %v, want each account file read %d times", y, base.reads, want)
		}
	}
}

// Two entries that land on one path once the base's symlinks are followed
// would leave only the later one in the image; they fail at the later line.
func TestGeneratedPathsClash(t *testing.T) {
	for name, c := range map[string]struct{ yaml, at, msg string }{
		"through a symlink": {
			"paths:\n  - {path: /usr/bin/sh, type: file}\n  - {path: /bin/sh, type: symlink, target: busybox}\n",
			"stagex.yaml:5:", "/usr/bin/sh is already written by paths[0].path (line 4)"},
		"accounts": {
			"accounts:\n  users: [{name: app, uid: 10, gid: 10}]\npaths:\n  - {path: /etc/passwd, type: file}\n",
			"stagex.yaml:6:", "/etc/passwd is already written by accounts"},
		"copy onto a file": {
			"paths:\n  - {path: /usr/bin/app, type: file}\ncopy:\n  - {src: app, dst: /bin/app}\n",
			"stagex.yaml:6:", "/usr/bin/app is already written by paths[0].path"},
		"copy into a folder holding the accounts": {
			"accounts:\n  users: [{name: app, uid: 10, gid: 10}]\ncopy:\n  - {src: etc, dst: /etc}\n",
			"stagex.yaml:6:", "the copy into /etc could overwrite /etc/group, which accounts (line 3) writes"},
		"copy into a folder holding a file": {
			"paths:\n  - {path: /srv/app, type: directory}\n  - {path: /srv/app/conf, type: file}\ncopy:\n  - {src: app, dst: /srv/app}\n",
			"stagex.yaml:7:", "the copy into /srv/app could overwrite /srv/app/conf, which paths[1].path (line 5) writes"},
		"copy onto the root": {
			"paths:\n  - {path: /srv/conf, type: file}\ncopy:\n  - {src: rootfs, dst: /}\n",
			"stagex.yaml:6:", "the copy into / could overwrite /srv/conf"},
		"a file as another entry's folder": {
			"paths:\n  - {path: /srv/app, type: file}\n  - {path: /srv/app/conf, type: file}\n",
			"stagex.yaml:5:", "paths[1] needs /srv/app as a folder, but paths[0].path (line 4) writes it as a file or link"},
	} {
		t.Run(name, func(t *testing.T) {
			err := composeErr(t, "version: 1\npackages: [core-musl]\n"+c.yaml)
			if err == nil || !strings.Contains(err.Error(), c.at) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("err = %v, want %s %s", err, c.at, c.msg)
			}
		})
	}
	// A copy into a folder the spec creates is what the folder is for.
	if err := composeErr(t, "version: 1\npackages: [core-musl]\npaths:\n  - {path: /srv, type: directory}\ncopy:\n  - {src: app, dst: /srv}\n"); err != nil {
		t.Fatalf("copy into a created folder: %v", err)
	}
}

// A folder the generated layer needs where the base has a file or a link
// would replace it in the merged image; it fails at the line that needs it.
func TestGeneratedParentIsNotAFolderInTheBase(t *testing.T) {
	base := maps.Clone(filesystem)
	base["/etc/app"] = file(0o644, "x")
	err := composeErrOn(t, base, "version: 1\npackages: [core-musl]\npaths:\n  - {path: /etc/app/conf, type: file}\n")
	if err == nil || !strings.Contains(err.Error(), "stagex.yaml:4:") || !strings.Contains(err.Error(), "not a folder") {
		t.Fatalf("err = %v, want a located error about /etc/app", err)
	}
}

func composeErr(t *testing.T, specYAML string) error {
	t.Helper()
	return composeErrOn(t, filesystem, specYAML)
}

// composeErrOn composes a spec on a base filesystem and returns the error.
func composeErrOn(t *testing.T, base mapFS, specYAML string) error {
	t.Helper()
	s, r := resolve(t, specYAML)
	_, err := Compose(context.Background(), &Input{Spec: s, Resolved: r, Images: images(t, r), Platform: amd64, BaseFS: base,
		Contexts: map[string]bkllb.State{spec.DefaultCopyFrom: bkllb.Scratch()}})
	return err
}

// An entry of the generated layer lies on top of the packages in the merge,
// so one of another type than what they hold replaces it whole: a folder at
// /lib hides the link /lib -> usr/lib and with it the musl loader's path.
// Each fails at its line, as archives do.
func TestGeneratedReplacesNothingBelow(t *testing.T) {
	base := maps.Clone(filesystem)
	base["/etc/resolv.conf"] = link("/run/resolv.conf")
	base["/etc/ssl"] = dir(0o755)
	for name, c := range map[string]struct{ yaml, at, msg string }{
		"folder over a link": {"paths:\n  - {path: /lib, type: directory}\n",
			"stagex.yaml:4:", "the packages hold /lib as a symlink to usr/lib; a folder there would replace the link"},
		"file over a link": {"paths:\n  - {path: /sbin, type: file}\n",
			"stagex.yaml:4:", "/sbin as a symlink to usr/sbin; a file there"},
		"copy over a link": {"copy:\n  - {src: bin, dst: /bin}\n",
			"stagex.yaml:4:", "/bin as a symlink to usr/bin; a copy there"},
		"copy over a link below": {"copy:\n  - {src: resolv.conf, dst: /etc/resolv.conf}\n",
			"stagex.yaml:4:", "/etc/resolv.conf as a symlink to /run/resolv.conf"},
		"link over a folder": {"paths:\n  - {path: /etc, type: symlink, target: /usr/etc}\n",
			"stagex.yaml:4:", "the packages hold /etc as a folder; a symlink there would replace it"},
		"file over a folder through a link": {"paths:\n  - {path: /usr/bin, type: file}\n",
			"stagex.yaml:4:", "the packages hold /usr/bin as a folder; a file there"},
		"folder over a file": {"paths:\n  - {path: /etc/passwd, type: directory}\n",
			"stagex.yaml:4:", "the packages hold /etc/passwd as a file; a folder there"},
		"link over a file": {"paths:\n  - {path: /etc/group, type: symlink, target: /x}\n",
			"stagex.yaml:4:", "the packages hold /etc/group as a file; a symlink there"},
	} {
		t.Run(name, func(t *testing.T) {
			err := composeErrOn(t, base, "version: 1\npackages: [core-musl]\n"+c.yaml)
			if err == nil || !strings.Contains(err.Error(), c.at) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("err = %v, want %s %s", err, c.at, c.msg)
			}
		})
	}
	// The accounts are written over /etc/passwd and /etc/group; a link
	// there would be replaced too.
	linked := maps.Clone(base)
	linked["/etc/group"] = link("../usr/etc/group")
	err := composeErrOn(t, linked, "version: 1\npackages: [core-musl]\naccounts:\n  groups: [{name: app, gid: 10}]\n")
	if err == nil || !strings.Contains(err.Error(), "stagex.yaml:3:") || !strings.Contains(err.Error(), "/etc/group as a symlink") {
		t.Fatalf("accounts over a linked /etc/group: err = %v", err)
	}
	// Same kinds are what a layer may write, and a hint names where a link
	// points.
	for _, ok := range []string{
		"paths:\n  - {path: /lib, type: symlink, target: usr/lib}\n",
		"paths:\n  - {path: /etc, type: directory, mode: \"0750\"}\n",
		"paths:\n  - {path: /etc/passwd, type: file}\n",
		"copy:\n  - {src: certs, dst: /etc/ssl}\n",
		"copy:\n  - {src: passwd, dst: /etc/passwd}\n",
	} {
		if err := composeErrOn(t, base, "version: 1\npackages: [core-musl]\n"+ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	err = composeErrOn(t, base, "version: 1\npackages: [core-musl]\ncopy:\n  - {src: app, dst: /bin}\n")
	if err == nil || !strings.Contains(err.Error(), "hint: write it at /usr/bin, where the link points") {
		t.Fatalf("err = %v, want a hint naming /usr/bin", err)
	}
}

// A copy into a folder the packages hold goes into it, as Dockerfile COPY
// does: the folder is staged with the packages' metadata, so a file from the
// context cannot land at the folder's own path and replace it. Both it and
// a copy onto a file they hold are read back after the solve (CheckCopies).
func TestCopyStagesWhatIsBelow(t *testing.T) {
	base := maps.Clone(filesystem)
	base["/etc/ssl"] = memFile{FileInfo: FileInfo{Mode: fs.ModeDir | 0o750, UID: 0, GID: 42}}
	s, r := resolve(t, "version: 1\npackages: [core-musl]\ncopy:\n  - {src: certs, dst: /etc/ssl}\n  - {src: passwd, dst: /etc/passwd}\n")
	plan, err := planGenerated(context.Background(), &Input{Spec: s, Resolved: r, BaseFS: base,
		Contexts: map[string]bkllb.State{spec.DefaultCopyFrom: bkllb.Scratch()}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range plan.entries {
		got = append(got, e.kind.String()+" "+e.path)
	}
	want := "folder /etc, folder /etc/ssl, copy /etc/ssl, copy /etc/passwd"
	if strings.Join(got, ", ") != want {
		t.Fatalf("entries = %s, want %s", strings.Join(got, ", "), want)
	}
	var fa *bkllb.FileAction
	for _, e := range plan.entries {
		fa = e.add(fa)
	}
	def, err := bkllb.Scratch().File(fa).Marshal(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var op pb.Op
	if err := op.UnmarshalVT(def.Def[0]); err != nil {
		t.Fatal(err)
	}
	staged := false
	for _, a := range op.GetFile().GetActions() {
		if mk := a.GetMkdir(); mk != nil && mk.Path == "/etc/ssl" {
			staged = mk.Mode == 0o750 && mk.Owner.GetGroup().GetByID() == 42
		}
	}
	if !staged {
		t.Error("/etc/ssl must be staged with the packages' mode 0750 and group 42")
	}
	var back []string
	for _, e := range plan.readBack {
		back = append(back, e.path)
	}
	if strings.Join(back, " ") != "/etc/ssl /etc/passwd" {
		t.Errorf("read back after the solve: %v, want both copies", back)
	}
}

// ReadDir lists a folder of the in-memory filesystem.
func (m mapFS) ReadDir(_ context.Context, p string) ([]string, error) {
	var names []string
	for k := range m {
		if k != p && path.Dir(k) == p {
			names = append(names, path.Base(k))
		}
	}
	slices.Sort(names)
	return names, nil
}

// What a copy into a folder the packages hold brings is only known once
// BuildKit has copied it: CheckCopies reads the solved layer back and
// refuses what would replace the packages' entries with another kind, at
// the copy's line.
func TestCheckCopies(t *testing.T) {
	base := maps.Clone(filesystem)
	base["/usr/lib"] = dir(0o755)
	base["/usr/lib/ld-musl-x86_64.so.1"] = link("libc.so")
	y := "version: 1\npackages: [core-musl]\ncopy:\n  - {src: app, dst: /srv/app}\n  - {src: rootfs, dst: /}\n  - {src: passwd, dst: /etc/passwd}\n"
	s, r := resolve(t, y)
	res, err := Compose(context.Background(), &Input{Spec: s, Resolved: r, Images: images(t, r), Platform: amd64, BaseFS: base,
		Contexts: map[string]bkllb.State{spec.DefaultCopyFrom: bkllb.Scratch()}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.NeedsCopyCheck() {
		t.Fatal("a copy into / needs its content checked")
	}
	for name, c := range map[string]struct {
		layer mapFS
		want  string
	}{
		"a folder over /bin": {mapFS{"/srv": dir(0o755), "/srv/app": file(0o755, ""), "/bin": dir(0o755), "/bin/tool": file(0o755, "")},
			"stagex.yaml:5:24: the copy to / puts a folder at /bin: the packages hold /bin as a symlink to usr/bin"},
		"a file over a package's link": {mapFS{"/usr": dir(0o755), "/usr/lib": dir(0o755), "/usr/lib/ld-musl-x86_64.so.1": file(0o755, "")},
			"the copy to / puts a file at /usr/lib/ld-musl-x86_64.so.1: the packages hold /usr/lib/ld-musl-x86_64.so.1 as a symlink to libc.so"},
		"a link over a folder": {mapFS{"/etc": link("/srv/etc")},
			"the copy to / puts a symlink at /etc: the packages hold /etc as a folder"},
		"a folder onto a file": {mapFS{"/etc": dir(0o755), "/etc/passwd": dir(0o755), "/etc/passwd/x": file(0o644, "")},
			"stagex.yaml:6:24: the copy to /etc/passwd puts a folder at /etc/passwd: the packages hold /etc/passwd as a file"},
	} {
		t.Run(name, func(t *testing.T) {
			err := res.CheckCopies(context.Background(), base, c.layer)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %s", err, c.want)
			}
		})
	}
	ok := mapFS{"/srv": dir(0o755), "/srv/app": file(0o755, ""), "/usr": dir(0o700), "/usr/bin": dir(0o755),
		"/usr/bin/tool": file(0o755, ""), "/etc": dir(0o755), "/etc/passwd": file(0o644, ""), "/lib": link("usr/lib")}
	if err := res.CheckCopies(context.Background(), base, ok); err != nil {
		t.Fatalf("same kinds over the packages' entries: %v", err)
	}
}

// prefetchFS records what the composition told it it would read.
type prefetchFS struct {
	countingFS
	calls *[][2][]string // dirs, files of each Prefetch call
}

func (p prefetchFS) Prefetch(_ context.Context, dirs, files []string) {
	*p.calls = append(*p.calls, [2][]string{dirs, files})
}

// The composition announces, once and before its first read, the folders
// above every path it writes and the account files it needs; nothing when
// it reads nothing, so that the packages are never solved for it.
func TestPrefetch(t *testing.T) {
	for y, want := range map[string][][2][]string{
		"version: 1\npackages: [core-musl]\naccounts:\n  users: [{name: app, uid: 10, gid: 10}]\n" +
			"paths:\n  - {path: /usr/local/bin/app, type: file}\ncopy:\n  - {src: app, dst: /srv/app}\n": {{
			{"/", "/etc", "/srv", "/usr", "/usr/local", "/usr/local/bin"}, {"/etc/group", "/etc/passwd"}}},
		"version: 1\npackages: [core-musl]\nconfig: {user: nobody}\n":                    {{nil, {"/etc/group", "/etc/passwd"}}},
		"version: 1\npackages: [core-musl]\npaths:\n  - {path: /opt, type: directory}\n": {{{"/"}, nil}},
		"version: 1\npackages: [core-musl]\nconfig: {user: \"10:10\"}\n":                 nil,
	} {
		s, r := resolve(t, y)
		var calls [][2][]string
		base := prefetchFS{countingFS: countingFS{mapFS: filesystem, reads: map[string]int{}}, calls: &calls}
		if _, err := Compose(context.Background(), &Input{Spec: s, Resolved: r, Images: images(t, r), Platform: amd64, BaseFS: base,
			Contexts: map[string]bkllb.State{"context": bkllb.Local("context")}}); err != nil {
			t.Fatalf("%q: %v", y, err)
		}
		if !reflect.DeepEqual(calls, want) {
			t.Errorf("%q: prefetch calls = %q, want %q", y, calls, want)
		}
	}
}
