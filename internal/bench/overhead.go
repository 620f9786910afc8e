package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"edp.buildth.ing/devfw-cicd/stagex/internal/frontendimage"
)

// benchOverhead runs llb's BenchmarkCompose (no daemon) and reads its
// results: the frontend's own time per request, by spec size.
func benchOverhead(ctx context.Context, root string) ([]Overhead, error) {
	logf("go test -bench BenchmarkCompose ./llb")
	cmd := exec.CommandContext(ctx, frontendimage.GoBinary(), "test", "-run", "^$", "-bench", "^BenchmarkCompose$", "-benchmem", "-count", "1", "./llb")
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go test -bench: %w\n%s", err, out.String())
	}
	res, err := parseGoBench(out.String())
	if err != nil {
		return nil, err
	}
	if len(res) == 0 {
		return nil, fmt.Errorf("go test -bench printed no BenchmarkCompose results:\n%s", out.String())
	}
	return res, nil
}

// parseGoBench reads the "BenchmarkCompose/packages=N-P  iters  v unit …"
// lines of `go test -bench` output.
func parseGoBench(out string) ([]Overhead, error) {
	var res []Overhead
	for _, line := range strings.Split(out, "\n") {
		fields := strings.Fields(line)
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "BenchmarkCompose/packages=") {
			continue
		}
		name := strings.TrimPrefix(fields[0], "BenchmarkCompose/packages=")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			name = name[:i] // the GOMAXPROCS suffix
		}
		n, err := strconv.Atoi(name)
		if err != nil {
			return nil, fmt.Errorf("benchmark line %q: %w", line, err)
		}
		o := Overhead{Packages: n}
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				return nil, fmt.Errorf("benchmark line %q: %w", line, err)
			}
			switch fields[i+1] {
			case "ns/op":
				o.NsPerOp = v
			case "B/op":
				o.BytesPerOp = v
			case "allocs/op":
				o.AllocsPerOp = v
			case "llb-ops":
				o.LLBOps = v
			}
		}
		if o.NsPerOp == 0 {
			return nil, fmt.Errorf("benchmark line %q has no ns/op", line)
		}
		res = append(res, o)
	}
	return res, nil
}
