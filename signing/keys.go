// Package signing signs image digests and their provenance the way cosign
// does and verifies that enough independent signers signed one exact
// digest.
//
// Two storage formats are read and written (see bundle.go and
// registry.go): cosign v3's default, a Sigstore bundle (DSSE envelope over
// an in-toto statement naming the digest) attached to the image through
// the OCI referrers API, and the legacy one, a simple-signing payload
// signed with SHA-256 as a layer of the image <repo>:sha256-<hex>.sig with
// the base64 signature in the layer annotation
// dev.cosignproject.cosign/signature. A signer is a key or a certificate
// identity checked against a Sigstore trusted root (identity.go). Every
// registry request is bounded in time and size (limits.go).
package signing

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
)

// PasswordEnv holds the password of an encrypted cosign key, as for cosign.
const PasswordEnv = "COSIGN_PASSWORD"

// PEM block types of the private keys LoadPrivateKey reads.
const (
	pemSigstoreEncrypted = "ENCRYPTED SIGSTORE PRIVATE KEY" // cosign generate-key-pair (v2.1+)
	pemCosignEncrypted   = "ENCRYPTED COSIGN PRIVATE KEY"   // older cosign
	pemPKCS8             = "PRIVATE KEY"
	pemEC                = "EC PRIVATE KEY"
	pemRSA               = "RSA PRIVATE KEY"
	pemPKCS8Encrypted    = "ENCRYPTED PRIVATE KEY"
)

// minRSABits is the smallest RSA modulus accepted, as in cosign.
const minRSABits = 2048

// signatureHash is the digest signed over the payload. `cosign verify --key`
// checks SHA-256 whatever the key type, so every key signs with it.
const signatureHash = crypto.SHA256

// PasswordFunc returns the password of an encrypted key.
type PasswordFunc func() ([]byte, error)

// EnvPassword reads the password from COSIGN_PASSWORD; an empty but set
// variable is an empty password, as in cosign.
func EnvPassword() ([]byte, error) {
	p, ok := os.LookupEnv(PasswordEnv)
	if !ok {
		return nil, fmt.Errorf("the key is encrypted: set %s to its password", PasswordEnv)
	}
	return []byte(p), nil
}

// PrivateKey is a loaded signing key.
type PrivateKey struct {
	signer signature.SignerVerifier
	pub    crypto.PublicKey
	// Fingerprint is sha256:<hex> of the public key's PKIX DER form.
	Fingerprint string
}

// LoadPrivateKey reads a PEM private key: PKCS#8, SEC 1 EC, PKCS#1 RSA or a
// cosign encrypted key (the password from pass). ECDSA (P-256, P-384,
// P-521) and RSA (2048 bits or more) keys are accepted; any other key is
// refused, never used with a scheme cosign would not check.
func LoadPrivateKey(pemBytes []byte, pass PasswordFunc) (*PrivateKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("not a PEM private key")
	}
	var (
		key any
		err error
	)
	switch block.Type {
	case pemSigstoreEncrypted, pemCosignEncrypted:
		if pass == nil {
			pass = EnvPassword
		}
		pw, perr := pass()
		if perr != nil {
			return nil, perr
		}
		der, derr := encrypted.Decrypt(block.Bytes, pw)
		if derr != nil {
			return nil, fmt.Errorf("decrypting the cosign key (wrong %s?): %w", PasswordEnv, derr)
		}
		key, err = x509.ParsePKCS8PrivateKey(der)
	case pemPKCS8:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case pemEC:
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case pemRSA:
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case pemPKCS8Encrypted:
		return nil, errors.New("PKCS#8-encrypted keys (\"ENCRYPTED PRIVATE KEY\") are not supported: " +
			"use a cosign key (`cosign import-key-pair`) or an unencrypted PEM key")
	default:
		return nil, fmt.Errorf("unsupported PEM block %q: want a PKCS#8, EC or cosign private key", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parsing the %s: %w", block.Type, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported private key type %T", key)
	}
	if err := checkKeyType(signer.Public()); err != nil {
		return nil, err
	}
	sv, err := signature.LoadSignerVerifier(key, signatureHash)
	if err != nil {
		return nil, err
	}
	fp, err := fingerprint(signer.Public())
	if err != nil {
		return nil, err
	}
	return &PrivateKey{signer: sv, pub: signer.Public(), Fingerprint: fp}, nil
}

// PublicKey is a loaded verification key.
type PublicKey struct {
	// Name says where the key came from (its file), for messages.
	Name string
	// Fingerprint is sha256:<hex> of the key's PKIX DER form; two keys with
	// the same fingerprint are the same key.
	Fingerprint string
	// signer identifies who holds the private half: two keys with the same
	// signer are one party (see signerID).
	signer   string
	pub      crypto.PublicKey
	verifier signature.Verifier
}

