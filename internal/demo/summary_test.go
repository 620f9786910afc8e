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

// summaryOf is a demo run's summary with the values of a real one.
func summaryOf() *Summary {
	exit := 0
	passed := func(n int) []frontend.TestResult {
		var out []frontend.TestResult
		for i := range n {
			out = append(out, frontend.TestResult{Name: string(rune('a' + i)), Status: frontend.TestPassed, Exit: &exit})
		}
		return out
	}
	notRun := func(n int) []frontend.TestResult {
		var out []frontend.TestResult
		for i := range n {
			out = append(out, frontend.TestResult{Name: string(rune('a' + i)), Status: frontend.TestNotRun, Reason: "fixture"})
		}
		return out
	}
	checked := func(mode frontend.CheckMode, pct float64, wasted int64, warn int, tests []frontend.TestResult) *frontend.CheckPredicate {
		return &frontend.CheckPredicate{Mode: mode, Tests: tests,
			Report: &check.Report{Passed: true, Efficiency: &check.Efficiency{Percent: pct, WastedBytes: wasted}, Summary: map[string]int{"warning": warn}}}
	}
	att := []string{frontend.CheckPredicateType, "https://slsa.dev/provenance/v0.2", "https://spdx.dev/Document"}
	img := func(target, d string, size int64, layers int, c *frontend.CheckPredicate) *imageset.Image {
		preds := att
		if c == nil {
			preds = att[1:2]
		}
		return &imageset.Image{Target: target, Digest: "sha256:" + strings.Repeat(d, 64), Size: size, Layers: layers, Predicates: preds, Check: c}
	}
	app := img("example-app", "9", 2<<20, 6, checked(frontend.CheckStrict, 100, 0, 0, passed(1)))
	return &Summary{
		Bed: "demo", Registry: "127.0.0.1:7201/devfw-cicd", Took: 3*time.Minute + 41*time.Second,
		Images: []*imageset.Image{
			img("base", "1", 1<<20+1<<18, 5, checked(frontend.CheckStrict, 100, 0, 0, passed(2))),
			img("base-go", "2", 60<<20, 9, checked(frontend.CheckStrict, 99.5, 12345, 1, passed(3))),
			img("base-java", "3", 3<<20, 8, checked(frontend.CheckWarn, 100, 0, 2, notRun(2))),
			img("frontend", "4", 9<<20, 1, nil),
			app,
		},
		StrictImages: []string{"base", "base-static", "base-go"},
		App:          &App{Image: app, Answers: []imageset.AppAnswer{{File: "healthz.txt", Got: "ok"}, {File: "root.json", Got: `{"service":"stagex-example"}`}}, Rebuilt: app.Digest},
		Shown:        "base-java",
		SBOM:         Attestation{File: ".cache/imageset/demo/base-java.sbom.json", About: "SPDX-2.3, 12 packages, 40 files"},
		Provenance:   Attestation{File: ".cache/imageset/demo/base-java.provenance.json", About: "SLSA v0.2, build type https://mobyproject.org/buildkit@v1, 13 materials"},
		Digests:      ".cache/imageset/demo/DIGESTS.md", Record: ".cache/imageset/demo/digests.json", Log: ".cache/imageset/demo/demo.log",
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
	if !strings.Contains(b.String(), `still up: eval "$(hack/bed env demo)"`) {
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
