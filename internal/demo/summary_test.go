package demo

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/check"
	"edp.buildth.ing/devfw-cicd/stagex/frontend"
	"edp.buildth.ing/devfw-cicd/stagex/internal/golden"
	"edp.buildth.ing/devfw-cicd/stagex/internal/imageset"
)

// summaryOf is the summary of a real `make demo` run (bed h2demo,
// 2026-11-28): its digests, sizes, layers and check attestations, with the
// sizes given to the byte that renders as that run's.
func summaryOf() *Summary {
	exit := 0
	tests := func(n int, status frontend.TestStatus, reason string) []frontend.TestResult {
		var out []frontend.TestResult
		for i := range n {
			r := frontend.TestResult{Name: string(rune('a' + i)), Status: status, Reason: reason}
			if status == frontend.TestPassed {
				r.Exit = &exit
			}
			out = append(out, r)
		}
		return out
	}
	checked := func(mode frontend.CheckMode, passed bool, pct float64, sum map[string]int, t []frontend.TestResult) *frontend.CheckPredicate {
		return &frontend.CheckPredicate{Mode: mode, Tests: t,
			Report: &check.Report{Passed: passed, Efficiency: &check.Efficiency{Percent: pct, WastedBytes: 296}, Summary: sum}}
	}
	warn2 := map[string]int{"warning": 2}
	failed := map[string]int{"error": 1, "warning": 2}
	att := []string{frontend.CheckPredicateType, "https://slsa.dev/provenance/v1", "https://spdx.dev/Document"}
	img := func(target, digest string, size int64, layers int, c *frontend.CheckPredicate) *imageset.Image {
		preds := att
		if c == nil {
			preds = att[1:2]
		}
		return &imageset.Image{Target: target, Digest: "sha256:" + digest, Size: size, Layers: layers, Predicates: preds, Check: c}
	}
	const mib = 1 << 20
	app := img("example-app", "7ba6949ba7c762bea1b7471892661b73b237998d9b82f13ea12af6348b47a592", 46*mib/10, 3, checked(frontend.CheckStrict, true, 99.99, warn2, nil))
	return &Summary{
		Bed: "h2demo", Registry: "127.0.0.1:7200/devfw-cicd", Took: time.Minute + 31*time.Second,
		Images: []*imageset.Image{
			img("base", "8d3f09d6dad05637b82bc462d58824491c6a7b186f3b8d439ff3b987adc4d5b9", 14*mib/10, 5, checked(frontend.CheckStrict, true, 99.99, warn2, tests(2, frontend.TestPassed, ""))),
			img("base-go", "501609083167602498925d6e9871f8b510f74023cc2df80e190a7d417faaa41e", 285*mib/10, 5, checked(frontend.CheckStrict, true, 99.99, warn2, tests(3, frontend.TestPassed, ""))),
			img("base-java", "1910964ebe3313de0e3e45e04de740a123e53ed41c600479464ee98533ceee3d", 14*mib/10, 7, checked(frontend.CheckWarn, true, 99.99, map[string]int{"warning": 4}, tests(1, frontend.TestNotRun, "fixture"))),
			img("base-nodejs", "4db7ef1c2da9374a27ae15950b340d9f4ae3fdd1bba7f2b3f16491325d53ab20", 14*mib/10, 15, checked(frontend.CheckWarn, false, 99.99, failed, tests(2, frontend.TestNotRun, "fixture"))),
			img("base-python", "849ff7d568ddda394969fabe03426d0264aa12b633f7070af7c803110a3199d2", 14*mib/10, 11, checked(frontend.CheckWarn, false, 99.99, failed, tests(5, frontend.TestNotRun, "fixture"))),
			img("base-ruby", "f55d40002d763f5fdf8193eb1f9a938af238d122d5bad613e3b15e3f99602d04", 14*mib/10, 12, checked(frontend.CheckWarn, false, 99.99, failed, tests(3, frontend.TestNotRun, "fixture"))),
			img("base-rust", "b82b1ee1764cb5d8f2264be98838793646c4af1d7ffda1dd74b28f9323fb44ec", 14*mib/10, 11, checked(frontend.CheckWarn, false, 99.99, failed, tests(2, frontend.TestNotRun, "fixture"))),
			img("base-static", "3d345ef7fd188df7aa0df893d336111259359aafa661f8fcb3281fdd7c226bec", 1536, 3, checked(frontend.CheckStrict, true, 69.6, warn2, nil)),
			img("frontend", "0c006ec881e40030c081c359d20c3158c63d1d47bd5e0c2abeac4bf686915b92", 75*mib/10, 1, nil),
			app,
		},
		StrictImages: []string{"base", "base-static", "base-go"},
		App: &App{Image: app, Rebuilt: app.Digest, Answers: []imageset.AppAnswer{
			{File: "healthz.txt", Got: "ok"},
			{File: "root.json", Got: `{"service":"hello-service","message":"hello from stagex-base-static"}`},
		}},
		Shown:      "base-java",
		SBOM:       Attestation{File: ".cache/imageset/demo/base-java.sbom.json", About: "SPDX-2.3, 8 packages, 2 files"},
		Provenance: Attestation{File: ".cache/imageset/demo/base-java.provenance.json", About: "SLSA v1, build type https://github.com/moby/buildkit/blob/master/docs/attestations/slsa-definitions.md, 6 resolved dependencies"},
		Digests:    ".cache/imageset/demo/DIGESTS.md", Record: ".cache/imageset/demo/digests.json", Log: ".cache/imageset/demo/demo.log",
	}
}

