package frontend

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"edp.buildth.ing/devfw-cicd/stagex/check"
	"edp.buildth.ing/devfw-cicd/stagex/llb"
	"edp.buildth.ing/devfw-cicd/stagex/spec"
	bkllb "github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/solver/result"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
)

// CheckPredicateType is the in-toto predicate type of the check
// attestation: the composition check's report and every smoke test's
// outcome, attached to the image when STAGEX_CHECK is warn or strict, so
// that the result travels with the image and an admission policy can ask
// for it.
const CheckPredicateType = "https://edp.buildth.ing/devfw-cicd/stagex/check/v1"

// CheckPredicate is the check attestation's predicate.
type CheckPredicate struct {
	Mode   CheckMode     `json:"mode"`   // warn or strict
	Report *check.Report `json:"report"` // the composition check
	Tests  []TestResult  `json:"tests"`  // the spec's smoke tests, in spec order
}

// TestStatus is how a smoke test ended.
type TestStatus string

// The test statuses. A test that did not run is never reported as passed.
const (
	TestPassed TestStatus = "passed"
	TestFailed TestStatus = "failed"
	TestNotRun TestStatus = "not run"
)

// TestResult is one smoke test's outcome.
type TestResult struct {
	Name   string     `json:"name"`
	Run    []string   `json:"run"`
	Status TestStatus `json:"status"`
	Reason string     `json:"reason,omitempty"` // why it was not run, e.g. "fixture"
	Exit   *int       `json:"exit,omitempty"`   // the exit code, when it ran
}

// Paths inside the check's and the tests' containers.
const (
	checkRoot    = "/rootfs"    // the merged image, read-only
	checkLayers  = "/layers"    // each merge input, read-only, as /layers/<i>
	checkJobDir  = "/job"       // the job file, read-only
	checkOutDir  = "/out"       // where the report is written
	checkJobFile = "check.json" // in checkJobDir
	reportFile   = "report.json"
	// In a smoke test the image is the root, so the frontend and the result
	// folder are mounted beside its own folders.
	testFrontend = "/.stagex-frontend"
	testOutDir   = "/.stagex-test"
	testResult   = "result.json"
	selfBinary   = "/bin/frontend" // in the frontend image (see the Dockerfile)
)

// currentFrontend returns the frontend's own image as an LLB state: BuildKit
// mounts its definition into the frontend's container (frontend.bin), and
// the gateway client reads it back. The check runs that image's binary.
func currentFrontend(c client.Client) (bkllb.State, error) {
	if w, ok := c.(cacheImportingClient); ok {
		c = w.Client
	}
	cf, ok := c.(interface {
		CurrentFrontend() (*bkllb.State, error)
	})
	if !ok {
		return bkllb.State{}, fmt.Errorf("%s needs the frontend's own image, and this gateway client cannot name it", ArgCheck)
	}
	st, err := cf.CurrentFrontend()
	if err != nil {
		return bkllb.State{}, fmt.Errorf("%s: reading the frontend's own image: %w", ArgCheck, err)
	}
	if st == nil {
		return bkllb.State{}, fmt.Errorf("%s needs the frontend's own image, which BuildKit did not mount into the frontend (run it as a gateway frontend, e.g. through \"# syntax=\")", ArgCheck)
	}
	return *st, nil
}

