package signing

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/sigstore/sigstore/pkg/signature/dsse"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
)

// ProvenanceType is the predicate type of SLSA provenance v1, what BuildKit
// writes with --attest type=provenance.
const ProvenanceType = "https://slsa.dev/provenance/v1"

// BuildKit's attestation layout in an image index: one attestation
// manifest per platform image, whose layers are in-toto statements.
const (
	refTypeAnnotation    = "vnd.docker.reference.type"
	refDigestAnnotation  = "vnd.docker.reference.digest"
	refTypeAttestation   = "attestation-manifest"
	predicateAnnotation  = "in-toto.io/predicate-type"
	inTotoLayerMediaType = "application/vnd.in-toto+json"
)

// The legacy (cosign before v3) attestation format: DSSE envelopes as
// layers of the image <repo>:sha256-<hex>.att.
const (
	AttestationTagSuffix                      = ".att"
	DSSEMediaType             types.MediaType = "application/vnd.dsse.envelope.v1+json"
	legacyPredicateAnnotation                 = "predicateType"
)

// AttestationTag is <repo>:sha256-<hex>.att.
func AttestationTag(d name.Digest) (name.Tag, error) {
	h, err := v1.NewHash(d.DigestStr())
	if err != nil {
		return name.Tag{}, err
	}
	return d.Context().Tag(h.Algorithm + "-" + h.Hex + AttestationTagSuffix), nil
}

// AttachedStatement is an in-toto statement BuildKit attached to one
// platform image of an index (its provenance, its SBOM).
type AttachedStatement struct {
	// Image is the platform image's manifest digest: the statement's subject.
	Image v1.Hash
	// Platform is the image's platform, for messages.
	Platform  string
	Predicate *structpb.Struct
}

// BuildProvenance is the SLSA provenance BuildKit attached to one platform
// image of an index.
type BuildProvenance = AttachedStatement

// Provenance reads the SLSA provenance BuildKit attached to the index d:
// for each platform image, the in-toto layer of predicate ProvenanceType in
// its attestation manifest, whose subject must be that image. It fails when
// d is not an index or a platform image has no provenance.
func Provenance(ctx context.Context, d name.Digest, opts ...remote.Option) ([]BuildProvenance, error) {
	out, missing, err := Attached(ctx, d, ProvenanceType, opts...)
	if err != nil {
		return nil, err
	}
	if len(missing) > 0 || len(out) == 0 {
		return nil, fmt.Errorf("%s: no BuildKit provenance for the platform images %s: build with --attest type=provenance", d, strings.Join(missing, ", "))
	}
	return out, nil
}

// Attached reads the statements of predicateType BuildKit attached to the
// index d, one per platform image that has one (each checked to be about
// that image), and the platforms of the images that have none. It fails
// when d is not an index.
func Attached(ctx context.Context, d name.Digest, predicateType string, opts ...remote.Option) (found []AttachedStatement, missing []string, err error) {
	opts = withLimits(ctx, opts)
	desc, err := remote.Get(d, opts...)
	if err != nil {
		return nil, nil, registryError("reading", d, err)
	}
	if !desc.MediaType.IsIndex() {
		return nil, nil, fmt.Errorf("%s is a single image manifest (%s): BuildKit attaches attestations only in an image index; "+
			"build with --attest (buildx: --provenance=mode=max, --sbom=true) and pass the index digest", d, desc.MediaType)
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, nil, err
	}
	images := map[string]string{} // manifest digest → platform
	var atts []v1.Descriptor
	for _, m := range im.Manifests {
		if m.Annotations[refTypeAnnotation] == refTypeAttestation {
			atts = append(atts, m)
		} else if m.Platform != nil {
			images[m.Digest.String()] = m.Platform.String()
		}
	}
	for _, a := range atts {
		subject := a.Annotations[refDigestAnnotation]
		platform, ok := images[subject]
		if !ok {
			return nil, nil, fmt.Errorf("%s: attestation manifest %s is for %q, which is no image of the index", d, a.Digest, subject)
		}
		p, err := statementOf(d.Context().Digest(a.Digest.String()), subject, predicateType, opts)
		if err != nil {
			return nil, nil, fmt.Errorf("%s (%s): %w", d, platform, err)
		}
		if p == nil {
			continue
		}
		delete(images, subject)
		h, err := v1.NewHash(subject)
		if err != nil {
			return nil, nil, err
		}
		found = append(found, AttachedStatement{Image: h, Platform: platform, Predicate: p})
	}
	for _, p := range images {
		missing = append(missing, p)
	}
	sort.Strings(missing)
	return found, missing, nil
}

