package frontend

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"edp.buildth.ing/devfw-cicd/stagex/check"
	"edp.buildth.ing/devfw-cicd/stagex/llb"
	"edp.buildth.ing/devfw-cicd/stagex/spec"
	bkllb "github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestTestFailure(t *testing.T) {
	test := spec.Test{Name: "ssl", Run: []string{"/usr/bin/python3", "-c", "import ssl"}, Exit: 0, Output: "OpenSSL"}
	for _, c := range []struct {
		run  testRun
		want string
	}{
		{testRun{Exit: 0, Output: "OpenSSL 3.5.2\n"}, ""},
		{testRun{Exit: 1, Output: "ModuleNotFoundError: No module named '_ssl'\n"}, "exit code 1, want 0"},
		{testRun{Exit: 0, Output: "LibreSSL\n"}, `exit code 0, but the output does not contain "OpenSSL"`},
		{testRun{Exit: -1, Error: `exec: "/usr/bin/python3": stat /usr/bin/python3: no such file or directory`}, "no such file"},
	} {
		if got := testFailure(test, &c.run); (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("testFailure(%+v) = %q, want %q", c.run, got, c.want)
		}
	}
}

func TestDescribeFinding(t *testing.T) {
	got := describeFinding(check.Finding{Rule: check.RuleNeededMissing, Path: "/usr/bin/hello", Soname: "libmissing.so.1",
		Package: "core-broken", Detail: "not found in /lib:/usr/local/lib:/usr/lib"})
	want := "elf-needed-missing /usr/bin/hello (package core-broken): libmissing.so.1: not found in /lib:/usr/local/lib:/usr/lib"
	if got != want {
		t.Errorf("describeFinding = %q\nwant %q", got, want)
	}
}

func TestCheckOptions(t *testing.T) {
	s, err := spec.ParseSpec("stagex.yaml", []byte(`version: 1
name: stagex-base-static
packages: [core-ca-certificates]
check:
  accept: [{rule: elf-needed-missing, soname: "libX11.so.*", reason: headless}]
`))
	if err != nil {
		t.Fatal(err)
	}
	out := &llb.Result{Inputs: []llb.NamedState{{Name: "core-filesystem"}, {Name: "core-ca-certificates"}, {Name: "temurin-jre"}, {Name: llb.GeneratedName}}}
	out.Image.Config.User = "65532:65532"
	out.Image.Config.Entrypoint = []string{"/app"}
	got := checkOptions(s, ocispecs.Platform{OS: "linux", Architecture: "amd64"}, out)
	want := check.Options{
		Arch:     "x86_64",
		Config:   check.Config{User: "65532:65532", Entrypoint: []string{"/app"}},
		NoShell:  true, // the name says static
		Accept:   []check.Accept{{Rule: string(check.RuleNeededMissing), Soname: "libX11.so.*", Reason: "headless"}},
		Packages: []string{"core-filesystem", "core-ca-certificates", "temurin-jre", check.Generated},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("checkOptions =\n%+v\nwant\n%+v", got, want)
	}
}

// RunTest records the exit code and the output of the command, and that a
// missing program is an error, not a pass.
func TestRunTest(t *testing.T) {
	out := filepath.Join(t.TempDir(), "result.json")
	read := func() testRun {
		t.Helper()
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		var r testRun
		if err := json.Unmarshal(data, &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	if os.Getuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("RunTest switches users, which needs root; CI runs as root")
		}
		t.Skip("RunTest switches users, which needs root (as in the build container)")
	}
	if err := RunTest(context.Background(), "", out, []string{"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}); err != nil {
		t.Fatal(err)
	}
	if r := read(); r.Exit != 3 || r.Output != "out\nerr\n" || r.Error != "" {
		t.Errorf("result = %+v", r)
	}
	if err := RunTest(context.Background(), "", out, []string{"/nonexistent/program"}); err != nil {
		t.Fatal(err)
	}
	if r := read(); r.Exit != -1 || !strings.Contains(r.Error, "no such file") {
		t.Errorf("a missing program: %+v", r)
	}
	if err := RunTest(context.Background(), "no-such-user-here", out, []string{"/bin/true"}); err != nil {
		t.Fatal(err)
	}
	if r := read(); r.Exit != -1 || !strings.Contains(r.Error, `user "no-such-user-here" is not in the image's /etc/passwd`) {
		t.Errorf("an unknown user: %+v", r)
	}
}

func TestTailBuffer(t *testing.T) {
	var b tailBuffer
	b.Write([]byte(strings.Repeat("a", maxTestOutput)))
	b.Write([]byte("end"))
	if s := b.String(); !strings.HasPrefix(s, "[…]a") || !strings.HasSuffix(s, "aend") || len(s) != len("[…]")+maxTestOutput {
		t.Errorf("tail = %d bytes, %q…%q", len(s), s[:8], s[len(s)-8:])
	}
}

// A smoke test's command can write into its result folder; what the check
// attestation keeps of the run is the result file alone, copied by its
// exact name, so nothing the command wrote can match the fold's pattern.
func TestResultOnlyKeepsTheResultFile(t *testing.T) {
	def, err := resultOnly(bkllb.Image("example.org/run")).Marshal(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var copies []*pb.FileActionCopy
	for _, dt := range def.Def {
		var op pb.Op
		if err := op.UnmarshalVT(dt); err != nil {
			t.Fatal(err)
		}
		for _, a := range op.GetFile().GetActions() {
			if c := a.GetCopy(); c != nil {
				copies = append(copies, c)
			}
		}
	}
	if len(copies) != 1 || copies[0].Src != "/"+testResult || copies[0].AllowWildcard || len(copies[0].IncludePatterns) > 0 {
		t.Errorf("copies = %+v, want one copy of /%s by its exact name", copies, testResult)
	}
}
