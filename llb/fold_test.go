package llb

import (
	"context"
	"slices"
	"testing"

	bkllb "github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
)

// readOpsFS is a base whose answers come from one LLB op, as the
// frontend's facts exec.
type readOpsFS struct {
	mapFS
	op bkllb.State
}

func (r readOpsFS) ReadOps() []bkllb.State { return []bkllb.State{r.op} }

// A layer written from what a ReadOps base answered takes the read op as an
// input, through a copy that matches nothing, after everything it writes;
// the layer's other actions and every other op stay as they were.
func TestReadOpsAreFoldedIntoTheWrittenLayers(t *testing.T) {
	readOp := bkllb.Scratch().File(bkllb.Mkfile("/facts.json", 0o644, []byte("{}")), bkllb.WithCustomName("read"))
	for _, tc := range []struct{ name, spec, layer string }{
		{"generated layer", fullSpec, "[stagex] generated layer"},
		{"archive layer", archiveSpecYAML(1), "[stagex] archive layer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plain := composeFrom(t, tc.spec, "", Meta{Version: "1.0.0"})
			in := *plain.input
			in.BaseFS = readOpsFS{filesystem, readOp}
			res, err := Compose(context.Background(), &in)
			if err != nil {
				t.Fatal(err)
			}
			def, err := res.State.Marshal(context.Background(), bkllb.Platform(amd64))
			if err != nil {
				t.Fatal(err)
			}
			readDef, err := readOp.Marshal(context.Background(), bkllb.Platform(amd64))
			if err != nil {
				t.Fatal(err)
			}
			readDigest := digest.FromBytes(readDef.Def[len(readDef.Def)-2])

			plainLayer, _ := layerOp(t, plain.def, tc.layer)
			folded, dgsts := layerOp(t, def, tc.layer)
			if folded == nil || plainLayer == nil {
				t.Fatalf("no op named %q", tc.layer)
			}
			acts, plainActs := folded.GetFile().GetActions(), plainLayer.GetFile().GetActions()
			if len(acts) != len(plainActs)+1 {
				t.Fatalf("the layer has %d actions, want the %d it had and one more", len(acts), len(plainActs))
			}
			for i, a := range plainActs {
				// The layer is now the fold's output, not its last write's.
				a, got := a.CloneVT(), acts[i].CloneVT()
				a.Output, got.Output = -1, -1
				if !a.EqualVT(got) {
					t.Errorf("action %d changed: %v, was %v", i, acts[i], a)
				}
			}
			last := acts[len(acts)-1]
			cp := last.GetCopy()
			if cp == nil || last.Output != 0 || cp.Src != foldPattern || cp.Dest != "/" || !cp.AllowWildcard || !cp.AllowEmptyWildcard || cp.CreateDestPath {
				t.Fatalf("the last action is %v, want a copy of %s to / that may match nothing", last, foldPattern)
			}
			if last.SecondaryInput < 0 || int(last.SecondaryInput) >= len(folded.Inputs) {
				t.Fatalf("the fold copy names no input: %v", last)
			}
			if got := folded.Inputs[last.SecondaryInput].Digest; got != string(readDigest) || !slices.Contains(dgsts, readDigest) {
				t.Errorf("the fold copies from %s, want the read op %s", got, readDigest)
			}
			// Everything else in the graph is the plain one's.
			if n, m := len(def.Def), len(plain.def.Def); n != m+1 {
				t.Errorf("the graph has %d ops, want the %d it had and the read op", n, m)
			}
		})
	}
	// Without ReadOps nothing is folded (the goldens show the plain graph).
	if _, ok := any(filesystem).(ReadOps); ok {
		t.Fatal("mapFS must not be a ReadOps")
	}
}

// layerOp returns the op of def whose description names layer (a prefix),
// and the digests of all ops.
func layerOp(t *testing.T, def *bkllb.Definition, layer string) (*pb.Op, []digest.Digest) {
	t.Helper()
	var found *pb.Op
	var dgsts []digest.Digest
	for _, dt := range def.Def {
		var op pb.Op
		if err := op.UnmarshalVT(dt); err != nil {
			t.Fatal(err)
		}
		d := digest.FromBytes(dt)
		dgsts = append(dgsts, d)
		if name := def.Metadata[d].Description["llb.customname"]; len(name) >= len(layer) && name[:len(layer)] == layer {
			found = &op
		}
	}
	return found, dgsts
}
