package spec

import (
	"errors"
	"reflect"
	"slices"
	"testing"
)

func ptr[T any](v T) *T { return &v }

func TestParseSpecFullExample(t *testing.T) {
	got, err := ParseSpec("stagex.yaml", readTestdata(t, "full.stagex.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := &Spec{
		Version:     1,
		Name:        "base-go",
		Description: "Go toolchain on musl",
		Lock:        "stagex.lock.yaml",
		Base:        "core-filesystem",
		Packages: []PackageRef{
			{Ref: "core-musl", Pos: Pos{8, 5}},
			{Ref: "core-busybox", Pos: Pos{9, 5}},
			{Ref: "registry.example.com/stagex/core-go:1.26.0@" + digestG, Pos: Pos{10, 5}},
		},
		Config: Config{
			Env:        map[string]string{"PATH": "/usr/bin:/bin"},
			User:       "1000:1000",
			Workdir:    "/home/user",
			Entrypoint: []string{"/usr/bin/go"},
			Cmd:        []string{"version"},
			Labels:     map[string]string{"org.example.team": "platform"},
			Expose:     []string{"8080/tcp"},
			Volumes:    []string{"/data"},
			StopSignal: "SIGTERM",
		},
		Annotations: map[string]string{"org.opencontainers.image.vendor": "EDP"},
		Accounts: Accounts{
			Groups: []Group{{Name: "app", GID: 65532}},
			Users:  []User{{Name: "app", UID: 65532, GID: 65532, Home: "/home/app", Shell: "/sbin/nologin"}},
		},
		Paths: []Path{
			{Path: "/home/app", Type: PathDirectory, Mode: ptr(uint32(0o750)), UID: 65532, GID: 65532},
			{Path: "/etc/app.conf", Type: PathFile, Mode: ptr(uint32(0o644)), Content: "key=value\n"},
			{Path: "/usr/bin/sh", Type: PathSymlink, Target: "busybox"},
		},
		Copy: []Copy{{From: "context", Src: "dist/app", Dst: "/usr/bin/app", Mode: ptr(uint32(0o755))}},
		Check: Check{
			Accept: []Accept{{Rule: "elf-needed-missing", Path: "/usr/lib/go/misc/*", Soname: "libc.so.6", Reason: "test data, never run"}},
			Tests:  []Test{{Name: "version", Run: []string{"/usr/bin/go", "version"}, Output: "go1.26"}},
		},
		File: "stagex.yaml",
	}
	gotCopy := *got
	gotCopy.index = nil
	// Positions are TestFieldPositions's.
	gotCopy.Paths, gotCopy.Copy = slices.Clone(got.Paths), slices.Clone(got.Copy)
	for i := range gotCopy.Paths {
		gotCopy.Paths[i].At = PathAt{}
	}
	for i := range gotCopy.Copy {
		gotCopy.Copy[i].At = CopyAt{}
	}
	if !reflect.DeepEqual(&gotCopy, want) {
		t.Errorf("ParseSpec =\n%#v\nwant\n%#v", &gotCopy, want)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("Validate after ParseSpec: %v", err)
	}
}

func TestParseSpecDefaults(t *testing.T) {
	s := mustParseSpec(t, lines(
		"version: 1",
		"packages: [core-busybox]",
		"accounts:",
		"  users: [{name: app, uid: 1}]",
		"copy: [{src: app, dst: /app}]",
	))
	if s.Lock != DefaultLockFile || s.Base != DefaultBase {
		t.Errorf("lock, base = %q, %q; want defaults", s.Lock, s.Base)
	}
	if u := s.Accounts.Users[0]; u.Home != "/" || u.Shell != "/sbin/nologin" {
		t.Errorf("user defaults = %q, %q", u.Home, u.Shell)
	}
	if s.Copy[0].From != "context" {
		t.Errorf("copy from = %q", s.Copy[0].From)
	}
	if s.Config.Entrypoint != nil || s.Config.Cmd != nil {
		t.Errorf("unset entrypoint/cmd should be nil: %#v %#v", s.Config.Entrypoint, s.Config.Cmd)
	}
}

func TestParseSpecEmptyListIsNotUnset(t *testing.T) {
	s := mustParseSpec(t, lines(
		"version: 1",
		"packages: [core-busybox]",
		"config: {entrypoint: [], cmd: ~}",
	))
	if s.Config.Entrypoint == nil || len(s.Config.Entrypoint) != 0 {
		t.Errorf("entrypoint: [] = %#v, want empty non-nil", s.Config.Entrypoint)
	}
	if s.Config.Cmd != nil {
		t.Errorf("cmd: ~ = %#v, want nil", s.Config.Cmd)
	}
}

func TestParseSpecScalarsKeepTheirText(t *testing.T) {
	s := mustParseSpec(t, lines(
		"version: 1",
		"name: 1.10",
		"packages: [core-busybox]",
		"config: {env: {DEBUG: true, RATIO: 0.50}}",
	))
	if s.Name != "1.10" || s.Config.Env["DEBUG"] != "true" || s.Config.Env["RATIO"] != "0.50" {
		t.Errorf("got name %q env %v", s.Name, s.Config.Env)
	}
}

func TestParseSpecAliases(t *testing.T) {
	s := mustParseSpec(t, lines(
		"version: 1",
		"packages: [core-busybox]",
		"config:",
		"  labels: &common {team: platform}",
		"annotations: *common",
	))
	if s.Annotations["team"] != "platform" {
		t.Errorf("annotations = %v", s.Annotations)
	}
}

func TestSpecPos(t *testing.T) {
	s, err := ParseSpec("stagex.yaml", readTestdata(t, "full.stagex.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]Pos{
		"packages[2]":                    {10, 5},
		"packages":                       {7, 1},
		"config.user":                    {13, 9},
		"config":                         {11, 1},
		"config.env.PATH":                {12, 15},
		"config.labels.org.example.team": {17, 30},
		"paths[0].mode":                  {26, 46},
		"accounts.users[0].uid":          {24, 29},
		"accounts.users[0].nope":         {24, 12}, // nearest written parent
		"config.labels.missing.x":        {17, 3},
		"":                               {2, 1},
	} {
		if got := s.Pos(path); got != want {
			t.Errorf("Pos(%q) = %v, want %v", path, got, want)
		}
	}
	var built Spec
	if got := built.Pos("config.user"); got != (Pos{1, 1}) {
		t.Errorf("Pos on a built Spec = %v, want 1:1", got)
	}
	e := s.Errorf("config.user", "use 65532", "user %s is root", "0")
	if got, want := e.Error(), "stagex.yaml:13:9: user 0 is root\n  hint: use 65532"; got != want {
		t.Errorf("Errorf = %q, want %q", got, want)
	}
}

func TestErrorFormat(t *testing.T) {
	e := &Error{File: "a.yaml", Pos: Pos{3, 7}, Msg: "bad"}
	if got := e.Error(); got != "a.yaml:3:7: bad" {
		t.Errorf("no hint: %q", got)
	}
	list := ErrorList{
		{File: "b.yaml", Pos: Pos{1, 1}, Msg: "z"},
		{File: "a.yaml", Pos: Pos{2, 1}, Msg: "y", Hint: "h"},
		{File: "a.yaml", Pos: Pos{1, 5}, Msg: "x"},
	}.sorted()
	want := "a.yaml:1:5: x\na.yaml:2:1: y\n  hint: h\nb.yaml:1:1: z"
	if got := list.Error(); got != want {
		t.Errorf("ErrorList = %q, want %q", got, want)
	}
	var one *Error
	if !errors.As(error(list), &one) || one.Msg != "x" {
		t.Errorf("errors.As(*Error) = %v", one)
	}
	if (ErrorList{}).err() != nil {
		t.Error("empty list must be a nil error")
	}
}

func TestParseSpecErrorsAreSortedAndComplete(t *testing.T) {
	_, err := ParseSpec("spec.yaml", []byte(lines(
		"version: 2",
		"packages: [Bad]",
		"config: {workdir: rel}",
	)))
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 3 {
		t.Fatalf("want 3 errors, got %v", err)
	}
	for i := 1; i < len(list); i++ {
		if compareErrors(list[i-1], list[i]) > 0 {
			t.Errorf("errors not sorted: %v", list)
		}
	}
}

// TestFieldPositions: every entry of paths, copy and archives knows where
// it and each of its fields were written, by the names the file uses; a
// field left out is at its entry.
func TestFieldPositions(t *testing.T) {
	s := mustParseSpec(t, lines(
		"version: 1",
		"packages: [core-musl]",
		"paths:",
		"  - path: /etc/a",
		"    type: file",
		"copy:",
		"  - {src: app, dst: /usr/bin/app}",
	))
	p, c := s.Paths[0].At, s.Copy[0].At
	for _, tc := range []struct {
		got  Field
		want Field
	}{
		{p.Entry, Field{"paths[0]", Pos{4, 5}}},
		{p.Path, Field{"paths[0].path", Pos{4, 11}}},
		{p.Type, Field{"paths[0].type", Pos{5, 11}}},
		{p.Mode, Field{"paths[0].mode", Pos{4, 5}}}, // not written: the entry
		{c.Entry, Field{"copy[0]", Pos{7, 5}}},
		{c.Src, Field{"copy[0].src", Pos{7, 11}}},
		{c.Dst, Field{"copy[0].dst", Pos{7, 21}}},
		{c.From, Field{"copy[0].from", Pos{7, 5}}},
	} {
		if tc.got != tc.want {
			t.Errorf("got %+v, want %+v", tc.got, tc.want)
		}
	}
}

// TestFieldPositionTypes: each position type has an Entry and one Field
// per field of its entry type, of the same Go name, so that no field's
// position is left unset.
func TestFieldPositionTypes(t *testing.T) {
	for _, tc := range []struct{ entry, at reflect.Type }{
		{reflect.TypeFor[Path](), reflect.TypeFor[PathAt]()},
		{reflect.TypeFor[Copy](), reflect.TypeFor[CopyAt]()},
		{reflect.TypeFor[Archive](), reflect.TypeFor[ArchiveAt]()},
	} {
		want := []string{"Entry"}
		for _, f := range reflect.VisibleFields(tc.entry) {
			if tag := f.Tag.Get("yaml"); tag != "" && tag != "-" {
				want = append(want, f.Name)
			}
		}
		var got []string
		for _, f := range reflect.VisibleFields(tc.at) {
			if f.Type != fieldType {
				t.Errorf("%s.%s is a %s, want a Field", tc.at.Name(), f.Name, f.Type)
			}
			got = append(got, f.Name)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s fields = %v, want %v (%s's fields)", tc.at.Name(), got, want, tc.entry.Name())
		}
	}
}
