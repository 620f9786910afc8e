package frontend

import (
	"context"
	"fmt"

	bkllb "github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/util/apicaps"
)

// MinBuildKit is the oldest BuildKit whose daemon has every LLB operation
// a composition uses: MergeOp and DiffOp came in v0.10.
const MinBuildKit = "v0.10"

// requiredCaps are the LLB capabilities every composition needs: the
// packages are merged (MergeOp) and each package adds its layers above the
// base (DiffOp).
var requiredCaps = []apicaps.CapID{pb.CapMergeOp, pb.CapDiffOp}

// checkCaps refuses a daemon that cannot run a composition, before anything
// is solved, instead of failing at solve time with an unclear message.
func checkCaps(caps apicaps.CapSet) error {
	for _, id := range requiredCaps {
		if err := caps.Supports(id); err != nil {
			return fmt.Errorf("this BuildKit daemon does not support LLB %s (%v): the stagex frontend merges package images with MergeOp and DiffOp, which need BuildKit %s or later; upgrade the daemon",
				id, err, MinBuildKit)
		}
	}
	return nil
}

// marshal turns a state into a definition for this daemon: with its LLB
// capabilities, so that the marshaller uses only what the daemon supports.
func marshal(ctx context.Context, c client.Client, st bkllb.State, opts ...bkllb.ConstraintsOpt) (*bkllb.Definition, error) {
	return st.Marshal(ctx, append([]bkllb.ConstraintsOpt{bkllb.WithCaps(c.BuildOpts().LLBCaps)}, opts...)...)
}
