package signing

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/sigstore/sigstore/pkg/signature/payload"
)

// writeAttempts bounds the read-append-write-check rounds of Sign: two
// signers writing the same .sig tag at once can drop each other's layer,
// and the check after the write puts it back.
const writeAttempts = 5

// SignResult tells what Sign did.
type SignResult struct {
	Format Format
	// Where is where the signature is: the signature tag
	// <repo>:sha256-<hex>.sig (legacy), or the repository holding the
	// bundle referrer.
	Where string
	// Manifest is the digest of the signature image after the write
	// (legacy), or of the bundle referrer.
	Manifest v1.Hash
	// Signatures is how many signatures of this format the digest has now.
	Signatures int
	// AlreadySigned is true when this key had signed the digest already;
	// nothing was written.
	AlreadySigned bool
}

// Payload is the simple-signing payload cosign signs for d.
func Payload(d name.Digest) ([]byte, error) {
	return json.Marshal(payload.Cosign{Image: d})
}

// Sign signs the digest d with key in format f, keeping every signature
// already there: a legacy signature is added to d's signature tag, a bundle
// is attached as a referrer of d. It refuses a digest the registry does not
// hold, and writes nothing when key has signed d in that format already.
func Sign(ctx context.Context, d name.Digest, key *PrivateKey, f Format, opts ...remote.Option) (*SignResult, error) {
	opts = withLimits(ctx, opts)
	desc, err := remote.Head(d, opts...)
	if err != nil {
		return nil, registryError("looking up", d, err)
	}
	switch f {
	case FormatLegacy:
		return signLegacy(d, key, opts)
	case FormatBundle:
		statement, err := Statement(d, SignPredicateType, nil)
		if err != nil {
			return nil, err
		}
		return attachBundle(ctx, d, *desc, key, SignPredicateType, statement, maxPayloadSize, opts)
	}
	return nil, fmt.Errorf("unknown signature format %q", f)
}

// attachBundle signs statement (about d, of predicateType) with key and
// attaches the bundle as a referrer of d, unless a bundle of that type by
// key is there already. It reads the referrers back: a registry without
// the referrers API keeps them in one index tag, which a concurrent writer
// can overwrite.
func attachBundle(ctx context.Context, d name.Digest, subject v1.Descriptor, key *PrivateKey, predicateType string,
	statement []byte, maxSize int64, opts []remote.Option) (*SignResult, error) {
	pub := key.public()
	digest, err := sha256Bytes(d)
	if err != nil {
		return nil, err
	}
	find := func() (*SignResult, []storedBundle, error) {
		bundles, err := fetchBundles(d, predicateType, maxSize, opts)
		if err != nil {
			return nil, nil, err
		}
		for _, b := range bundles {
			if b.err != nil {
				continue
			}
			if _, err := verifyWithKey(b.bundle, pub, digest); err == nil {
				return &SignResult{Format: FormatBundle, Where: d.Context().String(), Manifest: b.manifest, Signatures: len(bundles)}, bundles, nil
			}
		}
		return nil, bundles, nil
	}
	if res, _, err := find(); err != nil || res != nil {
		if res != nil {
			res.AlreadySigned = true
		}
		return res, err
	}
	bundleJSON, err := signStatement(ctx, statement, key)
	if err != nil {
		return nil, err
	}
	for attempt := 1; attempt <= writeAttempts; attempt++ {
		h, err := writeBundle(d, subject, bundleJSON, predicateType, opts)
		if err != nil {
			return nil, err
		}
		_, bundles, err := find()
		if err != nil {
			return nil, err
		}
		for _, b := range bundles {
			if b.manifest == h {
				return &SignResult{Format: FormatBundle, Where: d.Context().String(), Manifest: h, Signatures: len(bundles)}, nil
			}
		}
	}
	return nil, errors.New("the referrers of the digest kept changing under concurrent writers; try again")
}

// signLegacy adds a legacy signature by key to d's signature tag.
func signLegacy(d name.Digest, key *PrivateKey, opts []remote.Option) (*SignResult, error) {
	p, err := Payload(d)
	if err != nil {
		return nil, err
	}
	sig, err := key.signer.SignMessage(bytes.NewReader(p))
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	layer := static.NewLayer(p, SimpleSigningMediaType)
	layerDigest, err := layer.Digest()
	if err != nil {
		return nil, err
	}
	sigB64 := base64.StdEncoding.EncodeToString(sig)
	add := mutate.Addendum{
		Layer:       layer,
		Annotations: map[string]string{SignatureAnnotation: sigB64},
	}

	for attempt := 1; attempt <= writeAttempts; attempt++ {
		base, tag, err := fetchSignatures(d, opts)
		if err != nil {
			return nil, err
		}
		if base == nil {
			base = emptySignatures()
		} else {
			n, signed, err := signedBy(base, d, key)
			if err != nil {
				return nil, err
			}
			if signed {
				h, err := base.Digest()
				if err != nil {
					return nil, err
				}
				return &SignResult{Format: FormatLegacy, Where: tag.String(), Manifest: h, Signatures: n, AlreadySigned: true}, nil
			}
		}
		img, err := mutate.Append(base, add)
		if err != nil {
			return nil, err
		}
		if err := remote.Write(tag, img, opts...); err != nil {
			return nil, registryError("writing", tag, err)
		}
		// Read back: a concurrent signer may have written its own list
		// over ours in between.
		now, _, err := fetchSignatures(d, opts)
		if err != nil {
			return nil, err
		}
		if now == nil {
			continue
		}
		m, err := now.Manifest()
		if err != nil {
			return nil, err
		}
		// Every signer of d signs the same payload, so the layer digest
		// is the same for all of them: only the signature tells ours.
		for _, l := range m.Layers {
			if l.Digest == layerDigest && l.Annotations[SignatureAnnotation] == sigB64 {
				h, err := now.Digest()
				if err != nil {
					return nil, err
				}
				return &SignResult{Format: FormatLegacy, Where: tag.String(), Manifest: h, Signatures: len(m.Layers)}, nil
			}
		}
	}
	return nil, errors.New("the signature tag kept changing under concurrent writers; try again")
}

// signedBy reports whether img already holds a valid signature by key over
// d, and how many layers it has. Malformed layers are left alone: they are
// someone else's and Verify reports them.
func signedBy(img v1.Image, d name.Digest, key *PrivateKey) (int, bool, error) {
	sigs, err := readSignatures(img)
	if err != nil {
		return 0, false, err
	}
	for _, s := range sigs {
		if s.err != nil {
			continue
		}
		if key.signer.VerifySignature(bytes.NewReader(s.signature), bytes.NewReader(s.payload)) != nil {
			continue
		}
		if p, err := parsePayload(s.payload); err == nil && p.Critical.Image.DockerManifestDigest == d.DigestStr() {
			return len(sigs), true, nil
		}
	}
	return len(sigs), false, nil
}
