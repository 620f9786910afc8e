package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

// TestPipelineRefusesBadInput: the pipeline steps fail with exit 2 and a
// reason on bad flags, and a step without the build's state says which
// step writes it.
func TestPipelineRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"bogus"}, 2, `unknown step "bogus"`},
		{[]string{"verify", "--dir", dir, "--key", "k.pub"}, 2, "needs --threshold N"},
		{[]string{"sign", "--dir", dir}, 2, "needs --key"},
		{[]string{"tag", "--dir", dir, "extra"}, 2, "takes no arguments"},
		{[]string{"tag", "--dir", dir}, 1, "no pipeline state\nhint: the build step"},
		{[]string{"build", "--dir", dir, "--buildkit-addr", "unix:///x", "--builder", "b"}, 2, "give one"},
		{[]string{"build", "--dir", dir, "--buildx", "true", "--var", "NOEQUALS"}, 2, "want NAME=VALUE"},
	} {
		var out bytes.Buffer
		err := run(context.Background(), append([]string{"pipeline"}, c.args...), &out, &out)
		code := 0
		var ee *exitError
		switch {
		case errors.As(err, &ee):
			code = ee.code
		case err != nil:
			code = 1
		}
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		if code != c.code || !strings.Contains(msg+out.String(), c.want) {
			t.Errorf("pipeline %v: exit %d, %q; want exit %d and %q", c.args, code, msg, c.code, c.want)
		}
	}
}