// checkImage runs the composition check and the smoke tests on the
// composed image of one platform, inside BuildKit, and returns the check
// attestation. In strict mode an unaccepted error finding fails; in both
// modes a failing smoke test fails, naming the test.
func (r *request) checkImage(ctx context.Context, c client.Client, p ocispecs.Platform, out *llb.Result) (*result.Attestation[client.Reference], error) {
	self, err := currentFrontend(c)
	if err != nil {
		return nil, err
	}
	pred := CheckPredicate{Mode: r.opts.Check}
	var checkRun bkllb.State
	var testRuns []bkllb.State
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		rep, run, err := r.runCheck(gctx, c, self, p, out)
		pred.Report, checkRun = rep, run
		return err
	})
	g.Go(func() error {
		tests, runs, err := r.runTests(gctx, c, self, p, out)
		pred.Tests, testRuns = tests, runs
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := r.judge(ctx, pred.Report); err != nil {
		return nil, err
	}
	doc, err := json.MarshalIndent(pred, "", "  ")
	if err != nil {
		return nil, err
	}
	// The runs are folded into the attestation's file (llb.Fold: its bytes
	// stay the same): a cache export walks the attestations' refs too, so the
	// registry cache then holds the check and the tests, and a runner that
	// imports it takes them from there instead of unpacking every package to
	// run them again.
	return fileAttestation(ctx, c, CheckPredicateType, "/stagex-check.json", doc, r.opts.Epoch, "[stagex] write the check report", nil,
		append([]bkllb.State{checkRun}, testRuns...)...)
}

// checkOptions are the check's options for the composed image: its config,
// the spec's accepted findings and each merge input's package name.
func checkOptions(s *spec.Spec, p ocispecs.Platform, out *llb.Result) check.Options {
	cfg := out.Image.Config
	o := check.Options{
		Arch: check.MuslArch(p.Architecture, p.Variant),
		Config: check.Config{
			Entrypoint: cfg.Entrypoint,
			Cmd:        cfg.Cmd,
			User:       cfg.User,
			WorkingDir: cfg.WorkingDir,
			Env:        cfg.Env,
		},
		NoShell: s.NoShell(),
		Accept:  s.Check.Accept,
	}
	for _, in := range out.Inputs {
		name := in.Name
		if name == llb.GeneratedName {
			name = check.Generated
		}
		o.Packages = append(o.Packages, name)
	}
	return o
}

// runCheck runs `frontend check` on the merged image with every merge
// input mounted beside it, network none, and reads its report back. It
// returns the run's output too, for the attestation to keep (checkImage).
//
// The image and the layers are mounted read-only with BuildKit's
// content-based cache key off: by default a read-only mount adds a checksum
// of its content to the run's cache key (solver/llbsolver/ops/exec.go), and
// computing it means unpacking every package, even where the run itself is
// in an imported cache. The definition-based key suffices: the mounts are
// pinned LLB (package digests, the generated layer's definition).
func (r *request) runCheck(ctx context.Context, c client.Client, self bkllb.State, p ocispecs.Platform, out *llb.Result) (*check.Report, bkllb.State, error) {
	job, err := json.Marshal(checkJob{Options: checkOptions(r.spec, p, out), Layers: len(out.Inputs)})
	if err != nil {
		return nil, bkllb.State{}, err
	}
	jobState := bkllb.Scratch().File(bkllb.Mkfile("/"+checkJobFile, 0o644, job, bkllb.WithCreatedTime(r.opts.Epoch)),
		bkllb.WithCustomName("[stagex] write the check job"))
	opts := []bkllb.RunOption{
		bkllb.Args([]string{selfBinary, "check",
			"--root", checkRoot, "--layers", checkLayers,
			"--job", checkJobDir + "/" + checkJobFile, "--out", checkOutDir + "/" + reportFile}),
		bkllb.Network(bkllb.NetModeNone),
		bkllb.AddMount(checkRoot, out.State, bkllb.Readonly, bkllb.ContentCache(bkllb.MountContentCacheOff)),
		bkllb.AddMount(checkJobDir, jobState, bkllb.Readonly),
		bkllb.WithCustomName(fmt.Sprintf("[stagex] check the composed image (%s)", r.opts.Check)),
	}
	for i, in := range out.Inputs {
		opts = append(opts, bkllb.AddMount(checkLayers+"/"+strconv.Itoa(i), in.State, bkllb.Readonly, bkllb.ContentCache(bkllb.MountContentCacheOff)))
	}
	run := self.Run(opts...)
	// No platform: the check is analysis, so it runs the frontend's own
	// binary on the frontend's platform whatever the image's is.
	outState := run.AddMount(checkOutDir, bkllb.Scratch())
	ref, err := solveRef(ctx, c, outState)
	if err != nil {
		return nil, bkllb.State{}, err
	}
	data, err := ref.ReadFile(ctx, client.ReadRequest{Filename: "/" + reportFile})
	if err != nil {
		return nil, bkllb.State{}, fmt.Errorf("reading the check report: %w", err)
	}
	var rep check.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, bkllb.State{}, fmt.Errorf("the check report: %w", err)
	}
	return &rep, outState, nil
}

