package integration

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/check"
	"edp.buildth.ing/devfw-cicd/stagex/frontend"
	"edp.buildth.ing/devfw-cicd/stagex/internal/fixtures"
	"edp.buildth.ing/devfw-cicd/stagex/internal/solve"
)

// checkedHead is a spec on the fixtures whose programs really run (the
// fixture busybox is a static binary), running as a user of the base's
// /etc/passwd: without accounts there is no generated layer rewriting it,
// so nothing is shadowed and the check has nothing to report.
const checkedHead = `version: 1
name: checked
packages: [core-musl, core-busybox]
config:
  env: {PATH: /usr/bin:/bin}
  user: nobody
  workdir: /
`

// checkedSpec passes the check, and its smoke tests pass: they read the
// image, show the user they run as, expect a non-zero exit code, and find
// the root read-only.
const checkedSpec = checkedHead + `check:
  tests:
    - {name: os-release, run: [/bin/cat, /etc/os-release], output: "ID=stagex"}
    - {name: user, run: [/usr/bin/id], output: "uid=65534(nobody) gid=65534(nogroup)"}
    - {name: exit-code, run: [/bin/sh, -c, "exit 3"], exit: 3}
    - {name: read-only-root, run: [/bin/mkdir, /x], exit: 1, output: "Read-only file system"}
`

// checkBuild builds dir's spec with STAGEX_CHECK=mode (and extra build
// args), pushing to it/check:<tag>.
func checkBuild(ctx context.Context, t *testing.T, dir, tag, mode string, args map[string]string) (*solve.Result, string, error) {
	t.Helper()
	b := requireBed(t)
	ref := b.Ref("it/check:" + tag)
	buildArgs := map[string]string{frontend.ArgCheck: mode}
	for k, v := range args {
		buildArgs[k] = v
	}
	res, err := solve.Dockerfile(ctx, client1(ctx, t), solve.DockerfileBuild{
		DockerfileDir: dir,
		ContextDir:    dir,
		Filename:      "stagex.yaml",
		BuildArgs:     buildArgs,
		Push:          ref,
	})
	return res, ref, err
}

