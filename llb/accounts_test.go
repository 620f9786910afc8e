package llb

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	"edp.buildth.ing/devfw-cicd/stagex/spec"
	bkllb "github.com/moby/buildkit/client/llb"
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
