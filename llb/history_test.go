package llb

import (
	"slices"
	"testing"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/check"
	"edp.buildth.ing/devfw-cicd/stagex/spec"
	"github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// The composition check names each layer's package from the history lines
// the image config carries: a package's, an archive's and the generated
// layer's line must each give its name back, in layer order.
func TestHistoryNamesThePackage(t *testing.T) {
	parts := []Part{
		{Package: spec.Package{Name: "core-filesystem", Ref: "r/stagex/core-filesystem@sha256:aa"}, Mode: ModeBase,
			DiffIDs: []digest.Digest{digest.FromString("a")}},
		{Package: spec.Package{Name: "core-musl", Version: "1.2.5", Ref: "r/stagex/core-musl@sha256:bb"}, Mode: ModeDiff,
			DiffIDs: []digest.Digest{digest.FromString("b")}},
		{Package: spec.Package{Name: "pallet-tools", Ref: "r/x/pallet-tools:1"}, Mode: ModeWhole,
			DiffIDs: []digest.Digest{digest.FromString("c"), digest.FromString("d")}},
	}
	archives := []spec.ResolvedArchive{{Archive: spec.Archive{Name: "temurin-jre", Version: "21", URL: "https://example.test/jre.tar.gz", SHA256: "00", Dst: "/opt/java"}}}
	in := &Input{Spec: &spec.Spec{Name: "x"}, Platform: ocispecs.Platform{OS: "linux", Architecture: "amd64"}, Epoch: time.Unix(0, 0)}
	img := imageConfig(in, parts, archives, true)
	var got []string
	for _, h := range img.History {
		got = append(got, check.HistoryPackage(h.CreatedBy))
	}
	want := []string{"core-filesystem", "core-musl", "pallet-tools", "pallet-tools", "temurin-jre", check.Generated}
	if !slices.Equal(got, want) {
		t.Errorf("history names %v, want %v", got, want)
	}
}
