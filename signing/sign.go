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
	// Tag is the signature tag, <repo>:sha256-<hex>.sig.
	Tag name.Tag
	// Manifest is the digest of the signature image after the write.
	Manifest v1.Hash
	// Signatures is how many signatures the tag holds now.
	Signatures int
	// AlreadySigned is true when this key had signed the digest already;
	// nothing was written.
	AlreadySigned bool
}

// Payload is the simple-signing payload cosign signs for d.
func Payload(d name.Digest) ([]byte, error) {
	return json.Marshal(payload.Cosign{Image: d})
}

// Sign signs the digest d with key and adds the signature to d's signature
// tag, keeping every signature already there. It refuses a digest the
// registry does not hold.
func Sign(ctx context.Context, d name.Digest, key *PrivateKey, opts ...remote.Option) (*SignResult, error) {
	opts = withLimits(ctx, opts)
	if _, err := remote.Head(d, opts...); err != nil {
		return nil, registryError("looking up", d, err)
	}
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
				return &SignResult{Tag: tag, Manifest: h, Signatures: n, AlreadySigned: true}, nil
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
				return &SignResult{Tag: tag, Manifest: h, Signatures: len(m.Layers)}, nil
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
