package signing

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	intoto "github.com/in-toto/attestation/go/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
)

// The Sigstore bundle format, as cosign v3 writes it by default: a bundle
// (DSSE envelope over an in-toto statement whose subject is the image
// digest) stored as the one layer of an OCI artifact that refers to the
// image through its subject field, found with the OCI referrers API (or
// the referrers tag schema on registries without it).
const (
	// BundleMediaType is the artifact type of a bundle referrer and the
	// media type of its layer.
	BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"
	// BundlePredicateTypeAnnotation names the statement's predicate type on
	// the referrer manifest (and in the referrers index).
	BundlePredicateTypeAnnotation = "dev.sigstore.bundle.predicateType"
	// BundleContentAnnotation says what the bundle holds.
	BundleContentAnnotation = "dev.sigstore.bundle.content"
	// SignPredicateType is the predicate of an image signature: the
	// statement only names the digest.
	SignPredicateType = "https://sigstore.dev/cosign/sign/v1"
	// InTotoPayloadType is the DSSE payload type of an in-toto statement.
	InTotoPayloadType = "application/vnd.in-toto+json"

	emptyConfigMediaType types.MediaType = "application/vnd.oci.empty.v1+json"
)

// maxBundles bounds the referrers read for one digest: more is refused
// with an error (fail closed), never read in part.
const maxBundles = 100

// Format is how a signature is stored.
type Format string

const (
	// FormatBundle is a Sigstore bundle attached as a referrer (cosign v3's
	// default).
	FormatBundle Format = "bundle"
	// FormatLegacy is the simple-signing layer in the <digest>.sig tag
	// (cosign before v3, or v3 with --new-bundle-format=false).
	FormatLegacy Format = "legacy"
)

// ParseFormat reads a --format value.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case FormatBundle, FormatLegacy:
		return f, nil
	}
	return "", fmt.Errorf("format %q: want %q (a Sigstore bundle, what cosign v3 writes) or %q (the .sig tag)", s, FormatBundle, FormatLegacy)
}

// keypair adapts a PrivateKey to sigstore-go's signer: SHA-256 over the
// data, as for the legacy format.
type keypair struct{ k *PrivateKey }

func (p keypair) GetHashAlgorithm() protocommon.HashAlgorithm {
	return protocommon.HashAlgorithm_SHA2_256
}

func (p keypair) GetSigningAlgorithm() protocommon.PublicKeyDetails {
	switch k := p.k.pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve.Params().Name {
		case "P-384":
			return protocommon.PublicKeyDetails_PKIX_ECDSA_P384_SHA_256
		case "P-521":
			return protocommon.PublicKeyDetails_PKIX_ECDSA_P521_SHA_256
		}
		return protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256
	case *rsa.PublicKey:
		switch {
		case k.N.BitLen() >= 4096:
			return protocommon.PublicKeyDetails_PKIX_RSA_PKCS1V15_4096_SHA256
		case k.N.BitLen() >= 3072:
			return protocommon.PublicKeyDetails_PKIX_RSA_PKCS1V15_3072_SHA256
		}
		return protocommon.PublicKeyDetails_PKIX_RSA_PKCS1V15_2048_SHA256
	}
	return protocommon.PublicKeyDetails_PUBLIC_KEY_DETAILS_UNSPECIFIED
}

// GetHint is the key's hint as sigstore-go writes it: base64 of the SHA-256
// of the PKIX public key.
func (p keypair) GetHint() []byte {
	der, err := x509.MarshalPKIXPublicKey(p.k.pub)
	if err != nil {
		return nil
	}
	sum := sha256.Sum256(der)
	return []byte(base64.StdEncoding.EncodeToString(sum[:]))
}

func (p keypair) GetKeyAlgorithm() string {
	if _, ok := p.k.pub.(*rsa.PublicKey); ok {
		return "RSA"
	}
	return "ECDSA"
}

func (p keypair) GetPublicKey() crypto.PublicKey { return p.k.pub }

func (p keypair) GetPublicKeyPem() (string, error) {
	b, err := cryptoutils.MarshalPublicKeyToPEM(p.k.pub)
	return string(b), err
}

func (p keypair) SignData(_ context.Context, data []byte) ([]byte, []byte, error) {
	sig, err := p.k.signer.SignMessage(bytes.NewReader(data))
	if err != nil {
		return nil, nil, err
	}
	sum := sha256.Sum256(data)
	return sig, sum[:], nil
}

// Statement is the in-toto statement over digest d with the given
// predicate, as cosign writes it.
func Statement(d name.Digest, predicateType string, predicate *structpb.Struct) ([]byte, error) {
	alg, hex, ok := strings.Cut(d.DigestStr(), ":")
	if !ok {
		return nil, fmt.Errorf("digest %q has no algorithm", d.DigestStr())
	}
	if predicate == nil {
		predicate = &structpb.Struct{}
	}
	return protojson.Marshal(&intoto.Statement{
		Type:          intoto.StatementTypeUri,
		Subject:       []*intoto.ResourceDescriptor{{Name: d.Context().Name(), Digest: map[string]string{alg: hex}}},
		PredicateType: predicateType,
		Predicate:     predicate,
	})
}