// statementOf reads the layer of predicateType of one attestation manifest
// and checks that its statement is about subject; nil when it has none.
func statementOf(att name.Digest, subject, predicateType string, opts []remote.Option) (*structpb.Struct, error) {
	img, err := remote.Image(att, opts...)
	if err != nil {
		return nil, registryError("reading the attestation manifest", att, err)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, registryError("reading the attestation manifest", att, err)
	}
	for _, l := range m.Layers {
		if l.Annotations[predicateAnnotation] != predicateType {
			continue
		}
		if l.MediaType != inTotoLayerMediaType {
			return nil, fmt.Errorf("%s layer %s has media type %q, not %s", predicateType, l.Digest, l.MediaType, inTotoLayerMediaType)
		}
		layer, err := img.LayerByDigest(l.Digest)
		if err != nil {
			return nil, err
		}
		rc, err := layer.Compressed()
		if err != nil {
			return nil, registryError("reading the attestation of", att, err)
		}
		raw, err := readAtMost(rc, limits.Blob, predicateType+" "+l.Digest.String())
		rc.Close()
		if err != nil {
			return nil, err
		}
		var st intoto.Statement
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(raw, &st); err != nil {
			return nil, fmt.Errorf("attestation layer %s is not an in-toto statement: %w", l.Digest, err)
		}
		if st.GetPredicateType() != predicateType {
			return nil, fmt.Errorf("attestation layer %s: predicate %q, annotated %q", l.Digest, st.GetPredicateType(), predicateType)
		}
		alg, hex, _ := strings.Cut(subject, ":")
		about := false
		for _, s := range st.GetSubject() {
			if s.GetDigest()[alg] == hex {
				about = true
			}
		}
		if !about {
			return nil, fmt.Errorf("attestation layer %s is not about the image %s", l.Digest, subject)
		}
		return st.GetPredicate(), nil
	}
	return nil, nil
}

// AttestStatement is the statement `stagex attest` signs: BuildKit's
// predicate, about the digest the user gave (what admission checks) and
// the platform image the provenance describes.
func AttestStatement(d name.Digest, p BuildProvenance) ([]byte, error) {
	alg, hex, _ := strings.Cut(d.DigestStr(), ":")
	subjects := []*intoto.ResourceDescriptor{{Name: d.Context().Name(), Digest: map[string]string{alg: hex}}}
	if p.Image.String() != d.DigestStr() {
		subjects = append(subjects, &intoto.ResourceDescriptor{Name: d.Context().Name(), Digest: map[string]string{p.Image.Algorithm: p.Image.Hex}})
	}
	return protojson.Marshal(&intoto.Statement{
		Type:          intoto.StatementTypeUri,
		Subject:       subjects,
		PredicateType: ProvenanceType,
		Predicate:     p.Predicate,
	})
}

// Attest signs statement (an in-toto statement about d of predicateType)
// with key as a DSSE envelope and attaches it to d in format f: a bundle
// referrer, or a layer of the .att tag.
func Attest(ctx context.Context, d name.Digest, key *PrivateKey, f Format, predicateType string, statement []byte, opts ...remote.Option) (*SignResult, error) {
	opts = withLimits(ctx, opts)
	desc, err := remote.Head(d, opts...)
	if err != nil {
		return nil, registryError("looking up", d, err)
	}
	switch f {
	case FormatBundle:
		return attachBundle(ctx, d, *desc, key, predicateType, statement, limits.Blob, opts)
	case FormatLegacy:
		return attestLegacy(ctx, d, key, predicateType, statement, opts)
	}
	return nil, fmt.Errorf("unknown signature format %q", f)
}

// attestLegacy adds a DSSE envelope layer to d's .att tag, as `cosign
// attest --new-bundle-format=false` does.
func attestLegacy(ctx context.Context, d name.Digest, key *PrivateKey, predicateType string, statement []byte, opts []remote.Option) (*SignResult, error) {
	tag, err := AttestationTag(d)
	if err != nil {
		return nil, err
	}
	env, err := dsse.WrapSigner(key.signer, InTotoPayloadType).SignMessage(bytes.NewReader(statement))
	if err != nil {
		return nil, fmt.Errorf("signing the attestation: %w", err)
	}
	layer := static.NewLayer(env, DSSEMediaType)
	ld, err := layer.Digest()
	if err != nil {
		return nil, err
	}
	verifier := dsse.WrapVerifier(key.signer)
	return appendLegacy(legacyEntry{
		tag: tag,
		add: mutate.Addendum{Layer: layer, Annotations: map[string]string{
			SignatureAnnotation: "", legacyPredicateAnnotation: predicateType,
		}},
		has: func(img v1.Image) (bool, error) {
			m, err := img.Manifest()
			if err != nil {
				return false, err
			}
			for _, l := range m.Layers {
				if l.MediaType != DSSEMediaType || l.Annotations[legacyPredicateAnnotation] != predicateType || l.Size <= 0 || l.Size > limits.Blob {
					continue
				}
				b, err := readLayer(img, l, "attestation "+l.Digest.String())
				if err != nil {
					return false, err
				}
				if sameStatement(b, statement) && verifier.VerifySignature(bytes.NewReader(b), nil) == nil {
					return true, nil
				}
			}
			return false, nil
		},
		ours: func(l v1.Descriptor) bool { return l.Digest == ld },
	}, opts)
}

// sameStatement reports whether a DSSE envelope carries statement.
func sameStatement(envelope, statement []byte) bool {
	var e struct {
		Payload []byte `json:"payload"`
	}
	return json.Unmarshal(envelope, &e) == nil && bytes.Equal(e.Payload, statement)
}

// readLayer reads one blob of img whole, within the blob limit.
func readLayer(img v1.Image, desc v1.Descriptor, what string) ([]byte, error) {
	l, err := img.LayerByDigest(desc.Digest)
	if err != nil {
		return nil, err
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", what, err)
	}
	defer rc.Close()
	return readAtMost(rc, limits.Blob, what)
}