// judge fails a strict build on any failing finding, and shows the
// failing findings as warnings otherwise.
func (r *request) judge(ctx context.Context, rep *check.Report) error {
	var failing []check.Finding
	for _, f := range rep.Findings {
		if f.Failing() {
			failing = append(failing, f)
		}
	}
	if len(failing) == 0 {
		return nil
	}
	if r.opts.Check == CheckStrict {
		var b strings.Builder
		fmt.Fprintf(&b, "the composition check failed (%s=%s): %d finding(s)", ArgCheck, CheckStrict, len(failing))
		for _, f := range failing {
			b.WriteString("\n  ")
			b.WriteString(describeFinding(f))
		}
		return withSource(spec.Errorf(r.spec.File, findingPos(r.spec, failing[0]), "fix the package list, or accept a finding under check.accept with a reason",
			"%s", b.String()), r.files)
	}
	for _, f := range failing {
		r.src.Warn(ctx, "stagex check: "+describeFinding(f), client.WarnOpts{})
	}
	return nil
}

// findingPos is where a finding points in the spec: the packages entry of
// the package that wrote the file, or the package list.
func findingPos(s *spec.Spec, f check.Finding) spec.Pos {
	for _, p := range s.Packages {
		if f.Package != "" && p.Ref == f.Package {
			return p.Pos
		}
	}
	return s.Pos("packages")
}

// describeFinding is one finding on one line: the rule, the file, the
// package that wrote it, the soname (unless the detail names it), and what
// is wrong.
func describeFinding(f check.Finding) string {
	var b strings.Builder
	b.WriteString(string(f.Rule))
	if f.Path != "" {
		b.WriteString(" " + f.Path)
	}
	if f.Package != "" {
		b.WriteString(" (package " + f.Package + ")")
	}
	if f.Soname != "" && !strings.Contains(f.Detail, f.Soname) {
		b.WriteString(": " + f.Soname)
	}
	if f.Detail != "" {
		b.WriteString(": " + f.Detail)
	}
	return b.String()
}

