package solve

import (
	"bytes"
	"testing"

	"github.com/moby/buildkit/client"
	digest "github.com/opencontainers/go-digest"
)

func TestTailLines(t *testing.T) {
	if got := TailLines("a\nb\nc\n", 2); got != "b\nc" {
		t.Errorf("TailLines = %q", got)
	}
	if got := TailLines("a\n", 5); got != "a" {
		t.Errorf("TailLines short = %q", got)
	}
}

// The log names each vertex once, with its errors, warnings and output
// lines indented.
func TestCollectLog(t *testing.T) {
	ch := make(chan *client.SolveStatus, 3)
	d := digest.FromString("v")
	ch <- &client.SolveStatus{Vertexes: []*client.Vertex{{Digest: d, Name: "[1/2] RUN x"}}}
	ch <- &client.SolveStatus{
		Vertexes: []*client.Vertex{{Digest: d, Name: "[1/2] RUN x", Error: "exit code: 1"}},
		Logs:     []*client.VertexLog{{Vertex: d, Data: []byte("out 1\nout 2\n")}},
		Warnings: []*client.VertexWarning{{Vertex: d, Short: []byte("careful")}},
	}
	close(ch)
	var buf bytes.Buffer
	var seen []*client.SolveStatus
	collectLog(&buf, ch, func(s *client.SolveStatus) { seen = append(seen, s) })
	want := "#[1/2] RUN x\n#[1/2] RUN x ERROR: exit code: 1\nWARNING: careful\n  out 1\n  out 2\n"
	if buf.String() != want {
		t.Errorf("log:\n%q\nwant\n%q", buf.String(), want)
	}
	// OnStatus sees every update, in order.
	if len(seen) != 2 || seen[1].Vertexes[0].Error != "exit code: 1" {
		t.Errorf("OnStatus saw %d updates: %+v", len(seen), seen)
	}
}
