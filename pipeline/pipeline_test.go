package pipeline

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"edp.buildth.ing/devfw-cicd/stagex/bake"
)

func TestDigestOutputsKeepTheBakeFilesAttributes(t *testing.T) {
	set, err := DigestOutputs(map[string]bake.Target{
		"frontend": {Output: []map[string]string{{"type": "image", "oci-mediatypes": "true", "rewrite-timestamp": "true", "push": "false", "name": "x"}}},
		"base":     {Output: []map[string]string{{"type": "image", "oci-mediatypes": "true"}}},
	}, map[string]string{"frontend": "reg.test/p/stagex-frontend", "base": "reg.test/p/stagex-base"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"base.tags=",
		"base.output=type=image,name=reg.test/p/stagex-base,oci-mediatypes=true," + byDigest,
		"frontend.tags=",
		"frontend.output=type=image,name=reg.test/p/stagex-frontend,oci-mediatypes=true,rewrite-timestamp=true," + byDigest,
	}
	if strings.Join(set, "\n") != strings.Join(want, "\n") {
		t.Errorf("set =\n%s\nwant\n%s", strings.Join(set, "\n"), strings.Join(want, "\n"))
	}
	if _, err := DigestOutputs(map[string]bake.Target{"x": {Output: []map[string]string{{"type": "local"}}}}, nil); err == nil {
		t.Error("a type=local output was accepted")
	}
}

func TestImageOfTagsInOneRepository(t *testing.T) {
	img, err := imageOf("base", bake.Target{Context: "images", Dockerfile: "base.yaml", Tags: []string{"reg.test/p/stagex-base:latest", "reg.test/p/stagex-base:1"}})
	if err != nil {
		t.Fatal(err)
	}
	if img.Repo != "reg.test/p/stagex-base" || img.Spec != "images/base.yaml" || len(img.Tags) != 2 {
		t.Errorf("image = %+v", img)
	}
	if _, err := imageOf("base", bake.Target{Tags: []string{"reg.test/a:1", "reg.test/b:1"}}); err == nil {
		t.Error("tags in two repositories were accepted")
	}
	if _, err := imageOf("base", bake.Target{}); err == nil {
		t.Error("a target without tags was accepted")
	}
}

// TestRunGatesOnEarlierSteps: a step does not touch an image an earlier
// step failed, records why, and the error names each failed image; Tag
// refuses the image.
func TestRunGatesOnEarlierSteps(t *testing.T) {
	dir := t.TempDir()
	s := NewState(dir, []*Image{
		{Target: "b", Repo: "reg.test/b", Digest: "sha256:" + strings.Repeat("b", 64)},
		{Target: "a", Repo: "reg.test/a", Digest: "sha256:" + strings.Repeat("a", 64)},
	})
	var ran []string
	err := s.Run(StepCheck, func(img *Image) (string, error) {
		ran = append(ran, img.Target)
		if img.Target == "a" {
			return "", errors.New("the check failed")
		}
		return "ok", nil
	})
	var se *StepError
	if !errors.As(err, &se) || len(se.Failed) != 1 || se.Failed[0] != "a: the check failed" {
		t.Fatalf("err = %v", err)
	}
	ran = nil
	if err := s.Run(StepSign, func(img *Image) (string, error) { ran = append(ran, img.Target); return "", nil }); err == nil {
		t.Error("sign passed although a's check failed")
	}
	if strings.Join(ran, ",") != "b" {
		t.Errorf("sign ran on %v, want b only", ran)
	}
	loaded, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r := loaded.Images[0].Steps[StepSign]; loaded.Images[0].Target != "a" || r.Passed || r.Detail != "not run: the check step did not pass" {
		t.Errorf("a's sign = %+v", r)
	}
	if loaded.Images[1].Passed() {
		t.Error("b passed with verify, attest and scan not run")
	}
	if err := Tag(t.Context(), loaded, os.Stderr); err == nil || !strings.Contains(err.Error(), "a: not tagged: check failed, sign not run, attest not run") {
		t.Errorf("Tag: %v", err)
	}
	table := string(Digests(loaded))
	if !strings.Contains(table, "| a | `reg.test/a` | `sha256:"+strings.Repeat("a", 64)+"` | **failed** | not run | not run | not run | not run | none |") {
		t.Errorf("digests table:\n%s", table)
	}
}

func TestKeylessRefuses(t *testing.T) {
	dir := t.TempDir()
	cfg, tr := filepath.Join(dir, "signing_config.json"), filepath.Join(dir, "trusted_root.json")
	for _, f := range []string{cfg, tr} {
		if err := os.WriteFile(f, []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	token := map[string]string{TokenEnv: "https://forge.test/token"}
	for _, c := range []struct {
		name string
		k    Keyless
		env  map[string]string
		want string
	}{
		{"no token", Keyless{Cosign: "sh", SigningConfig: cfg, TrustedRoot: tr}, nil, "enable-openid-connect"},
		{"no Sigstore", Keyless{Cosign: "sh"}, token, "public Fulcio does not trust Forgejo"},
		{"no trusted root file", Keyless{Cosign: "sh", SigningConfig: cfg, TrustedRoot: filepath.Join(dir, "none")}, token, "no such file"},
	} {
		if err := c.k.Check(env(c.env)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	if err := (Keyless{Cosign: "sh", SigningConfig: cfg, TrustedRoot: tr}).Check(env(token)); err != nil {
		t.Errorf("token and Sigstore given: %v", err)
	}
	if got := strings.Join((Keyless{SigningConfig: "c", TrustedRoot: "r"}).Args("reg.test/a@sha256:1"), " "); got != "sign --yes --signing-config c --trusted-root r reg.test/a@sha256:1" {
		t.Errorf("args = %s", got)
	}
}

func TestCountFindings(t *testing.T) {
	c, err := countFindings(Grype, []byte(`{"matches":[{"vulnerability":{"severity":"High"}},{"vulnerability":{"severity":"Low"}}],
		"ignoredMatches":[{"appliedIgnoreRules":[{"vex-status":"not_affected"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	sev, _ := threshold("high")
	if c.findings != 2 || c.overIn(sev) != 1 || c.accepted != 1 {
		t.Errorf("grype counts = %+v", c)
	}
	c, err = countFindings(Trivy, []byte(`{"SchemaVersion":2,"Results":[{"Vulnerabilities":[{"Severity":"CRITICAL"}],"ExperimentalModifiedFindings":[{}]}]}`))
	if err != nil || c.findings != 1 || c.overIn(sev) != 1 || c.accepted != 1 {
		t.Errorf("trivy counts = %+v, %v", c, err)
	}
	if _, err := countFindings(Trivy, []byte(`{}`)); err == nil {
		t.Error("an empty object passed as a Trivy report")
	}
	if _, err := threshold("severe"); err == nil {
		t.Error("fail severity severe accepted")
	}
}

// TestRunScannerIgnoresAStaleReport: a scanner that exits 0 without
// writing its report does not pass on the report an earlier run left in
// the reports folder (under the same target and scanner name).
func TestRunScannerIgnoresAStaleReport(t *testing.T) {
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, Grype), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	out := t.TempDir()
	file := filepath.Join(out, "base.image.grype.json")
	if err := os.WriteFile(file, []byte(`{"matches":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := (&Image{Repo: "reg.test/a", Digest: "sha256:" + strings.Repeat("a", 64)}).Ref()
	if err != nil {
		t.Fatal(err)
	}
	o := ScanOptions{VEX: "vex.json", Out: out, Log: io.Discard}
	if c, err := runScanner(context.Background(), Grype, scanInput{name: "image"}, d, file, o); err == nil {
		t.Errorf("a stale report passed as this scan's: %+v", c)
	}
}
