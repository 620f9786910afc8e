package spec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// lines joins its arguments as the lines of a file, so that a test's line
// numbers can be read off the argument list.
func lines(ls ...string) string { return strings.Join(ls, "\n") + "\n" }

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func mustParseSpec(t *testing.T, src string) *Spec {
	t.Helper()
	s, err := ParseSpec("spec.yaml", []byte(src))
	if err != nil {
		t.Fatalf("ParseSpec: %v", err)
	}
	return s
}

func mustParseLock(t *testing.T, src []byte) *Lock {
	t.Helper()
	l, err := ParseLock("stagex.lock.yaml", src)
	if err != nil {
		t.Fatalf("ParseLock: %v", err)
	}
	return l
}

// wantError is an expected problem: the "file:line:col" it is reported at
// and substrings of its message and hint.
type wantError struct {
	at, msg, hint string
}

// requireError fails unless err is an ErrorList holding a matching *Error.
func requireError(t *testing.T, err error, want wantError) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want %s: %s", want.at, want.msg)
	}
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("error %T is not an ErrorList: %v", err, err)
	}
	for _, e := range list {
		at := fmt.Sprintf("%s:%d:%d", e.File, e.Pos.Line, e.Pos.Column)
		if at == want.at && strings.Contains(e.Msg, want.msg) && strings.Contains(e.Hint, want.hint) {
			if !strings.HasPrefix(e.Error(), want.at+": ") {
				t.Errorf("Error() = %q, want prefix %q", e.Error(), want.at+": ")
			}
			return
		}
	}
	t.Fatalf("no error at %s with message %q and hint %q; got:\n%v", want.at, want.msg, want.hint, err)
}

const (
	digestA = "sha256:816a6e097544c23386c95c8614e358ace7c5026c3f53b7b9353b84cbb4ed0096"
	digestB = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	digestC = "sha256:3333333333333333333333333333333333333333333333333333333333333333"
	digestG = "sha256:95fea3ee9f31a8516cd55bf00c62c5bcdd10036106edbf881890ab3ce43f090d"
)
