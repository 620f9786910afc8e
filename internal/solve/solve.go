// Package solve runs one solve through BuildKit's built-in dockerfile.v0
// frontend (or another frontend named by attribute) with local folders, and
// collects the build log: what the tests, the benchmarks and the frontend
// image build share.
package solve

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/moby/buildkit/client"
	"github.com/tonistiigi/fsutil"
)

// DockerfileBuild describes one solve through BuildKit's built-in
// dockerfile.v0 frontend.
type DockerfileBuild struct {
	// DockerfileDir is sent as the local "dockerfile".
	DockerfileDir string
	// Filename defaults to "Dockerfile".
	Filename string
	// ContextDir is sent as the local "context".
	ContextDir string
	// Locals are further local folders by name, for named contexts
	// (pair each with an Attrs "context:NAME": "local:NAME").
	Locals map[string]string
	// Target is the stage to build (empty: the last one).
	Target string
	// BuildArgs become build-arg:NAME frontend attributes.
	BuildArgs map[string]string
	// Attrs are extra frontend attributes.
	Attrs map[string]string
	// Push names the image to push (e.g. 127.0.0.1:5000/x:test); empty
	// solves without exporting.
	Push string
	// Frontend defaults to "dockerfile.v0".
	Frontend string
	// ExportAttrs are extra attributes of the image exporter (with Push),
	// e.g. "rewrite-timestamp": "true".
	ExportAttrs map[string]string
	// OnStatus, when set, sees every progress update of the solve (the
	// vertices with their start and completion times).
	OnStatus func(*client.SolveStatus)
}

// Result is what a solve returns.
type Result struct {
	// Digest is the pushed image's manifest (or index) digest, if pushed.
	Digest string
	// Response is the raw exporter response.
	Response map[string]string
	// Log is the build output (vertex names and their logs).
	Log string
}

// Dockerfile runs a DockerfileBuild on c. The build log is returned
// and, on failure, included in the error.
func Dockerfile(ctx context.Context, c *client.Client, b DockerfileBuild) (*Result, error) {
	if b.Filename == "" {
		b.Filename = "Dockerfile"
	}
	if b.Frontend == "" {
		b.Frontend = "dockerfile.v0"
	}
	attrs := map[string]string{"filename": b.Filename}
	if b.Target != "" {
		attrs["target"] = b.Target
	}
	for k, v := range b.BuildArgs {
		attrs["build-arg:"+k] = v
	}
	for k, v := range b.Attrs {
		attrs[k] = v
	}
	mounts := map[string]fsutil.FS{}
	locals := map[string]string{"dockerfile": b.DockerfileDir, "context": b.ContextDir}
	for name, dir := range b.Locals {
		locals[name] = dir
	}
	for local, dir := range locals {
		if dir == "" {
			continue
		}
		fs, err := fsutil.NewFS(dir)
		if err != nil {
			return nil, fmt.Errorf("local %s: %w", local, err)
		}
		mounts[local] = fs
	}
	opt := client.SolveOpt{Frontend: b.Frontend, FrontendAttrs: attrs, LocalMounts: mounts}
	if b.Push != "" {
		opt.Exports = []client.ExportEntry{{
			Type: client.ExporterImage,
			Attrs: map[string]string{
				"name":              b.Push,
				"push":              "true",
				"registry.insecure": "true",
				"oci-mediatypes":    "true",
			},
		}}
		for k, v := range b.ExportAttrs {
			opt.Exports[0].Attrs[k] = v
		}
	}
	var log bytes.Buffer
	ch := make(chan *client.SolveStatus)
	done := make(chan struct{})
	go func() { defer close(done); collectLog(&log, ch, b.OnStatus) }()
	resp, err := c.Solve(ctx, nil, opt, ch)
	<-done
	res := &Result{Log: log.String()}
	if err != nil {
		return res, fmt.Errorf("solve: %w\n--- build log ---\n%s", err, TailLines(res.Log, 60))
	}
	res.Response = resp.ExporterResponse
	if b.Push != "" {
		res.Digest = resp.ExporterResponse["containerimage.digest"]
		if res.Digest == "" {
			return res, fmt.Errorf("solve: no containerimage.digest in the exporter response %v", resp.ExporterResponse)
		}
	}
	return res, nil
}

func collectLog(w io.Writer, ch chan *client.SolveStatus, onStatus func(*client.SolveStatus)) {
	names := map[string]string{}
	for s := range ch {
		if onStatus != nil {
			onStatus(s)
		}
		for _, v := range s.Vertexes {
			if _, ok := names[v.Digest.String()]; !ok && v.Name != "" {
				names[v.Digest.String()] = v.Name
				fmt.Fprintf(w, "#%s\n", v.Name)
			}
			if v.Error != "" {
				fmt.Fprintf(w, "#%s ERROR: %s\n", v.Name, v.Error)
			}
		}
		for _, wr := range s.Warnings {
			fmt.Fprintf(w, "WARNING: %s\n", wr.Short)
		}
		for _, l := range s.Logs {
			for _, line := range strings.Split(strings.TrimRight(string(l.Data), "\n"), "\n") {
				fmt.Fprintf(w, "  %s\n", line)
			}
		}
	}
}

// TailLines is the last n lines of s, for quoting the end of a long log in
// an error.
func TailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
