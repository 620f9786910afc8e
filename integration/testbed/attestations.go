package testbed

import (
	"encoding/json"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Attestation is one in-toto statement of an image's attestation manifest.
type Attestation struct {
	PredicateType string
	Statement     []byte // the whole in-toto statement as stored
	Predicate     []byte // its "predicate" field
	LayerDigest   string // the blob that holds it
}

// Attestations reads the attestation manifest that BuildKit attaches to the
// linux/amd64 image of the index at ref, and returns its statements. It
// checks that the attestation manifest's subject reference names the image
// manifest it sits beside.
func Attestations(ref string) (imageDigest string, _ []Attestation, _ error) {
	idx, err := Index(ref)
	if err != nil {
		return "", nil, err
	}
	var image, att *v1.Descriptor
	for i, m := range idx.Manifests {
		switch {
		case m.Annotations["vnd.docker.reference.type"] == "attestation-manifest":
			att = &idx.Manifests[i]
		case m.Platform != nil && m.Platform.OS == DefaultPlatform.OS && m.Platform.Architecture == DefaultPlatform.Architecture:
			image = &idx.Manifests[i]
		}
	}
	if image == nil || att == nil {
		return "", nil, fmt.Errorf("%s: index has no linux/amd64 image with an attestation manifest (%d manifests)", ref, len(idx.Manifests))
	}
	if got := att.Annotations["vnd.docker.reference.digest"]; got != image.Digest.String() {
		return "", nil, fmt.Errorf("%s: attestation manifest is for %s, not the image %s", ref, got, image.Digest)
	}
	r, err := ParseRef(ref)
	if err != nil {
		return "", nil, err
	}
	img, err := Image(r.Context().Name() + "@" + att.Digest.String())
	if err != nil {
		return "", nil, err
	}
	m, err := img.Manifest()
	if err != nil {
		return "", nil, err
	}
	var out []Attestation
	for _, l := range m.Layers {
		layer, err := img.LayerByDigest(l.Digest)
		if err != nil {
			return "", nil, err
		}
		rc, err := layer.Compressed() // in-toto layers are stored uncompressed
		if err != nil {
			return "", nil, err
		}
		dt, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return "", nil, err
		}
		var st struct {
			PredicateType string          `json:"predicateType"`
			Predicate     json.RawMessage `json:"predicate"`
		}
		if err := json.Unmarshal(dt, &st); err != nil {
			return "", nil, fmt.Errorf("attestation layer %s: %w", l.Digest, err)
		}
		if st.PredicateType != l.Annotations["in-toto.io/predicate-type"] {
			return "", nil, fmt.Errorf("attestation layer %s: predicate %q, annotated %q", l.Digest, st.PredicateType, l.Annotations["in-toto.io/predicate-type"])
		}
		out = append(out, Attestation{PredicateType: st.PredicateType, Statement: dt, Predicate: st.Predicate, LayerDigest: l.Digest.String()})
	}
	return image.Digest.String(), out, nil
}
