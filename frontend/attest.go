package frontend

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/llb"
	"edp.buildth.ing/devfw-cicd/stagex/sbom"
	"edp.buildth.ing/devfw-cicd/stagex/spec"
	bkllb "github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/gateway/client"
	gatewaypb "github.com/moby/buildkit/frontend/gateway/pb"
	"github.com/moby/buildkit/solver/result"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// sbomFormat is one SBOM document format: its in-toto predicate type and
// the file it is written to in its attestation's ref.
type sbomFormat struct {
	predicate string
	path      string
	write     func(sbom.Image) ([]byte, error)
}

var (
	// spdxFormat is always written. BuildKit skips its own scanner for a
	// result that already carries an attestation of this predicate type,
	// which is what keeps an SBOM build offline.
	spdxFormat = sbomFormat{predicate: "https://spdx.dev/Document", path: "/sbom.spdx.json", write: sbom.SPDX}
	// cyclonedxFormat is written in addition on request (ParamCycloneDX).
	cyclonedxFormat = sbomFormat{predicate: "https://cyclonedx.org/bom", path: "/sbom.cdx.json", write: sbom.CycloneDX}
)

// ParamCycloneDX is the SBOM attestation parameter that asks for a
// CycloneDX 1.6 document beside the SPDX one:
// `--attest type=sbom,cyclonedx=true`.
const ParamCycloneDX = "cyclonedx"

// sbomFormats returns the formats the SBOM request asks for.
func sbomFormats(params map[string]string) ([]sbomFormat, error) {
	formats := []sbomFormat{spdxFormat}
	if v, ok := params[ParamCycloneDX]; ok {
		want, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("attest sbom parameter %s=%q: want true or false", ParamCycloneDX, v)
		}
		if want {
			formats = append(formats, cyclonedxFormat)
		}
	}
	return formats, nil
}

// sbomImage describes one platform's composition for the SBOM.
func sbomImage(s *spec.Spec, o Options, p ocispecs.Platform, out *llb.Result) sbom.Image {
	return sbom.Image{Name: s.Name, Version: o.Version, Platform: p, Epoch: o.Epoch, Composition: out}
}

// sbomAttestation writes the document into a one-file state, solves it and
// returns it as an in-toto attestation about the image itself. No metadata
// marks it as a scanner's "core" SBOM: that would make the exporter rewrite
// the document, and its bytes would no longer be the frontend's.
func sbomAttestation(ctx context.Context, c client.Client, f sbomFormat, doc []byte, epoch time.Time) (*result.Attestation[client.Reference], error) {
	return fileAttestation(ctx, c, f.predicate, f.path, doc, epoch, "[stagex] write the SBOM", map[string][]byte{
		result.AttestationReasonKey: []byte(result.AttestationReasonSBOM),
	})
}

// fileAttestation writes doc to file in a one-file state, solves it and
// returns it as an in-toto attestation of predicate type predicate about the
// image itself. The states in keep become inputs of that file without adding
// to it (llb.Fold), so that a cache export, which walks the attestation's
// ref, includes them.
func fileAttestation(ctx context.Context, c client.Client, predicate, file string, doc []byte, epoch time.Time, name string, meta map[string][]byte, keep ...bkllb.State) (*result.Attestation[client.Reference], error) {
	st := bkllb.Scratch().File(
		llb.Fold(bkllb.Mkfile(file, 0o644, doc, bkllb.WithCreatedTime(epoch)), keep...),
		bkllb.WithCustomName(name),
	)
	ref, err := solveRef(ctx, c, st)
	if err != nil {
		return nil, err
	}
	return &result.Attestation[client.Reference]{
		Kind:     gatewaypb.AttestationKind_InToto,
		Metadata: meta,
		Ref:      ref,
		Path:     file,
		InToto: result.InTotoAttestation{
			PredicateType: predicate,
			Subjects:      []result.InTotoSubject{{Kind: gatewaypb.InTotoSubjectKind_Self}},
		},
	}, nil
}
