package spec

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// requireLocated fails unless err is a non-empty ErrorList whose every
// entry has a usable line and column.
func requireLocated(t *testing.T, err error) {
	t.Helper()
	var list ErrorList
	if !errors.As(err, &list) || len(list) == 0 {
		t.Fatalf("error is not a non-empty ErrorList: %T %v", err, err)
	}
	for _, e := range list {
		if e.Pos.Line < 1 || e.Pos.Column < 1 {
			t.Fatalf("error without a position: %q", e.Error())
		}
	}
}

func FuzzParseSpec(f *testing.F) {
	f.Add([]byte(head))
	f.Add([]byte("version: 1\npackages: [core-musl, core-musl]\nname: static\n"))
	lock, err := ParseLock("stagex.lock.yaml", []byte(lockHead+"  core-musl:\n    digests: {linux/amd64: "+digestA+"}\n"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSpec("fuzz.yaml", data)
		if err != nil {
			if s != nil {
				t.Fatal("ParseSpec returned both a spec and an error")
			}
			requireLocated(t, err)
			_, again := ParseSpec("fuzz.yaml", data)
			if again == nil || again.Error() != err.Error() {
				t.Fatalf("ParseSpec is not deterministic:\n%v\n---\n%v", err, again)
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("a parsed spec does not re-validate: %v", err)
		}
		if err := s.CheckUser(nil, nil); err != nil {
			requireLocated(t, err)
		}
		for _, allow := range []bool{false, true} {
			r, err := Resolve(s, lock, ResolveOptions{Platform: "linux/amd64", AllowUnpinned: allow})
			if err != nil {
				requireLocated(t, err)
				continue
			}
			for _, w := range Lint(s, r) {
				if w.Error == nil || w.Pos.Line < 1 || w.Pos.Column < 1 {
					t.Fatalf("warning without a position: %+v", w)
				}
			}
		}
	})
}

func FuzzParseLock(f *testing.F) {
	f.Add([]byte(lockHead + "  core-musl:\n    digests: {linux/amd64: " + digestA + "}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := ParseLock("fuzz.lock.yaml", data)
		if err != nil {
			if l != nil {
				t.Fatal("ParseLock returned both a lock and an error")
			}
			requireLocated(t, err)
			return
		}
		if err := l.Validate(); err != nil {
			t.Fatalf("a parsed lock does not re-validate: %v", err)
		}
		out, err := l.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a valid lock: %v", err)
		}
		back, err := ParseLock("fuzz.lock.yaml", out)
		if err != nil {
			t.Fatalf("Marshal output does not parse: %v\n%s", err, out)
		}
		a, b := *l, *back
		a.index, b.index = nil, nil
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("round trip changed the lock:\n%#v\n%#v\n%s", a, b, out)
		}
		again, err := back.Marshal()
		if err != nil || !bytes.Equal(out, again) {
			t.Fatalf("Marshal is not stable (%v):\n%s\n---\n%s", err, out, again)
		}
	})
}
