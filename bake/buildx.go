// Package bake drives `buildx bake`: a buildx builder (the user's, or one
// on a BuildKit daemon reached with buildx's remote driver, never a Docker
// socket), a bake run with its metadata file, and `bake --print`. The
// pipeline (package pipeline), hack/images, hack/demo and the tests all
// bake through it.
package bake

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
)

// File is the bake definition at the repository root.
const File = "docker-bake.hcl"

// Builder is a buildx builder to bake with: the buildx command, the
// environment it needs, and the builder's name.
type Builder struct {
	// Command is the buildx command: ["/path/buildx"] or ["docker", "buildx"].
	Command []string
	// Env is added to the process environment (BUILDX_CONFIG for a builder
	// of our own).
	Env []string
	// Name is passed as --builder; empty uses buildx's current builder.
	Name string
	// Desc says what it is, for messages.
	Desc string
}

// RemoteBuilder creates a buildx builder on the BuildKit daemon at addr
// (buildx's remote driver: no Docker), in its own BUILDX_CONFIG folder
// configDir, so that the user's buildx configuration is never touched.
func RemoteBuilder(ctx context.Context, buildx, configDir, name, addr string) (*Builder, error) {
	if err := os.MkdirAll(configDir, 0o700); err != nil {
		return nil, err
	}
	b := &Builder{Command: []string{buildx}, Env: []string{"BUILDX_CONFIG=" + configDir}, Name: name, Desc: "buildkitd " + addr + " (buildx remote driver)"}
	// A builder of that name left by an earlier run points at an older
	// socket; replace it.
	_, _ = b.output(ctx, "rm", name)
	if out, err := b.output(ctx, "create", "--name", name, "--driver", "remote", addr); err != nil {
		return nil, fmt.Errorf("buildx create --driver remote %s: %w\n%s", addr, err, out)
	}
	return b, nil
}

// usableDrivers are the buildx drivers that can export attestations and
// OCI images; the docker driver without the containerd store cannot.
var usableDrivers = map[string]bool{"docker-container": true, "kubernetes": true, "remote": true}

// UserBuilder returns the user's own buildx builder, or nil when there is
// none that can build the set: BUILDX_BUILDER when it is set, else the
// current builder when its driver is docker-container, kubernetes or
// remote. It prefers the docker buildx plugin, then buildx on PATH.
func UserBuilder(ctx context.Context) *Builder {
	var cmd []string
	switch {
	case exec.CommandContext(ctx, "docker", "buildx", "version").Run() == nil:
		cmd = []string{"docker", "buildx"}
	default:
		p, err := exec.LookPath("buildx")
		if err != nil {
			return nil
		}
		cmd = []string{p}
	}
	b := &Builder{Command: cmd}
	if name := os.Getenv("BUILDX_BUILDER"); name != "" {
		b.Name, b.Desc = name, "your buildx builder "+name+" (BUILDX_BUILDER)"
		return b
	}
	out, err := b.output(ctx, "inspect")
	if err != nil {
		return nil
	}
	var name, driver string
	for _, line := range strings.Split(string(out), "\n") {
		k, v, _ := strings.Cut(line, ":")
		switch strings.TrimSpace(k) {
		case "Name":
			if name == "" {
				name = strings.TrimSpace(v)
			}
		case "Driver":
			driver = strings.TrimSpace(v)
		case "Error":
			return nil
		}
	}
	if !usableDrivers[driver] {
		return nil
	}
	b.Name, b.Desc = name, fmt.Sprintf("your buildx builder %s (%s driver)", name, driver)
	return b
}

func (b *Builder) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, b.Command[0], append(b.Command[1:], args...)...)
	cmd.Env = append(os.Environ(), b.Env...)
	return cmd
}

func (b *Builder) output(ctx context.Context, args ...string) ([]byte, error) {
	return b.command(ctx, args...).CombinedOutput()
}

// Imagetools runs `buildx imagetools inspect ref --format format` and
// returns its output.
func (b *Builder) Imagetools(ctx context.Context, ref, format string) ([]byte, error) {
	args := []string{"imagetools", "inspect", ref}
	if format != "" {
		args = append(args, "--format", format)
	}
	if b.Name != "" {
		args = append([]string{"--builder", b.Name}, args...)
	}
	cmd := b.command(ctx, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("buildx imagetools inspect %s: %w\n%s", ref, err, stderr.String())
	}
	return out, nil
}

