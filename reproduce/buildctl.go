package reproduce

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"edp.buildth.ing/devfw-cicd/stagex/bake"
)

// Buildctl builds bake targets with buildctl instead of buildx: each target
// as `buildx bake --print` resolved it, translated flag by flag, so both
// tools build exactly what the bake file says. buildctl passes no git
// facts (buildx does), which is one of the differences a reproducibility
// check wants.
type Buildctl struct {
	Path    string // the buildctl binary
	Addr    string // the BuildKit daemon
	Root    string // the repository root (bake's working directory)
	Push    bool
	NoCache bool
	Output  io.Writer // buildctl's progress and errors
}

// Run builds the targets, each target named in another's contexts
// ("target:<name>") first, and returns the results like a bake run's.
func (c *Buildctl) Run(ctx context.Context, targets map[string]bake.Target) (map[string]bake.Result, error) {
	out := map[string]bake.Result{}
	var build func(name string, seen map[string]bool) error
	build = func(name string, seen map[string]bool) error {
		if _, done := out[name]; done {
			return nil
		}
		if seen[name] {
			return fmt.Errorf("bake target %s depends on itself", name)
		}
		seen[name] = true
		t, ok := targets[name]
		if !ok {
			return fmt.Errorf("no bake target %s", name)
		}
		for _, k := range slices.Sorted(maps.Keys(t.Contexts)) {
			if dep, ok := strings.CutPrefix(t.Contexts[k], "target:"); ok {
				if err := build(dep, seen); err != nil {
					return err
				}
			}
		}
		r, err := c.build(ctx, name, t, out)
		if err != nil {
			return err
		}
		out[name] = r
		return nil
	}
	for _, name := range slices.Sorted(maps.Keys(targets)) {
		if err := build(name, map[string]bool{}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// build runs buildctl for one target; built holds the targets it may name.
func (c *Buildctl) build(ctx context.Context, name string, t bake.Target, built map[string]bake.Result) (bake.Result, error) {
	args, err := c.args(t, built)
	if err != nil {
		return bake.Result{}, fmt.Errorf("bake target %s: %w", name, err)
	}
	meta, err := os.CreateTemp("", "stagex-buildctl-metadata-*.json")
	if err != nil {
		return bake.Result{}, err
	}
	meta.Close()
	defer os.Remove(meta.Name())
	args = append(args, "--metadata-file", meta.Name())
	cmd := exec.CommandContext(ctx, c.Path, append([]string{"--addr", c.Addr, "build"}, args...)...)
	cmd.Dir = c.Root
	w := c.Output
	if w == nil {
		w = io.Discard
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Run(); err != nil {
		return bake.Result{}, fmt.Errorf("buildctl build (target %s) %s: %w", name, strings.Join(args, " "), err)
	}
	data, err := os.ReadFile(meta.Name())
	if err != nil {
		return bake.Result{}, err
	}
	var m struct {
		Digest string `json:"containerimage.digest"`
		Name   string `json:"image.name"`
	}
	if err := json.Unmarshal(data, &m); err != nil || m.Digest == "" {
		return bake.Result{}, fmt.Errorf("buildctl (target %s) reported no image digest: %s", name, data)
	}
	r := bake.Result{Target: name, Digest: m.Digest, Raw: data}
	if m.Name != "" {
		r.Names = strings.Split(m.Name, ",")
	}
	return r, nil
}

// args translates a target into buildctl build flags.
func (c *Buildctl) args(t bake.Target, built map[string]bake.Result) ([]string, error) {
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(c.Root, p)
	}
	ctxDir := abs(t.Context)
	dfDir, dfName := ctxDir, t.Dockerfile
	if dfName == "" {
		dfName = "Dockerfile"
	}
	if filepath.IsAbs(dfName) {
		dfDir, dfName = filepath.Dir(dfName), filepath.Base(dfName)
	}
	args := []string{"--frontend", "dockerfile.v0",
		"--local", "context=" + ctxDir, "--local", "dockerfile=" + dfDir,
		"--opt", "filename=" + dfName}
	if t.Target != "" {
		args = append(args, "--opt", "target="+t.Target)
	}
	if len(t.Platforms) > 0 {
		args = append(args, "--opt", "platform="+strings.Join(t.Platforms, ","))
	}
	for _, k := range slices.Sorted(maps.Keys(t.Args)) {
		if v := t.Args[k]; v != nil {
			args = append(args, "--opt", "build-arg:"+k+"="+*v)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(t.Contexts)) {
		v := t.Contexts[k]
		switch {
		case strings.HasPrefix(v, "target:"):
			dep := built[strings.TrimPrefix(v, "target:")]
			if len(dep.Names) == 0 {
				return nil, fmt.Errorf("context %s = %s: that target was not pushed (buildctl passes targets to each other through the registry)", k, v)
			}
			repo, _, _ := strings.Cut(dep.Names[0], "@")
			if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
				repo = repo[:i]
			}
			v = "docker-image://" + repo + "@" + dep.Digest
		case strings.HasPrefix(v, "docker-image://"):
		default:
			return nil, fmt.Errorf("context %s = %s: only target: and docker-image:// contexts are translated", k, v)
		}
		args = append(args, "--opt", "context:"+k+"="+v)
	}
	for _, a := range t.Attest {
		typ := a["type"]
		if typ == "" {
			return nil, fmt.Errorf("attest %v has no type", a)
		}
		var params []string
		for _, k := range slices.Sorted(maps.Keys(a)) {
			if k != "type" {
				params = append(params, k+"="+a[k])
			}
		}
		args = append(args, "--opt", "attest:"+typ+"="+strings.Join(params, ","))
	}
	for _, o := range t.Output {
		fields := []string{}
		for _, k := range slices.Sorted(maps.Keys(o)) {
			fields = append(fields, k+"="+o[k])
		}
		if o["type"] == "image" && len(t.Tags) > 0 {
			fields = append(fields, "name="+strings.Join(t.Tags, ","))
			if c.Push {
				fields = append(fields, "push=true")
			}
		}
		var b strings.Builder
		w := csv.NewWriter(&b)
		if err := w.Write(fields); err != nil {
			return nil, err
		}
		w.Flush()
		args = append(args, "--output", strings.TrimSpace(b.String()))
	}
	if c.NoCache {
		args = append(args, "--no-cache")
	}
	return args, nil
}
