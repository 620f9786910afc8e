package spec

import (
	"errors"
	"reflect"
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