// Bake is one `buildx bake` run of the bake file.
type Bake struct {
	Root    string            // repository root: the working directory, where the bake file is
	File    string            // the bake file, relative to Root (default File)
	Vars    map[string]string // bake variables (--var), e.g. REGISTRY, STAGEX_LOCK
	Set     []string          // --set overrides, e.g. frontend.target=frontend-prebuilt
	Targets []string          // targets or groups; none = the default group
	Push    bool
	NoCache bool
	// Progress is buildx's --progress (auto, plain, quiet, rawjson);
	// default plain.
	Progress string
	// Output receives buildx's output (progress, errors).
	Output io.Writer
}

// Result is what bake reports per target, from its metadata file.
type Result struct {
	Target string
	// Digest is the exporter's digest: with attestations, the image index.
	Digest string
	// Names are the image names it was exported under.
	Names []string
	// Raw is the target's whole metadata entry (provenance included).
	Raw json.RawMessage
}

// Run bakes and returns the results by target.
func (b *Builder) Run(ctx context.Context, bk Bake) (map[string]Result, error) {
	meta, err := os.CreateTemp("", "stagex-bake-metadata-*.json")
	if err != nil {
		return nil, err
	}
	meta.Close()
	defer os.Remove(meta.Name())

	progress := bk.Progress
	if progress == "" {
		progress = "plain"
	}
	args := append([]string{"bake", "--metadata-file", meta.Name(), "--progress", progress}, b.bakeArgs(bk)...)
	cmd := b.command(ctx, args...)
	cmd.Dir = bk.Root
	out := bk.Output
	if out == nil {
		out = io.Discard
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s %s: %w", strings.Join(b.Command, " "), strings.Join(args, " "), err)
	}
	return readMetadata(meta.Name())
}

// bakeArgs are the bake flags and targets of bk: file, builder, push,
// cache, variables, overrides.
func (b *Builder) bakeArgs(bk Bake) []string {
	file := bk.File
	if file == "" {
		file = File
	}
	args := []string{"-f", file}
	if b.Name != "" {
		args = append(args, "--builder", b.Name)
	}
	if bk.Push {
		args = append(args, "--push")
	}
	if bk.NoCache {
		args = append(args, "--no-cache")
	}
	var keys []string
	for k := range bk.Vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "--var", k+"="+bk.Vars[k])
	}
	for _, s := range bk.Set {
		args = append(args, "--set", s)
	}
	return append(args, bk.Targets...)
}

func readMetadata(p string) (map[string]Result, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(data, &all); err != nil {
		return nil, fmt.Errorf("bake metadata %s: %w", p, err)
	}
	out := map[string]Result{}
	for target, raw := range all {
		var m struct {
			Digest string `json:"containerimage.digest"`
			Name   string `json:"image.name"`
		}
		if json.Unmarshal(raw, &m) != nil || m.Digest == "" {
			continue // buildx.build.warnings and the like
		}
		r := Result{Target: target, Digest: m.Digest, Raw: raw}
		if m.Name != "" {
			r.Names = strings.Split(m.Name, ",")
		}
		out[target] = r
	}
	return out, nil
}

// Target is one bake target as `buildx bake --print` resolves it.
type Target struct {
	Context    string              `json:"context"`
	Dockerfile string              `json:"dockerfile"`
	Target     string              `json:"target"`
	Args       map[string]*string  `json:"args"`
	Contexts   map[string]string   `json:"contexts"`
	Tags       []string            `json:"tags"`
	Platforms  []string            `json:"platforms"`
	Attest     []map[string]string `json:"attest"`
	Output     []map[string]string `json:"output"`
}

// Print returns the targets of a bake run as `buildx bake --print`
// resolves them (variables and overrides applied), by name.
func (b *Builder) Print(ctx context.Context, bk Bake) (map[string]Target, error) {
	cmd := b.command(ctx, append([]string{"bake", "--print"}, b.bakeArgs(bk)...)...)
	cmd.Dir = bk.Root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("buildx bake --print: %w\n%s", err, stderr.String())
	}
	var def struct {
		Target map[string]Target `json:"target"`
	}
	if err := json.Unmarshal(out, &def); err != nil {
		return nil, fmt.Errorf("buildx bake --print: %w", err)
	}
	return def.Target, nil
}