// checkAttestation reads the check attestation of the image at ref.
func checkAttestation(t *testing.T, ref, digest string) frontend.CheckPredicate {
	t.Helper()
	b := requireBed(t)
	_, atts, err := attestations(b.Ref("it/check@" + digest))
	if err != nil {
		t.Fatalf("%s: %v", ref, err)
	}
	var found []attestation
	for _, a := range atts {
		if a.PredicateType == frontend.CheckPredicateType {
			found = append(found, a)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s: %d attestations of type %s among %d", ref, len(found), frontend.CheckPredicateType, len(atts))
	}
	var pred frontend.CheckPredicate
	if err := json.Unmarshal(found[0].Predicate, &pred); err != nil {
		t.Fatalf("the check predicate: %v", err)
	}
	if pred.Report == nil {
		t.Fatalf("the check predicate has no report: %s", found[0].Predicate)
	}
	return pred
}

// TestCheckStrictPasses builds an image that passes the check and its
// smoke tests in strict mode: the report travels with the image as an
// attestation of this project's predicate type, with no findings, and every
// test ran and passed.
func TestCheckStrictPasses(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := specDir(t, frontendImage(t), checkedSpec)
	res, ref, err := checkBuild(ctx, t, dir, "strict", string(frontend.CheckStrict), nil)
	if err != nil {
		t.Fatal(err)
	}
	pred := checkAttestation(t, ref, res.Digest)
	if pred.Mode != frontend.CheckStrict || !pred.Report.Passed || len(pred.Report.Findings) != 0 {
		t.Errorf("check report: mode %s, passed %v, findings %+v", pred.Mode, pred.Report.Passed, pred.Report.Findings)
	}
	want := map[string]int{"os-release": 0, "user": 0, "exit-code": 3, "read-only-root": 1}
	if len(pred.Tests) != len(want) {
		t.Fatalf("tests = %+v", pred.Tests)
	}
	for _, tr := range pred.Tests {
		if tr.Status != frontend.TestPassed || tr.Exit == nil || *tr.Exit != want[tr.Name] {
			t.Errorf("test %s: %s (exit %v), want passed with exit %d", tr.Name, tr.Status, tr.Exit, want[tr.Name])
		}
	}

	// On stand-in packages every test is reported as not run, never passed.
	res, ref, err = checkBuild(ctx, t, dir, "fixture", string(frontend.CheckStrict), map[string]string{frontend.ArgTests: string(frontend.TestsFixture)})
	if err != nil {
		t.Fatal(err)
	}
	pred = checkAttestation(t, ref, res.Digest)
	for _, tr := range pred.Tests {
		if tr.Status != frontend.TestNotRun || tr.Reason != "fixture" || tr.Exit != nil {
			t.Errorf("test %s with %s=fixture: %+v, want not run: fixture", tr.Name, frontend.ArgTests, tr)
		}
	}
	if !strings.Contains(res.Log, "smoke test os-release: not run: fixture") {
		t.Errorf("the build output does not say the tests were not run:\n%s", solve.TailLines(res.Log, 40))
	}

	// Off (the default) adds no attestation and runs nothing.
	res, ref, err = checkBuild(ctx, t, dir, string(frontend.CheckOff), string(frontend.CheckOff), nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(res.Log, "[stagex] check the composed image") || strings.Contains(res.Log, "[stagex] smoke test") {
		t.Errorf("%s=off ran the check:\n%s", frontend.ArgCheck, solve.TailLines(res.Log, 40))
	}
	if _, atts, err := attestations(requireBed(t).Ref("it/check@" + res.Digest)); err == nil {
		for _, a := range atts {
			if a.PredicateType == frontend.CheckPredicateType {
				t.Errorf("%s: %s=off attached a check attestation", ref, frontend.ArgCheck)
			}
		}
	}
}

// brokenSpec composes the negative fixture: /usr/bin/hello-broken needs
// libmissing.so.1, which no package ships.
const brokenSpec = `version: 1
name: broken
packages: [core-musl, core-libhello, core-hello-broken]
`

// TestCheckStrictFailsAndPushesNothing: a strict build of an image with a
// missing library fails, naming the soname, the file and the package, and
// the registry has no image under the tag.
func TestCheckStrictFailsAndPushesNothing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := specDir(t, frontendImage(t), brokenSpec)
	_, ref, err := checkBuild(ctx, t, dir, "strict-fails", string(frontend.CheckStrict), nil)
	if err == nil {
		t.Fatalf("the strict build of an image missing %s succeeded", fixtures.MissingSoname)
	}
	t.Logf("the build failed as it should:\n%s", firstLines(err.Error(), 4))
	want := string(check.RuleNeededMissing) + " /usr/bin/hello-broken (package " + fixtures.HelloBroken + "): "
	if !strings.Contains(err.Error(), "the composition check failed") || !strings.Contains(err.Error(), want) ||
		!strings.Contains(err.Error(), fixtures.MissingSoname) {
		t.Errorf("the error does not say %q:\n%v", want, err)
	}
	if _, err := imageIndex(ref); err == nil {
		t.Errorf("%s was pushed although the strict check failed", ref)
	}
}

// worldWritableSpec trips a hygiene rule: a file everyone may write.
const worldWritableSpec = checkedHead + `paths:
  - {path: /etc/open.conf, type: file, mode: "0666", content: "x\n"}
`

// TestCheckWarn: warn builds an image with an error finding, shows the
// finding as a build warning, and the attestation says it did not pass.
func TestCheckWarn(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := specDir(t, frontendImage(t), worldWritableSpec)
	res, ref, err := checkBuild(ctx, t, dir, "warn", string(frontend.CheckWarn), nil)
	if err != nil {
		t.Fatalf("the warn build failed: %v", err)
	}
	want := "WARNING: stagex check: " + string(check.RuleWorldWritable) + " /etc/open.conf (package " + check.Generated + ")"
	if !strings.Contains(res.Log, want) {
		t.Errorf("the warn build shows no warning %q:\n%s", want, solve.TailLines(res.Log, 40))
	}
	pred := checkAttestation(t, ref, res.Digest)
	if pred.Report.Passed || pred.Mode != frontend.CheckWarn {
		t.Errorf("warn report: mode %s passed %v", pred.Mode, pred.Report.Passed)
	}
}

// TestCheckRunsDynamicPrograms: a program linked against a shared library
// with musl-gcc passes the check, and its smoke test runs it through musl's
// loader as the image's user.
func TestCheckRunsDynamicPrograms(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := specDir(t, frontendImage(t), `version: 1
name: hello
packages: [core-musl, core-libhello, core-hello]
config:
  user: nobody
check:
  tests:
    - {name: hello, run: [/usr/bin/hello], output: "`+fixtures.HelloOutput+`"}
`)
	res, ref, err := checkBuild(ctx, t, dir, "hello", string(frontend.CheckStrict), nil)
	if err != nil {
		t.Fatal(err)
	}
	pred := checkAttestation(t, ref, res.Digest)
	if !pred.Report.Passed || len(pred.Tests) != 1 || pred.Tests[0].Status != frontend.TestPassed {
		t.Errorf("report passed %v, findings %+v, tests %+v", pred.Report.Passed, pred.Report.Findings, pred.Tests)
	}
}

// TestCheckFailingSmokeTest: a smoke test that does not pass fails the
// build with its name, its command, the exit code and its output.
func TestCheckFailingSmokeTest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := specDir(t, frontendImage(t), checkedHead+`check:
  tests:
    - {name: fine, run: [/bin/echo, ok], output: ok}
    - {name: must-pass, run: [/bin/sh, -c, "echo boom >&2; exit 2"]}
`)
	_, ref, err := checkBuild(ctx, t, dir, "test-fails", string(frontend.CheckWarn), nil)
	if err == nil {
		t.Fatal("a failing smoke test did not fail the build")
	}
	t.Logf("the build failed as it should:\n%s", firstLines(err.Error(), 12))
	for _, want := range []string{"smoke test must-pass failed", `["/bin/sh", "-c", "echo boom >&2; exit 2"]`, "exit code 2, want 0", "boom", "stagex.yaml:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q:\n%v", want, err)
		}
	}
	if _, err := imageIndex(ref); err == nil {
		t.Errorf("%s was pushed although a smoke test failed", ref)
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