func TestWriteSummary(t *testing.T) {
	var b bytes.Buffer
	if err := WriteSummary(&b, summaryOf()); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "summary.txt", b.Bytes())
	if bytes.ContainsRune(b.Bytes(), 0x1b) {
		t.Error("the summary holds a terminal escape")
	}
	if n := bytes.Count(b.Bytes(), []byte("\n")); n > 40 {
		t.Errorf("the summary has %d lines; it is meant to be read at a glance", n)
	}
	s := summaryOf()
	s.KeptBed = true
	b.Reset()
	if err := WriteSummary(&b, s); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `still up: eval "$(hack/bed env h2demo)"`) {
		t.Errorf("a kept bed is not said to be up:\n%s", b.String())
	}
}

func TestPlainWriter(t *testing.T) {
	var b bytes.Buffer
	w := NewPlainWriter(&b)
	// A coloured buildx warning, a sequence split across writes, an OSC
	// hyperlink and a cursor move.
	for _, part := range []string{
		"\x1b[33m1 warning found\x1b[0m\n", "a\x1b[", "1;31mb\x1b", "[0mc\n",
		"\x1b]8;;https://x.test\x07link\x1b]8;;\x1b\\ done\n", "\x1b[2K\x1b[1Aline\n",
	} {
		if n, err := w.Write([]byte(part)); err != nil || n != len(part) {
			t.Fatalf("Write(%q) = %d, %v", part, n, err)
		}
	}
	if want := "1 warning found\nabc\nlink done\nline\n"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

func TestDescribeAttestation(t *testing.T) {
	for in, want := range map[string]string{
		`{"SPDX":{"spdxVersion":"SPDX-2.3","packages":[{},{}],"files":[{}]}}`:                        "SPDX-2.3, 2 packages, 1 files",
		`{"SLSA":{"buildType":"https://mobyproject.org/buildkit@v1","materials":[{},{},{}]}}`:        "SLSA v0.2, build type https://mobyproject.org/buildkit@v1, 3 materials",
		`{"SLSA":{"buildDefinition":{"buildType":"https://b.test/v1","resolvedDependencies":[{}]}}}`: "SLSA v1, build type https://b.test/v1, 1 resolved dependencies",
		"{}\n":    "empty: the image carries no such attestation",
		`{"X":1}`: "7 bytes",
	} {
		if got := describeAttestation([]byte(in)); got != want {
			t.Errorf("describeAttestation(%s) = %q, want %q", in, got, want)
		}
	}
}

// CheckOutput, which reproduce applies to a real `make demo`, accepts the
// summary with its step lines and a plain log of buildx progress, and
// refuses escapes, a flood of lines and a log without progress.
func TestCheckOutput(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("demo: log: .cache/imageset/demo/demo.log\ndemo: buildx bake: 9 targets\n")
	if err := WriteSummary(&b, summaryOf()); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	log := filepath.Join(dir, "demo.log")
	write := func(s string) {
		if err := os.WriteFile(log, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("#12 exporting to image\n#12 DONE 0.1s\n")
	if err := CheckOutput(b.Bytes(), log); err != nil {
		t.Errorf("a good run: %v", err)
	}
	for name, c := range map[string]struct {
		out, log string
		want     string
	}{
		"escape":      {"\x1b[33m" + b.String(), "#1 exporting to image\n", "terminal escapes"},
		"flood":       {strings.Repeat("#1 [internal] load\n", MaxOutputLines+1), "#1 exporting to image\n", "more than"},
		"no summary":  {"demo: log: x\n", "#1 exporting to image\n", "lacks"},
		"log escapes": {b.String(), "\x1b[31m#1 exporting to image\n", "log"},
		"empty log":   {b.String(), "", "no buildx progress"},
	} {
		write(c.log)
		if err := CheckOutput([]byte(c.out), log); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", name, err, c.want)
		}
	}
	if err := CheckOutput(b.Bytes(), filepath.Join(dir, "missing.log")); err == nil {
		t.Error("a missing log must be an error")
	}
}