// signStatement wraps a statement in a DSSE envelope signed by key and
// returns the Sigstore bundle as JSON. The bundle carries no transparency
// log entry: trust comes from the key.
func signStatement(ctx context.Context, statement []byte, key *PrivateKey) ([]byte, error) {
	pb, err := sign.Bundle(&sign.DSSEData{Data: statement, PayloadType: InTotoPayloadType}, keypair{key},
		sign.BundleOptions{Context: ctx})
	if err != nil {
		return nil, fmt.Errorf("making the Sigstore bundle: %w", err)
	}
	return protojson.Marshal(pb)
}

// writeBundle stores a bundle as a referrer of d (subject: d's descriptor)
// and returns the referrer's digest. go-containerregistry keeps the
// referrers tag schema up to date on registries without the referrers API.
func writeBundle(d name.Digest, subject v1.Descriptor, bundleJSON []byte, predicateType string, opts []remote.Option) (v1.Hash, error) {
	layer := static.NewLayer(bundleJSON, types.MediaType(BundleMediaType))
	config := static.NewLayer([]byte("{}"), emptyConfigMediaType)
	for _, l := range []v1.Layer{config, layer} {
		if err := remote.WriteLayer(d.Context(), l, opts...); err != nil {
			return v1.Hash{}, registryError("uploading the bundle for", d, err)
		}
	}
	desc := func(l v1.Layer) v1.Descriptor {
		h, _ := l.Digest()
		n, _ := l.Size()
		mt, _ := l.MediaType()
		return v1.Descriptor{MediaType: mt, Digest: h, Size: n}
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  BundleMediaType,
		Config:        desc(config),
		Layers:        []v1.Descriptor{desc(layer)},
		Subject:       &v1.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size},
		Annotations: map[string]string{
			BundleContentAnnotation:       "dsse-envelope",
			BundlePredicateTypeAnnotation: predicateType,
		},
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return v1.Hash{}, err
	}
	h, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return v1.Hash{}, err
	}
	ref := d.Context().Digest(h.String())
	if err := remote.Put(ref, rawManifest{raw: raw, mediaType: types.OCIManifestSchema1}, opts...); err != nil {
		return v1.Hash{}, registryError("writing the bundle", ref, err)
	}
	return h, nil
}

// rawManifest is a manifest given as bytes, for remote.Put.
type rawManifest struct {
	raw       []byte
	mediaType types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.raw, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mediaType, nil }

// storedBundle is one bundle referrer of a digest.
type storedBundle struct {
	manifest v1.Hash
	bundle   *sgbundle.Bundle
	err      error // unreadable; bundle unset
}

// fetchBundles reads the bundle referrers of d whose predicate annotation
// is predicateType (or absent: the statement inside is checked anyway).
// A referrer that cannot be read is returned with err set, to be reported.
// More than maxBundles is an error.
func fetchBundles(d name.Digest, predicateType string, maxSize int64, opts []remote.Option) ([]storedBundle, error) {
	idx, err := remote.Referrers(d, append(opts, remote.WithFilter("artifactType", BundleMediaType))...)
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, registryError("listing the referrers of", d, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading the referrers of %s: %w", d, err)
	}
	var descs []v1.Descriptor
	for _, desc := range im.Manifests {
		if desc.ArtifactType != BundleMediaType {
			continue
		}
		if pt, ok := desc.Annotations[BundlePredicateTypeAnnotation]; ok && pt != predicateType {
			continue
		}
		descs = append(descs, desc)
	}
	if len(descs) > maxBundles {
		return nil, fmt.Errorf("%s has %d Sigstore bundles of type %s: more than the %d read; refused", d, len(descs), predicateType, maxBundles)
	}
	out := make([]storedBundle, 0, len(descs))
	for _, desc := range descs {
		b, err := readBundle(d.Context().Digest(desc.Digest.String()), maxSize, opts)
		if err != nil && !isNotFound(err) {
			if _, ok := err.(*bundleError); !ok {
				return nil, err // the registry failed: fail closed
			}
		}
		out = append(out, storedBundle{manifest: desc.Digest, bundle: b, err: err})
	}
	return out, nil
}

// bundleError is a referrer that is not a readable bundle (as opposed to
// a registry failure).
type bundleError struct{ msg string }

func (e *bundleError) Error() string { return e.msg }

func readBundle(ref name.Digest, maxSize int64, opts []remote.Option) (*sgbundle.Bundle, error) {
	img, err := remote.Image(ref, opts...)
	if err != nil {
		return nil, registryError("reading the bundle", ref, err)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, registryError("reading the bundle", ref, err)
	}
	if len(m.Layers) != 1 || m.Layers[0].MediaType != types.MediaType(BundleMediaType) {
		return nil, &bundleError{fmt.Sprintf("referrer %s: want one %s layer", ref.DigestStr(), BundleMediaType)}
	}
	desc := m.Layers[0]
	if desc.Size <= 0 || desc.Size > maxSize {
		return nil, &bundleError{fmt.Sprintf("referrer %s: bundle size %d is outside 1..%d bytes: refused", ref.DigestStr(), desc.Size, maxSize)}
	}
	l, err := img.LayerByDigest(desc.Digest)
	if err != nil {
		return nil, registryError("reading the bundle", ref, err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, registryError("reading the bundle", ref, err)
	}
	defer rc.Close()
	raw, err := readAtMost(rc, maxSize, "bundle "+desc.Digest.String())
	if err != nil {
		return nil, err
	}
	var b sgbundle.Bundle
	if err := b.UnmarshalJSON(raw); err != nil {
		return nil, &bundleError{fmt.Sprintf("referrer %s: not a Sigstore bundle: %v", ref.DigestStr(), err)}
	}
	return &b, nil
}