// ParsePublicKey reads a public key file: exactly one canonical PEM
// "PUBLIC KEY" block (PKIX, as cosign and openssl write it), with no
// headers, base64 lines of 64 characters ended by "\n" only, and nothing
// but line ends around it. verify and policy both load keys here, so they
// accept exactly the same files. The strictness matters: a file may reach
// places (policies, logs) where a header or a bare CR would be read as
// structure, so nothing in the file survives but the parsed key itself
// (PEM re-encodes it).
func ParsePublicKey(name string, pemBytes []byte) (*PublicKey, error) {
	pemBytes = bytes.Trim(pemBytes, "\r\n")
	block, rest := pem.Decode(pemBytes)
	switch {
	case block == nil || !bytes.HasPrefix(pemBytes, []byte("-----BEGIN ")):
		return nil, fmt.Errorf("%s: not a single PEM public key (one \"PUBLIC KEY\" block, nothing before or after it)", name)
	case len(rest) > 0:
		return nil, fmt.Errorf("%s: not a single PEM public key: there is more after the first block (one key a file)", name)
	case block.Type != "PUBLIC KEY":
		return nil, fmt.Errorf("%s: PEM block %q: want \"PUBLIC KEY\" (PKIX, as `cosign generate-key-pair` and `openssl pkey -pubout` write)", name, block.Type)
	case len(block.Headers) > 0:
		return nil, fmt.Errorf("%s: the PEM block has headers: a public key file holds none", name)
	}
	// The file must be the canonical encoding of its own bytes: this refuses
	// CR characters, odd line lengths, stray characters in the base64 body
	// and anything else pem.Decode would pass over.
	if canonical := pem.EncodeToMemory(&pem.Block{Type: block.Type, Bytes: block.Bytes}); !bytes.Equal(pemBytes, bytes.TrimRight(canonical, "\n")) {
		return nil, fmt.Errorf("%s: the PEM is not in canonical form (64-character base64 lines, \"\\n\" line ends, no CR): re-export it, e.g. `openssl pkey -pubin -in %s -out key.pub`", name, name)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := checkKeyType(pub); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	v, err := signature.LoadVerifier(pub, signatureHash)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	fp, err := fingerprint(pub)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &PublicKey{Name: name, Fingerprint: fp, signer: signerID(pub, fp), pub: pub, verifier: v}, nil
}

// LoadPublicKey reads a PEM public key file.
func LoadPublicKey(path string) (*PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParsePublicKey(path, b)
}

// PEM is the key re-encoded from its parsed form (PKIX "PUBLIC KEY"): what
// a policy embeds, never the bytes of the file it came from.
func (k *PublicKey) PEM() ([]byte, error) {
	return cryptoutils.MarshalPublicKeyToPEM(k.pub)
}

// SameSigner reports whether k and o are held by one party.
func (k *PublicKey) SameSigner(o *PublicKey) bool { return k.signer == o.signer }

// signerID names the holder of a key's private half. For RSA that is the
// modulus alone: whoever can factor N signs under every exponent, so two
// keys that differ only in E are one signer, not two. For ECDSA the whole
// key (curve and point) is the identity, which the fingerprint covers.
func signerID(pub crypto.PublicKey, fp string) string {
	if k, ok := pub.(*rsa.PublicKey); ok {
		sum := sha256.Sum256(k.N.Bytes())
		return "rsa-modulus:" + hex.EncodeToString(sum[:])
	}
	return fp
}

// checkKeyType refuses what cosign would not verify with SHA-256: Ed25519
// (cosign signs images with Ed25519ph), short RSA, odd curves.
func checkKeyType(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve.Params().Name {
		case "P-256", "P-384", "P-521":
			return nil
		}
		return fmt.Errorf("unsupported ECDSA curve %s: use P-256, P-384 or P-521", k.Curve.Params().Name)
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return fmt.Errorf("RSA key of %d bits is too short: use %d bits or more", k.N.BitLen(), minRSABits)
		}
		return nil
	case ed25519.PublicKey:
		return errors.New("Ed25519 keys are not supported (cosign signs images with them as Ed25519ph): use ECDSA or RSA")
	}
	return fmt.Errorf("unsupported public key type %T: use ECDSA or RSA", pub)
}

func fingerprint(pub crypto.PublicKey) (string, error) {
	der, err := cryptoutils.MarshalPublicKeyToDER(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// public is the public half as a verification key.
func (k *PrivateKey) public() *PublicKey {
	return &PublicKey{Name: k.Fingerprint, Fingerprint: k.Fingerprint, signer: signerID(k.pub, k.Fingerprint), pub: k.pub, verifier: k.signer}
}

// PublicKeyPEM returns the public half of a private key as PEM, the form
// `cosign generate-key-pair` writes to cosign.pub.
func (k *PrivateKey) PublicKeyPEM() ([]byte, error) {
	pub, err := k.signer.PublicKey()
	if err != nil {
		return nil, err
	}
	return cryptoutils.MarshalPublicKeyToPEM(pub)
}
