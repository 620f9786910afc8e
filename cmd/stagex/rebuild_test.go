package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

// TestRebuildUsage: missing flags and malformed build args are usage errors
// (exit 2) with the usage text; nothing is contacted.
func TestRebuildUsage(t *testing.T) {
	for _, args := range [][]string{
		{"rebuild", "reg.test/x@sha256:" + strings.Repeat("a", 64)},
		{"rebuild", "--source", ".", "reg.test/x"},
		{"rebuild", "--source", ".", "--addr", "unix:///nowhere"},
		{"rebuild", "--source", ".", "--addr", "unix:///nowhere", "--build-arg", "NOVALUE", "reg.test/x"},
	} {
		var out, errb bytes.Buffer
		err := run(context.Background(), args, &out, &errb)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 {
			t.Errorf("%v: err %v, want exit 2", args, err)
		}
	}
}