// runTests runs the spec's smoke tests, each in its own container on the
// composed image, and fails on the first test that does not pass. It
// returns the runs' outputs too, in spec order, for the attestation to keep.
func (r *request) runTests(ctx context.Context, c client.Client, self bkllb.State, p ocispecs.Platform, out *llb.Result) ([]TestResult, []bkllb.State, error) {
	results := make([]TestResult, len(r.spec.Check.Tests))
	for i, t := range r.spec.Check.Tests {
		results[i] = TestResult{Name: t.Name, Run: t.Run, Status: TestNotRun}
	}
	if r.opts.Tests == TestsFixture {
		for i := range results {
			results[i].Reason = string(TestsFixture)
			r.src.Warn(ctx, fmt.Sprintf("smoke test %s: not run: fixture (%s=%s)", results[i].Name, ArgTests, TestsFixture), client.WarnOpts{})
		}
		return results, nil, nil
	}
	runs := make([]bkllb.State, len(r.spec.Check.Tests))
	g, gctx := errgroup.WithContext(ctx)
	for i, t := range r.spec.Check.Tests {
		g.Go(func() error {
			run, st, err := r.runTest(gctx, c, self, p, out, t)
			runs[i] = st
			if err != nil {
				return err
			}
			results[i].Exit = &run.Exit
			if failure := testFailure(t, run); failure != "" {
				results[i].Status = TestFailed
				return withSource(r.spec.Errorf(fmt.Sprintf("check.tests[%d]", i), "the test runs in exec form as the image's user, network none, read-only root, a tmpfs on /tmp; fix the package list or the test",
					"smoke test %s failed: %s: %s\n  output:\n%s", t.Name, quoteArgs(t.Run), failure, indent(run.Output)), r.files)
			}
			results[i].Status = TestPassed
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return results, nil, err
	}
	return results, runs, nil
}

// runTest runs one smoke test and reads back how it ended, and returns
// the run's output. The image is the run's root mount, which BuildKit never
// gives a content-based cache key.
func (r *request) runTest(ctx context.Context, c client.Client, self bkllb.State, p ocispecs.Platform, out *llb.Result, t spec.Test) (*testRun, bkllb.State, error) {
	cfg := out.Image.Config
	args := append([]string{testFrontend + selfBinary, "test-run", "--user", cfg.User, "--out", testOutDir + "/" + testResult, "--"}, t.Run...)
	opts := []bkllb.RunOption{
		bkllb.Args(args),
		bkllb.Network(bkllb.NetModeNone),
		bkllb.ReadonlyRootFS(),
		bkllb.AddMount(testFrontend, self, bkllb.Readonly),
		bkllb.AddMount("/tmp", bkllb.Scratch(), bkllb.Tmpfs()),
		bkllb.WithCustomName(fmt.Sprintf("[stagex] smoke test %s: %s", t.Name, quoteArgs(t.Run))),
	}
	if cfg.WorkingDir != "" {
		opts = append(opts, bkllb.Dir(cfg.WorkingDir))
	}
	for _, kv := range cfg.Env {
		k, v, _ := strings.Cut(kv, "=")
		opts = append(opts, bkllb.AddEnv(k, v))
	}
	run := out.State.Run(opts...)
	outState := run.AddMount(testOutDir, bkllb.Scratch())
	ref, err := solveRef(ctx, c, outState, bkllb.Platform(p))
	if err != nil {
		return nil, bkllb.State{}, fmt.Errorf("smoke test %s: %w", t.Name, err)
	}
	data, err := ref.ReadFile(ctx, client.ReadRequest{Filename: "/" + testResult})
	if err != nil {
		return nil, bkllb.State{}, fmt.Errorf("smoke test %s: reading its result: %w", t.Name, err)
	}
	var res testRun
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, bkllb.State{}, fmt.Errorf("smoke test %s: its result: %w", t.Name, err)
	}
	return &res, resultOnly(outState), nil
}

// resultOnly is the test run's result file alone, which is what the check
// attestation keeps of a run (llb.Fold). The run's result folder is writable
// by the test's own command, which could leave there a file that the fold's
// pattern matches; copied by its exact name, only the file `frontend
// test-run` writes is an ancestor of the attestation.
func resultOnly(out bkllb.State) bkllb.State {
	return bkllb.Scratch().File(bkllb.Copy(out, "/"+testResult, "/"+testResult),
		bkllb.WithCustomName("[stagex] keep the smoke test's result"))
}

// testFailure says why a test run does not pass, or "" when it does.
func testFailure(t spec.Test, run *testRun) string {
	switch {
	case run.Error != "":
		return run.Error
	case run.Exit != t.Exit:
		return fmt.Sprintf("exit code %d, want %d", run.Exit, t.Exit)
	case !strings.Contains(run.Output, t.Output):
		return fmt.Sprintf("exit code %d, but the output does not contain %q", run.Exit, t.Output)
	}
	return ""
}

func quoteArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = strconv.Quote(a)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return "    (none)"
	}
	var b bytes.Buffer
	for _, l := range strings.Split(s, "\n") {
		b.WriteString("    " + l + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}
