// Package signing signs image digests the way `cosign sign --key` does and
// verifies that enough independent keys signed one exact digest.
//
// A signature is a simple-signing payload (the digest and the repository,
// as JSON) signed with SHA-256, stored as a layer of the image
// <repo>:sha256-<hex>.sig with the base64 signature in the layer annotation
// dev.cosignproject.cosign/signature. That is cosign's key-based format, so
// `cosign verify --key` accepts what Sign writes and Verify accepts what
// `cosign sign --key` writes.
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
	return &PrivateKey{signer: sv, Fingerprint: fp}, nil
}

// PublicKey is a loaded verification key.
type PublicKey struct {
	// Name says where the key came from (its file), for messages.
	Name string
	// Fingerprint is sha256:<hex> of the key's PKIX DER form; two keys with
	// the same fingerprint are the same key.
	Fingerprint string
	verifier    signature.Verifier
}

// ParsePublicKey reads a PEM public key ("PUBLIC KEY", as cosign writes).
// The file must hold that one block and nothing else: `stagex policy` copies
// the whole file into the Kyverno policy, where a second key hidden after
// the first would let one entry count for another signer.
func ParsePublicKey(name string, pemBytes []byte) (*PublicKey, error) {
	trimmed := bytes.TrimSpace(pemBytes)
	block, rest := pem.Decode(trimmed)
	if block == nil || !bytes.HasPrefix(trimmed, []byte("-----BEGIN ")) || len(bytes.TrimSpace(rest)) > 0 {
		return nil, fmt.Errorf("%s: not a single PEM public key (one \"PUBLIC KEY\" block, nothing before or after it)", name)
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pemBytes)
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
	return &PublicKey{Name: name, Fingerprint: fp, verifier: v}, nil
}

// LoadPublicKey reads a PEM public key file.
func LoadPublicKey(path string) (*PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParsePublicKey(path, b)
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

// PublicKeyPEM returns the public half of a private key as PEM, the form
// `cosign generate-key-pair` writes to cosign.pub.
func (k *PrivateKey) PublicKeyPEM() ([]byte, error) {
	pub, err := k.signer.PublicKey()
	if err != nil {
		return nil, err
	}
	return cryptoutils.MarshalPublicKeyToPEM(pub)
}
