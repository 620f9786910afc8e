package frontend

import (
	"strings"
	"testing"

	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/util/apicaps"
	apicapspb "github.com/moby/buildkit/util/apicaps/pb"
)

// daemonCaps is the LLB capability set a daemon would announce: every cap
// this BuildKit knows, less the removed ones.
func daemonCaps(removed ...apicaps.CapID) apicaps.CapSet {
	var caps []*apicapspb.APICap
	for _, c := range pb.Caps.All() {
		keep := true
		for _, r := range removed {
			keep = keep && apicaps.CapID(c.ID) != r
		}
		if keep {
			caps = append(caps, c)
		}
	}
	return pb.Caps.CapSet(caps)
}

func TestCapsRefuseDaemonWithoutMergeOrDiff(t *testing.T) {
	if err := checkCaps(daemonCaps()); err != nil {
		t.Fatalf("a daemon with every cap is refused: %v", err)
	}
	for _, removed := range []apicaps.CapID{pb.CapMergeOp, pb.CapDiffOp} {
		err := checkCaps(daemonCaps(removed))
		if err == nil {
			t.Fatalf("a daemon without %s is accepted", removed)
		}
		for _, want := range []string{string(removed), "BuildKit " + MinBuildKit + " or later", "MergeOp and DiffOp"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("without %s: %q does not say %q", removed, err, want)
			}
		}
	}
}
