package signing

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/sigstore/sigstore/pkg/signature/payload"
)

// The storage format of cosign's key-based signatures.
const (
	// SimpleSigningMediaType is the media type of a signature layer, whose
	// blob is the signed payload.
	SimpleSigningMediaType types.MediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
	// SignatureAnnotation holds the base64 signature on the layer.
	SignatureAnnotation = "dev.cosignproject.cosign/signature"
	// SignatureTagSuffix ends the tag that holds a digest's signatures.
	SignatureTagSuffix = ".sig"
	// certificateAnnotation holds the signing certificate of a keyless
	// legacy signature.
	certificateAnnotation = "dev.sigstore.cosign/certificate"
)

// maxPayloadSize bounds a payload read from the registry: a simple-signing
// payload is a few hundred bytes.
const maxPayloadSize = 1 << 20

// SignatureTag is <repo>:sha256-<hex>.sig, where cosign keeps the
// signatures of <repo>@sha256:<hex>.
func SignatureTag(d name.Digest) (name.Tag, error) {
	h, err := v1.NewHash(d.DigestStr())
	if err != nil {
		return name.Tag{}, err
	}
	return d.Context().Tag(h.Algorithm + "-" + h.Hex + SignatureTagSuffix), nil
}

// emptySignatures is the image cosign starts from: no layers, OCI media
// types.
func emptySignatures() v1.Image {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	return mutate.ConfigMediaType(img, types.OCIConfigJSON)
}

// isNotFound tells a missing manifest (no signatures yet) from a registry
// that cannot be reached or refuses us.
func isNotFound(err error) bool {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return false
	}
	if terr.StatusCode == http.StatusNotFound {
		return true
	}
	for _, d := range terr.Errors {
		if d.Code == transport.ManifestUnknownErrorCode || d.Code == transport.NameUnknownErrorCode {
			return true
		}
	}
	return false
}

// registryError says plainly when the registry could not be reached at
// all, as opposed to answering with an error.
func registryError(what string, ref name.Reference, err error) error {
	var nerr net.Error
	var operr *net.OpError
	if errors.As(err, &operr) || errors.As(err, &nerr) {
		return fmt.Errorf("cannot reach the registry %s (%s %s): %w", ref.Context().RegistryStr(), what, ref, err)
	}
	return fmt.Errorf("%s %s: %w", what, ref, err)
}

// fetchSignatures returns the signature image of d, or nil when there is
// none. Any other failure is an error: callers fail closed.
func fetchSignatures(d name.Digest, opts []remote.Option) (v1.Image, name.Tag, error) {
	tag, err := SignatureTag(d)
	if err != nil {
		return nil, tag, err
	}
	img, err := fetchTag(tag, opts)
	return img, tag, err
}

// fetchTag returns the image of a legacy signature or attestation tag, or
// nil when there is none.
func fetchTag(tag name.Tag, opts []remote.Option) (v1.Image, error) {
	img, err := remote.Image(tag, opts...)
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, registryError("reading", tag, err)
	}
	return img, nil
}

// storedSignature is one layer of a signature image.
type storedSignature struct {
	index     int
	payload   []byte
	signature []byte
	err       error // the layer is malformed; payload/signature unset
	// keyless is set when the layer carries a certificate: a keyless
	// signature in the legacy format.
	keyless bool
}

// readSignatures reads every layer of a signature image. A malformed layer
// is returned with err set, so that it is reported, not silently skipped.
func readSignatures(img v1.Image) ([]storedSignature, error) {
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading the signature manifest: %w", err)
	}
	out := make([]storedSignature, 0, len(m.Layers))
	for i, desc := range m.Layers {
		s := storedSignature{index: i + 1, keyless: desc.Annotations[certificateAnnotation] != ""}
		s.payload, s.signature, s.err = readSignatureLayer(img, desc)
		out = append(out, s)
	}
	return out, nil
}

func readSignatureLayer(img v1.Image, desc v1.Descriptor) ([]byte, []byte, error) {
	if desc.MediaType != SimpleSigningMediaType {
		return nil, nil, fmt.Errorf("layer media type %q is not %s", desc.MediaType, SimpleSigningMediaType)
	}
	b64, ok := desc.Annotations[SignatureAnnotation]
	if !ok {
		return nil, nil, fmt.Errorf("no %s annotation", SignatureAnnotation)
	}
	sig, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, nil, fmt.Errorf("signature annotation is not base64: %w", err)
	}
	if desc.Size <= 0 || desc.Size > maxPayloadSize {
		return nil, nil, fmt.Errorf("payload size %d is outside 1..%d bytes: refused", desc.Size, maxPayloadSize)
	}
	l, err := img.LayerByDigest(desc.Digest)
	if err != nil {
		return nil, nil, err
	}
	// The remote layer checks the blob against its digest while reading.
	rc, err := l.Compressed()
	if err != nil {
		return nil, nil, fmt.Errorf("fetching payload %s: %w", desc.Digest, err)
	}
	defer rc.Close()
	p, err := readAtMost(rc, maxPayloadSize, "payload "+desc.Digest.String())
	if err != nil {
		return nil, nil, err
	}
	return p, sig, nil
}

// readAtMost reads r to its end, or fails when it holds more than max
// bytes: a blob is never cut short and then taken for whole.
func readAtMost(r io.Reader, max int64, what string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes: refused", what, max)
	}
	return b, nil
}

// parsePayload decodes a simple-signing payload strictly enough to trust
// its digest: the cosign type and a sha256 digest are required.
func parsePayload(p []byte) (*payload.SimpleContainerImage, error) {
	var s payload.SimpleContainerImage
	dec := json.NewDecoder(bytes.NewReader(p))
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("payload is not simple-signing JSON: %w", err)
	}
	if s.Critical.Type != payload.CosignSignatureType {
		return nil, fmt.Errorf("payload type %q is not %q", s.Critical.Type, payload.CosignSignatureType)
	}
	if !strings.HasPrefix(s.Critical.Image.DockerManifestDigest, "sha256:") {
		return nil, fmt.Errorf("payload digest %q is not a sha256 digest", s.Critical.Image.DockerManifestDigest)
	}
	return &s, nil
}
