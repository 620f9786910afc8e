package lock

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/distribution/reference"
)

// signatureType is the only critical.type of a containers-signature
// ("simple signing") payload.
const signatureType = "atomic container signature"

// maxPayload bounds a signed payload; real ones are a few hundred bytes.
const maxPayload = 64 << 10

// payload is the JSON a StageX maintainer signs, in the containers-signature
// format (containers/image docs/containers-signature.5.md). The critical
// part must hold exactly these fields: a consumer must reject a signature
// whose critical part it does not fully understand.
type payload struct {
	Critical struct {
		Type  string `json:"type"`
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Identity struct {
			DockerReference string `json:"docker-reference"`
		} `json:"identity"`
	} `json:"critical"`
	Optional map[string]any `json:"optional"`
}

// unknownKeyError is a signature made by a key outside the keyring: it does
// not count, but it is not a broken signature either (StageX has more
// maintainers than a user may choose to trust).
type unknownKeyError struct{ keyID uint64 }

func (e *unknownKeyError) Error() string {
	return fmt.Sprintf("signed by key ID %016X, which is not in the keyring", e.keyID)
}

// openSignature checks an OpenPGP signed message (what `gpg --sign` writes,
// binary or armored) against the keyring and returns the signer's primary
// key fingerprint, so that a signature by a subkey counts for its primary
// key, and the signed bytes.
func (k *Keyring) openSignature(data []byte) (string, []byte, error) {
	r := io.Reader(bytes.NewReader(data))
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN PGP MESSAGE-----")) {
		body, err := armorBody(data, "PGP MESSAGE")
		if err != nil {
			return "", nil, err
		}
		r = body
	}
	md, err := openpgp.ReadMessage(r, k.entities, nil, nil)
	if err != nil {
		return "", nil, fmt.Errorf("not an OpenPGP signed message: %v", err)
	}
	if md.IsEncrypted || md.IsSymmetricallyEncrypted {
		return "", nil, fmt.Errorf("an encrypted message, not a signature")
	}
	if !md.IsSigned {
		return "", nil, fmt.Errorf("the message carries no signature")
	}
	if md.SignedBy == nil {
		if len(k.entities.KeysById(md.SignedByKeyId)) > 0 {
			return "", nil, fmt.Errorf("signed by key ID %016X of the keyring, which may not sign (no signing flag, or revoked or expired)", md.SignedByKeyId)
		}
		return "", nil, &unknownKeyError{keyID: md.SignedByKeyId}
	}
	body, err := io.ReadAll(io.LimitReader(md.UnverifiedBody, maxPayload+1))
	if err != nil {
		return "", nil, fmt.Errorf("reading the signed payload: %v", err)
	}
	if len(body) > maxPayload {
		return "", nil, fmt.Errorf("signed payload larger than %d bytes", maxPayload)
	}
	if md.SignatureError != nil {
		return "", nil, fmt.Errorf("bad signature by %s: %v", Fingerprint(md.SignedBy.Entity), md.SignatureError)
	}
	if md.Signature == nil || len(md.UnverifiedSignatures) > 0 {
		return "", nil, fmt.Errorf("the message must carry exactly one signature")
	}
	return Fingerprint(md.SignedBy.Entity), body, nil
}

// armorBody decodes one armored block of the given type.
func armorBody(data []byte, blockType string) (io.Reader, error) {
	els, err := decodeArmor(data)
	if err != nil {
		return nil, err
	}
	if len(els) != 1 || els[0].Type != blockType {
		return nil, fmt.Errorf("want exactly one armored %s block", blockType)
	}
	return els[0].Body, nil
}

// checkPayload parses a signed payload and checks that it is a
// containers-signature for digest, naming the repository want (a
// normalized name, e.g. docker.io/stagex/core-musl) at the tag version.
// StageX's sign.sh signs "stagex/<image>:<version>", the tag the release
// publishes the image under; comparing it binds the digest to the version
// the lock pins, so that an older, validly signed digest (a downgrade) or a
// digest left behind when a version was bumped (a mixed entry) is refused.
// A tag that differs, or none, is a *versionMismatch.
func checkPayload(data []byte, digest, want, version string) error {
	var p payload
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return fmt.Errorf("payload is not a containers-signature: %v", err)
	}
	if dec.More() {
		return fmt.Errorf("payload is not a containers-signature: data after the JSON object")
	}
	c := p.Critical
	if c.Type != signatureType {
		return fmt.Errorf("payload type %q, want %q", c.Type, signatureType)
	}
	if c.Image.DockerManifestDigest != digest {
		return fmt.Errorf("signature is for another digest: %s", quoteOr(c.Image.DockerManifestDigest, "none"))
	}
	ref, err := reference.ParseNormalizedNamed(c.Identity.DockerReference)
	if err != nil {
		return fmt.Errorf("payload names no valid docker-reference (%q): %v", c.Identity.DockerReference, err)
	}
	if got := reference.TrimNamed(ref).Name(); got != want {
		return fmt.Errorf("signature is for another image: %s, want %s", got, want)
	}
	if d, ok := ref.(reference.Digested); ok && d.Digest().String() != digest {
		return fmt.Errorf("signature is for another digest: its docker-reference names %s", d.Digest())
	}
	tag := ""
	if t, ok := ref.(reference.Tagged); ok {
		tag = t.Tag()
	}
	if tag == "" || tag != version {
		return &versionMismatch{signed: tag, want: version}
	}
	return nil
}

// versionMismatch is a payload that names the right digest and repository
// but another tag than the version locked: the digest is another version's.
type versionMismatch struct{ signed, want string }

func (e *versionMismatch) Error() string {
	if e.signed == "" {
		return fmt.Sprintf("signature names no version (its docker-reference has no tag), want %s", e.want)
	}
	return fmt.Sprintf("signature is for version %s, want %s", e.signed, e.want)
}

func quoteOr(s, none string) string {
	if s == "" {
		return none
	}
	return s
}
