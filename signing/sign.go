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
	tag, err := SignatureTag(d)
	if err != nil {
		return nil, err
	}
	sigB64 := base64.StdEncoding.EncodeToString(sig)
	return appendLegacy(legacyEntry{
		tag: tag,
		add: mutate.Addendum{Layer: layer, Annotations: map[string]string{SignatureAnnotation: sigB64}},
		has: func(img v1.Image) (bool, error) { return signedBy(img, d, key) },
		// Every signer of d signs the same payload, so the layer digest
		// is the same for all of them: only the signature tells ours.
		ours: func(l v1.Descriptor) bool {
			return l.Digest == layerDigest && l.Annotations[SignatureAnnotation] == sigB64
		},
	}, opts)
}

// legacyEntry is one layer to add to a legacy tag (.sig or .att).
type legacyEntry struct {
	tag name.Tag
	add mutate.Addendum
	// has reports whether the tag's image holds this key's entry already.
	has func(v1.Image) (bool, error)
	// ours tells the added layer in the image read back.
	ours func(v1.Descriptor) bool
}

// appendLegacy adds e's layer to its tag, keeping every layer there. Two
// writers of one tag at once can drop each other's layer, so the tag is
// read back and the write repeated until the layer is there.
func appendLegacy(e legacyEntry, opts []remote.Option) (*SignResult, error) {
	result := func(img v1.Image, n int, already bool) (*SignResult, error) {
		h, err := img.Digest()
		if err != nil {
			return nil, err
		}
		return &SignResult{Format: FormatLegacy, Where: e.tag.String(), Manifest: h, Signatures: n, AlreadySigned: already}, nil
	}
	for attempt := 1; attempt <= writeAttempts; attempt++ {
		base, err := fetchTag(e.tag, opts)
		if err != nil {
			return nil, err
		}
		if base == nil {
			base = emptySignatures()
		} else {
			has, err := e.has(base)
			if err != nil {
				return nil, err
			}
			if has {
				m, err := base.Manifest()
				if err != nil {
					return nil, err
				}
				return result(base, len(m.Layers), true)
			}
		}
		img, err := mutate.Append(base, e.add)
		if err != nil {
			return nil, err
		}
		if err := remote.Write(e.tag, img, opts...); err != nil {
			return nil, registryError("writing", e.tag, err)
		}
		now, err := fetchTag(e.tag, opts)
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
		for _, l := range m.Layers {
			if e.ours(l) {
				return result(now, len(m.Layers), false)
			}
		}
	}
	return nil, fmt.Errorf("%s kept changing under concurrent writers; try again", e.tag)
}

// signedBy reports whether img already holds a valid signature by key over
// d. Malformed layers are left alone: they are
// someone else's and Verify reports them.
func signedBy(img v1.Image, d name.Digest, key *PrivateKey) (bool, error) {
	sigs, err := readSignatures(img)
	if err != nil {
		return false, err
	}
	for _, s := range sigs {
		if s.err != nil {
			continue
		}
		if key.signer.VerifySignature(bytes.NewReader(s.signature), bytes.NewReader(s.payload)) != nil {
			continue
		}
		if p, err := parsePayload(s.payload); err == nil && p.Critical.Image.DockerManifestDigest == d.DigestStr() {
			return true, nil
		}
	}
	return false, nil
}
