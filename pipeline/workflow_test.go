package pipeline

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// workflow is the part of the Forgejo workflow the test reads.
type workflow struct {
	Jobs map[string]struct {
		RunsOn    any `yaml:"runs-on"`
		Container struct {
			Volumes []string `yaml:"volumes"`
		} `yaml:"container"`
		Services map[string]struct {
			Image   string   `yaml:"image"`
			Options string   `yaml:"options"`
			Volumes []string `yaml:"volumes"`
		} `yaml:"services"`
		Steps []struct {
			Name string `yaml:"name"`
			Uses string `yaml:"uses"`
			Run  string `yaml:"run"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
	Env map[string]string `yaml:"env"`
}

// setupSteps are the workflow's only steps that run more than a make
// target: installing the pinned tools and writing the credentials.
var setupSteps = []string{"Install buildx, cosign, Grype and Trivy (pinned, built from source)", "Write the credentials"}

// TestWorkflowOnlyCallsTargets: every step of build-sign.yaml is an action,
// one of the setup steps, or `make <target>` of a target the Makefile
// has; BuildKit is the pinned moby/buildkit (the go.mod version), rootful,
// as a job service reached through its socket on a shared volume with the
// remote driver; no Docker socket, no buildx action; runs-on is a
// Forgejo label.
func TestWorkflowOnlyCallsTargets(t *testing.T) {
	data, err := os.ReadFile("../.forgejo/workflows/build-sign.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "docker.sock") || strings.Contains(string(data), "setup-buildx-action") {
		t.Error("the workflow uses a Docker socket or docker/setup-buildx-action")
	}
	var wf workflow
	if err := yaml.Unmarshal(data, &wf); err != nil {
		t.Fatal(err)
	}
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s+github\.com/moby/buildkit (v\S+)$`).FindSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod requires no github.com/moby/buildkit")
	}
	buildkit := string(m[1])
	job, ok := wf.Jobs["build-sign"]
	if !ok {
		t.Fatal("no job build-sign")
	}
	if job.RunsOn != "docker" {
		t.Errorf("runs-on %v, want the Forgejo label docker", job.RunsOn)
	}
	svc, ok := job.Services["buildkitd"]
	if !ok {
		t.Fatal("no buildkitd service")
	}
	if want := "moby/buildkit:" + buildkit + "@${{ vars.BUILDKIT_DIGEST }}"; svc.Image != want {
		t.Errorf("service image %q, want %q (go.mod's BuildKit, by digest)", svc.Image, want)
	}
	if svc.Options != "--privileged" {
		t.Errorf("service options %q: the rootful image needs --privileged", svc.Options)
	}
	sock := "buildkit-run:/run/buildkit"
	if !slices.Contains(svc.Volumes, sock) || !slices.Contains(job.Container.Volumes, sock) {
		t.Errorf("the socket volume %s is not shared: service %v, job %v", sock, svc.Volumes, job.Container.Volumes)
	}
	if wf.Env["BUILDKIT_ADDR"] != "unix:///run/buildkit/buildkitd.sock" {
		t.Errorf("BUILDKIT_ADDR = %q", wf.Env["BUILDKIT_ADDR"])
	}
	makeRun := regexp.MustCompile(`^make ([a-z-]+)$`)
	var called []string
	for _, st := range job.Steps {
		switch {
		case st.Uses != "":
		case slices.Contains(setupSteps, st.Name):
			if strings.Contains(st.Run, "make ") || strings.Contains(st.Run, "stagex") {
				t.Errorf("setup step %q runs pipeline logic", st.Name)
			}
		default:
			m := makeRun.FindStringSubmatch(strings.TrimSpace(st.Run))
			if m == nil {
				t.Errorf("step %q runs %q, not a make target", st.Name, st.Run)
				continue
			}
			if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(m[1]) + `:`).Match(mk) {
				t.Errorf("step %q calls make %s, which the Makefile lacks", st.Name, m[1])
			}
			called = append(called, m[1])
		}
	}
	want := []string{"lock-verify", "pipeline-build", "pipeline-check", "pipeline-sign", "pipeline-attest", "pipeline-verify", "pipeline-scan", "pipeline-tag", "pipeline-digests"}
	if !slices.Equal(called, want) {
		t.Errorf("the workflow calls %v, want %v in that order", called, want)
	}
}
