package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"edp.buildth.ing/devfw-cicd/stagex/internal/repo"
	"edp.buildth.ing/devfw-cicd/stagex/internal/solve"
	"edp.buildth.ing/devfw-cicd/stagex/lock"
	"edp.buildth.ing/devfw-cicd/stagex/spec"
	"go.yaml.in/yaml/v3"
)

// The StageX locks renovate.json keeps current.
var renovateLocks = []string{"images/stagex.lock.yaml", "examples/stagex.lock.yaml"}

// renovateEnv runs the pinned Renovate offline: no token, its caches in
// the test's folder, and every HTTP(S) request sent to a proxy that is not
// there, so that a lookup fails loudly instead of reaching the network.
func renovateEnv(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	return append(os.Environ(), "LOG_LEVEL=warn", "RENOVATE_BASE_DIR="+dir, "RENOVATE_CACHE_DIR="+filepath.Join(dir, "cache"),
		"HTTP_PROXY=http://127.0.0.1:9", "HTTPS_PROXY=http://127.0.0.1:9", "NO_PROXY=", "RENOVATE_TOKEN=", "GITHUB_COM_TOKEN=")
}

// TestRenovateConfigValid: Renovate's own validator (--strict: a config it
// would migrate is an error too) accepts renovate.json, and refuses a copy
// with a broken regex manager, so the check can fail.
func TestRenovateConfigValid(t *testing.T) {
	validator := signTool(t, "renovate-config-validator")
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	validate := func(file string) (string, error) {
		cmd := exec.Command(validator, "--strict", file)
		cmd.Env = renovateEnv(t)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := validate(filepath.Join(root, "renovate.json")); err != nil {
		t.Fatalf("renovate-config-validator renovate.json: %v\n%s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(root, "renovate.json"))
	if err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(t.TempDir(), "renovate.json")
	if err := os.WriteFile(broken, []byte(strings.Replace(string(data), `"customType": "regex"`, `"customType": "regexp"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := validate(broken); err == nil {
		t.Errorf("the validator accepted a custom manager of type \"regexp\":\n%s", out)
	}
}

// renovateDep is one dependency of Renovate's extraction report.
type renovateDep struct {
	DepName       string `json:"depName"`
	PackageName   string `json:"packageName"`
	Datasource    string `json:"datasource"`
	CurrentValue  string `json:"currentValue"`
	CurrentDigest string `json:"currentDigest"`
	DepType       string `json:"depType"`
}

func (d renovateDep) String() string {
	return fmt.Sprintf("%s (%s %s) %s@%s", d.DepName, d.Datasource, d.PackageName, d.CurrentValue, d.CurrentDigest)
}

// TestRenovateExtractsEveryPin runs Renovate's extraction on the repository
// (local platform, --dry-run=extract: no lookups, offline) and checks its
// report against the files themselves: every package of each StageX lock
// (parsed by package spec) with its version and linux/amd64 digest and the
// lock's release; the pallet-go pin in the Dockerfile and in
// docker-bake.hcl; and every pinned tool version and action of the Forgejo
// workflows.
func TestRenovateExtractsEveryPin(t *testing.T) {
	renovate := signTool(t, "renovate")
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(t.TempDir(), "report.json")
	cmd := exec.Command(renovate, "--platform=local", "--onboarding=false", "--dry-run=extract",
		"--report-type=file", "--report-path="+report)
	cmd.Dir = root
	cmd.Env = renovateEnv(t)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("renovate --dry-run=extract: %v\n%s", err, solve.TailLines(string(out), 40))
	}
	if m := regexp.MustCompile(`(?m)^ *(ERROR|FATAL): .*`).FindString(string(out)); m != "" {
		t.Fatalf("renovate reported %s\n%s", m, solve.TailLines(string(out), 40))
	}
	deps := readRenovateReport(t, report)

	for _, file := range renovateLocks {
		data, err := os.ReadFile(filepath.Join(root, file))
		if err != nil {
			t.Fatal(err)
		}
		l, err := spec.ParseLock(file, data)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for name, p := range l.Packages {
			d := p.Digests[lock.DefaultPlatform]
			want = append(want, renovateDep{DepName: name, PackageName: "docker.io/stagex/" + name, Datasource: "docker", CurrentValue: p.Version, CurrentDigest: d}.String())
		}
		want = append(want, renovateDep{DepName: "stagex-release", PackageName: "https://codeberg.org/stagex/stagex", Datasource: "git-tags", CurrentValue: l.Release}.String())
		wantDeps(t, file, deps["regex "+file], want)
	}

	dockerfile, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^ARG GO_IMAGE=docker\.io/stagex/pallet-go@(sha256:[0-9a-f]{64})$`).FindSubmatch(dockerfile)
	if m == nil {
		t.Fatal("no ARG GO_IMAGE=docker.io/stagex/pallet-go@sha256:… in the Dockerfile")
	}
	for _, file := range []string{"Dockerfile", "docker-bake.hcl"} {
		got := deps["regex "+file]
		if len(got) != 1 || got[0].DepName != "docker.io/stagex/pallet-go" || got[0].Datasource != "docker" ||
			got[0].CurrentDigest != string(m[1]) || got[0].CurrentValue == "" {
			t.Errorf("%s: Renovate extracted %v, want pallet-go with a version and %s", file, got, m[1])
		}
	}

	workflows, err := filepath.Glob(filepath.Join(root, ".forgejo/workflows/*.yaml"))
	if err != nil || len(workflows) == 0 {
		t.Fatalf("no workflows (%v)", err)
	}
	for _, wf := range workflows {
		rel, _ := filepath.Rel(root, wf)
		tools, actions := workflowPins(t, wf)
		var got []string
		for _, d := range deps["regex "+rel] {
			got = append(got, d.CurrentValue)
		}
		wantValues(t, rel+" (tool pins)", got, tools)
		got = nil
		for _, d := range deps["github-actions "+rel] {
			// Its container and service images name vars.* (digest, job
			// image): Renovate skips them; the regex manager has the tag.
			if d.DepType == "action" {
				got = append(got, d.DepName+"@"+d.CurrentValue)
			}
		}
		wantValues(t, rel+" (actions)", got, actions)
	}
}

// readRenovateReport returns the report's dependencies by "<manager> <file>".
func readRenovateReport(t *testing.T, file string) map[string][]renovateDep {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Repositories map[string]struct {
			PackageFiles map[string][]struct {
				PackageFile string        `json:"packageFile"`
				Deps        []renovateDep `json:"deps"`
			} `json:"packageFiles"`
		} `json:"repositories"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("renovate report: %v", err)
	}
	out := map[string][]renovateDep{}
	for _, repo := range r.Repositories {
		for manager, files := range repo.PackageFiles {
			for _, f := range files {
				k := manager + " " + f.PackageFile
				out[k] = append(out[k], f.Deps...)
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("renovate report lists no dependencies:\n%s", data)
	}
	return out
}

// wantDeps compares extracted dependencies with the expected ones, as sets.
func wantDeps(t *testing.T, file string, got []renovateDep, want []string) {
	t.Helper()
	var g []string
	for _, d := range got {
		g = append(g, d.String())
	}
	wantValues(t, file, g, want)
}

func wantValues(t *testing.T, what string, got, want []string) {
	t.Helper()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s: Renovate extracted\n  %s\nwant\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// versionPin is a pinned version as the workflows write one: v1.2.3, or an
// image's tag (moby/buildkit:v0.34.2, also with @digest after it).
var versionPin = regexp.MustCompile(`^(?:[^\s:@]+:)?(v?[0-9]+\.[0-9]+\.[0-9]+)(?:@.*)?$`)

// workflowPins reads a workflow: the versions its env (workflow and job
// level) and its job services' and containers' images pin, and its actions
// as name@version.
func workflowPins(t *testing.T, file string) (tools, actions []string) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		Env  map[string]any `yaml:"env"`
		Jobs map[string]struct {
			Env       map[string]any `yaml:"env"`
			Container struct {
				Image string `yaml:"image"`
			} `yaml:"container"`
			Services map[string]struct {
				Image string `yaml:"image"`
			} `yaml:"services"`
			Steps []struct {
				Uses string `yaml:"uses"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(data, &wf); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	envs := []map[string]any{wf.Env}
	for _, j := range wf.Jobs {
		images := map[string]any{"container": j.Container.Image}
		for name, svc := range j.Services {
			images["service "+name] = svc.Image
		}
		envs = append(envs, j.Env, images)
		for _, s := range j.Steps {
			if name, v, ok := strings.Cut(s.Uses, "@"); ok && !strings.HasPrefix(s.Uses, "./") {
				actions = append(actions, name+"@"+v)
			}
		}
	}
	for _, env := range envs {
		for _, v := range env {
			if m := versionPin.FindStringSubmatch(fmt.Sprint(v)); m != nil {
				tools = append(tools, m[1])
			}
		}
	}
	return tools, actions
}
