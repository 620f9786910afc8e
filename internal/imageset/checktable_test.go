package imageset

import (
	"bytes"
	"strings"
	"testing"

	"edp.buildth.ing/devfw-cicd/stagex/check"
	"edp.buildth.ing/devfw-cicd/stagex/frontend"
)

func TestWriteCheckTable(t *testing.T) {
	exit := 0
	imgs := []*Image{
		{Target: "base", Check: &frontend.CheckPredicate{
			Mode:   frontend.CheckStrict,
			Report: &check.Report{Passed: true, Efficiency: &check.Efficiency{Percent: 100}, Summary: map[string]int{"warning": 2}},
			Tests: []frontend.TestResult{
				{Name: "a", Status: frontend.TestPassed, Exit: &exit},
				{Name: "b", Status: frontend.TestPassed, Exit: &exit},
			},
		}},
		{Target: "base-python", Check: &frontend.CheckPredicate{
			Mode:   frontend.CheckStrict,
			Report: &check.Report{Passed: false, Summary: map[string]int{"error": 1, "accepted": 3}},
			Tests:  []frontend.TestResult{{Name: "ssl", Status: frontend.TestNotRun, Reason: "fixture"}},
		}},
		{Target: "base-static"},
	}
	var b bytes.Buffer
	if err := WriteCheckTable(&b, imgs); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"stagex-base         passed (strict)  100.0 % (0 B wasted)  0/2/0",
		"2 passed",
		"stagex-base-python  FAILED (strict)  -",
		"1/0/3",
		"1 not run: fixture",
		"stagex-base-static  not checked",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, b.String())
		}
	}
}
