package signing

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/sigstore/sigstore/pkg/signature/dsse"
)

// buildkitIndex pushes an index laid out as BuildKit writes it with
// --attest type=provenance: a linux/amd64 image and its attestation
// manifest, whose in-toto layer is a SLSA provenance statement about
// statementSubject (the image, unless a test says otherwise).
func buildkitIndex(t *testing.T, host, repo string, statementSubject func(img v1.Hash) v1.Hash) (name.Digest, v1.Hash) {
	t.Helper()
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	imgDigest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	sub := statementSubject(imgDigest)
	st := `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"pkg:docker/x","digest":{"sha256":"` + sub.Hex + `"}}],` +
		`"predicateType":"https://slsa.dev/provenance/v1","predicate":{"buildDefinition":{"buildType":"https://mobyproject.org/buildkit@v1"},"runDetails":{"builder":{"id":"test"}}}}`
	att := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	att, err = mutate.Append(att, mutate.Addendum{
		Layer:       static.NewLayer([]byte(st), inTotoLayerMediaType),
		Annotations: map[string]string{predicateAnnotation: ProvenanceType},
	})
	if err != nil {
		t.Fatal(err)
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: att, Descriptor: v1.Descriptor{
			Platform:    &v1.Platform{OS: "unknown", Architecture: "unknown"},
			Annotations: map[string]string{refTypeAnnotation: refTypeAttestation, refDigestAnnotation: imgDigest.String()},
		}})
	tag, err := name.NewTag(host + "/" + repo + ":v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(tag, idx); err != nil {
		t.Fatal(err)
	}
	h, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return tag.Context().Digest(h.String()), imgDigest
}

// TestAttestProvenance: the provenance BuildKit attached is found, signed
// in both formats about the index digest, and verifies under the key.
func TestAttestProvenance(t *testing.T) {
	ctx := context.Background()
	host := memRegistry(t)
	k1, p1 := keyPair(t, "k1.pub")
	_, p2 := keyPair(t, "k2.pub")
	d, imgDigest := buildkitIndex(t, host, "app", func(h v1.Hash) v1.Hash { return h })

	provs, err := Provenance(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if len(provs) != 1 || provs[0].Image != imgDigest || provs[0].Platform != "linux/amd64" ||
		provs[0].Predicate.GetFields()["runDetails"].GetStructValue().GetFields()["builder"].GetStructValue().GetFields()["id"].GetStringValue() != "test" {
		t.Fatalf("provenance: %+v", provs)
	}
	st, err := AttestStatement(d, provs[0])
	if err != nil {
		t.Fatal(err)
	}

	// Bundle: a referrer of the index, verified as sigstore-go does.
	res, err := Attest(ctx, d, k1, FormatBundle, ProvenanceType, st)
	if err != nil || res.AlreadySigned {
		t.Fatalf("attest (bundle): %+v, %v", res, err)
	}
	if res, err := Attest(ctx, d, k1, FormatBundle, ProvenanceType, st); err != nil || !res.AlreadySigned {
		t.Fatalf("attest (bundle) again: %+v, %v", res, err)
	}
	bundles, err := fetchBundles(d, ProvenanceType, limits.Blob, nil)
	if err != nil || len(bundles) != 1 {
		t.Fatalf("bundles: %d, %v", len(bundles), err)
	}
	p := Policy{Threshold: 1, Keys: []*PublicKey{p2, p1}}
	i, vr, err := p.bundleSigner(bundles[0].bundle, d, ProvenanceType, p.Signers())
	if err != nil || i != 1 {
		t.Fatalf("attestation bundle: signer %d, %v", i, err)
	}
	if got := vr.Statement.GetSubject(); len(got) != 2 || got[1].GetDigest()["sha256"] != imgDigest.Hex {
		t.Errorf("statement subjects: %v", got)
	}
	// Not an image signature: Verify does not count it.
	if _, err := Verify(ctx, d.String(), p); err == nil {
		t.Error("a provenance attestation passed for an image signature")
	}

	// Legacy: a DSSE layer of the .att tag, as cosign attest writes.
	if _, err := Attest(ctx, d, k1, FormatLegacy, ProvenanceType, st); err != nil {
		t.Fatal(err)
	}
	if res, err := Attest(ctx, d, k1, FormatLegacy, ProvenanceType, st); err != nil || !res.AlreadySigned {
		t.Fatalf("attest (legacy) again: %+v, %v", res, err)
	}
	tag, err := AttestationTag(d)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(tag)
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Layers) != 1 || m.Layers[0].MediaType != DSSEMediaType || m.Layers[0].Annotations["predicateType"] != ProvenanceType {
		t.Fatalf(".att manifest: %+v", m.Layers)
	}
	env, err := readLayer(img, m.Layers[0], "attestation")
	if err != nil {
		t.Fatal(err)
	}
	if err := dsse.WrapVerifier(p1.verifier).VerifySignature(bytes.NewReader(env), nil); err != nil {
		t.Errorf("legacy attestation does not verify under k1: %v", err)
	}
	var e struct {
		PayloadType string `json:"payloadType"`
		Payload     []byte `json:"payload"`
	}
	if err := json.Unmarshal(env, &e); err != nil || e.PayloadType != InTotoPayloadType || !bytes.Equal(e.Payload, st) {
		t.Errorf("envelope: %s, %v", env, err)
	}
}

// TestProvenanceRefusals: a single manifest has no provenance; provenance
// about another image is refused.
func TestProvenanceRefusals(t *testing.T) {
	ctx := context.Background()
	host := memRegistry(t)
	single := pushRandom(t, host, "single")
	if _, err := Provenance(ctx, single); err == nil || !strings.Contains(err.Error(), "single image manifest") {
		t.Errorf("single manifest: %v", err)
	}
	other := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}
	d, _ := buildkitIndex(t, host, "other", func(v1.Hash) v1.Hash { return other })
	if _, err := Provenance(ctx, d); err == nil || !strings.Contains(err.Error(), "is not about the image") {
		t.Errorf("provenance about another image: %v", err)
	}
}
