package signing

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
)

func pemBlock(t *testing.T, typ string, der []byte) []byte {
	t.Helper()
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func pkcs8(t *testing.T, k any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func password(p string) PasswordFunc { return func() ([]byte, error) { return []byte(p), nil } }

func TestLoadPrivateKeyFormats(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalECPrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := encrypted.Encrypt(pkcs8(t, ec), []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicKey("ec.pub", pemBlock(t, "PUBLIC KEY", pubDER))
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		pem  []byte
		pass PasswordFunc
	}{
		{"PKCS#8", pemBlock(t, "PRIVATE KEY", pkcs8(t, ec)), nil},
		{"SEC 1", pemBlock(t, "EC PRIVATE KEY", ecDER), nil},
		{"cosign encrypted", pemBlock(t, "ENCRYPTED SIGSTORE PRIVATE KEY", enc), password("secret")},
		{"older cosign encrypted", pemBlock(t, "ENCRYPTED COSIGN PRIVATE KEY", enc), password("secret")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := LoadPrivateKey(tc.pem, tc.pass)
			if err != nil {
				t.Fatal(err)
			}
			// Every format of one key is the same signer.
			if k.Fingerprint != pub.Fingerprint {
				t.Errorf("fingerprint %s, want the public key's %s", k.Fingerprint, pub.Fingerprint)
			}
			p, err := k.PublicKeyPEM()
			if err != nil {
				t.Fatal(err)
			}
			if back, err := ParsePublicKey("back", p); err != nil || back.Fingerprint != pub.Fingerprint {
				t.Errorf("PublicKeyPEM does not round-trip: %v", err)
			}
		})
	}

	if _, err := LoadPrivateKey(pemBlock(t, "ENCRYPTED SIGSTORE PRIVATE KEY", enc), password("wrong")); err == nil ||
		!strings.Contains(err.Error(), "wrong COSIGN_PASSWORD") {
		t.Errorf("wrong password: err = %v", err)
	}
	t.Setenv(PasswordEnv, "secret")
	if _, err := LoadPrivateKey(pemBlock(t, "ENCRYPTED SIGSTORE PRIVATE KEY", enc), nil); err != nil {
		t.Errorf("password from %s: %v", PasswordEnv, err)
	}
}

// TestRefusedKeys checks that keys cosign would not verify with SHA-256 are
// refused with a message, never used.
func TestRefusedKeys(t *testing.T) {
	_, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaShort, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	edPubDER, err := x509.MarshalPKIXPublicKey(edPriv.Public())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, want string
		pem        []byte
	}{
		{"Ed25519", "Ed25519 keys are not supported", pemBlock(t, "PRIVATE KEY", pkcs8(t, edPriv))},
		{"short RSA", "RSA key of 1024 bits is too short", pemBlock(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaShort))},
		{"PKCS#8 encrypted", "PKCS#8-encrypted keys", pemBlock(t, "ENCRYPTED PRIVATE KEY", []byte{1})},
		{"public key", "unsupported PEM block \"PUBLIC KEY\"", pemBlock(t, "PUBLIC KEY", edPubDER)},
		{"not PEM", "not a PEM private key", []byte("hello")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadPrivateKey(tc.pem, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := ParsePublicKey("ed.pub", pemBlock(t, "PUBLIC KEY", edPubDER)); err == nil ||
		!strings.Contains(err.Error(), "Ed25519") {
		t.Errorf("Ed25519 public key: err = %v", err)
	}

	// A key file with a second key after the first, or text around it:
	// verify would read the first key only, while the policy would trust
	// every key in the file.
	var ecPubs [][]byte
	for range 2 {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		ecPubs = append(ecPubs, pemBlock(t, "PUBLIC KEY", der))
	}
	if _, err := ParsePublicKey("one.pub", append([]byte("\n"), ecPubs[0]...)); err != nil {
		t.Errorf("one key with blank space around it: %v", err)
	}
	for name, file := range map[string][]byte{
		"two keys":    append(append([]byte{}, ecPubs[0]...), ecPubs[1]...),
		"text before": append([]byte("trusted:\n"), ecPubs[0]...),
		"text after":  append(append([]byte{}, ecPubs[0]...), "garbage\n"...),
	} {
		if _, err := ParsePublicKey(name, file); err == nil || !strings.Contains(err.Error(), "not a single PEM public key") {
			t.Errorf("%s: err = %v, want it refused", name, err)
		}
	}
}

func TestPolicyCheck(t *testing.T) {
	keys := make([]*PublicKey, 3)
	for i := range keys {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		if keys[i], err = ParsePublicKey(string(rune('a'+i))+".pub", pemBlock(t, "PUBLIC KEY", der)); err != nil {
			t.Fatal(err)
		}
	}
	dup := *keys[0]
	dup.Name = "a-copy.pub"
	for _, tc := range []struct {
		name string
		p    Policy
		want string
	}{
		{"2 of 3", Policy{Threshold: 2, Keys: keys}, ""},
		{"3 of 3", Policy{Threshold: 3, Keys: keys}, ""},
		{"N > M", Policy{Threshold: 4, Keys: keys}, "threshold 4 is greater than the 3 keys"},
		{"zero", Policy{Threshold: 0, Keys: keys}, "must be at least 1"},
		{"no keys", Policy{Threshold: 1}, "no keys"},
		{"duplicate", Policy{Threshold: 2, Keys: []*PublicKey{keys[0], keys[1], &dup}}, "a-copy.pub duplicates key a.pub"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Check()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("err = %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestPublicKeyFileStrict: a public key file is one canonical PEM "PUBLIC
// KEY" block. Each case was accepted before the hardening issue (headers and
// bare CRs reached the policy; PKCS#1 passed verify but not policy).
func TestPublicKeyFileStrict(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	good := string(pemBlock(t, "PUBLIC KEY", der))
	lines := strings.Split(strings.TrimSpace(good), "\n")
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	withHeader := lines[0] + "\nComment: hello\n\n" + strings.Join(lines[1:], "\n") + "\n"
	for _, tc := range []struct{ name, file, want string }{
		{"header", withHeader, "has headers"},
		{"header with CR", strings.Replace(withHeader, "hello", "a\r    - keys:", 1), "has headers"},
		{"CRLF", strings.ReplaceAll(good, "\n", "\r\n"), "not in canonical form"},
		{"bare CR in body", strings.Replace(good, "\n", "\r", 2), "not a single PEM public key"},
		{"short lines", lines[0] + "\n" + lines[1][:32] + "\n" + lines[1][32:] + "\n" + strings.Join(lines[2:], "\n"), "not in canonical form"},
		{"stray character", strings.Replace(good, lines[1], lines[1][:10]+"*"+lines[1][10:], 1), "not a single PEM public key"},
		{"PKCS#1", string(pemBlock(t, "RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey))), `want "PUBLIC KEY"`},
		{"space before", " " + good, "not a single PEM public key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParsePublicKey("k.pub", []byte(tc.file)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
	// The PEM a policy embeds is re-encoded from the key, and equal to the
	// canonical file.
	pub, err := ParsePublicKey("k.pub", []byte("\n"+good+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p, err := pub.PEM(); err != nil || string(p) != good {
		t.Errorf("PEM() = %q, %v; want %q", p, err, good)
	}
}

// TestRSASameModulusIsOneSigner: two RSA keys that share the modulus are one
// party (whoever factors N signs under any exponent), so a policy listing
// both is refused. Before the hardening issue they counted as two signers.
func TestRSASameModulusIsOneSigner(t *testing.T) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other := rsa.PublicKey{N: k.N, E: 65539}
	var keys []*PublicKey
	for i, pk := range []*rsa.PublicKey{&k.PublicKey, &other} {
		der, err := x509.MarshalPKIXPublicKey(pk)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := ParsePublicKey(string(rune('a'+i))+".pub", pemBlock(t, "PUBLIC KEY", der))
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, pub)
	}
	if keys[0].Fingerprint == keys[1].Fingerprint {
		t.Fatal("the two keys should differ as keys")
	}
	err = Policy{Threshold: 2, Keys: keys}.Check()
	if err == nil || !strings.Contains(err.Error(), "b.pub has the same RSA modulus as key a.pub") {
		t.Errorf("err = %v, want the shared modulus named", err)
	}
}

// TestOverlappingIdentitiesRefused: identities one certificate could
// satisfy twice would let one signer fill two attestor entries of a Kyverno
// policy (each entry is checked on its own), so the policy refuses them.
func TestOverlappingIdentitiesRefused(t *testing.T) {
	id := func(s string, re bool) *Identity {
		t.Helper()
		i, err := ParseIdentity(s, re)
		if err != nil {
			t.Fatal(err)
		}
		return i
	}
	const iss = "https://issuer.example"
	for _, tc := range []struct {
		name string
		ids  []*Identity
		want string
	}{
		{"exact and its own pattern", []*Identity{id("ci@example.test@"+iss, false), id(`ci@example\.test@https://issuer\.example`, true)}, "is matched by the pattern"},
		{"exact under a wider pattern", []*Identity{id(".*@example\\.test@"+iss, true), id("ci@example.test@"+iss, false)}, "is matched by the pattern"},
		{"two patterns", []*Identity{id("a@.*", true), id("b@.*", true)}, "are both patterns"},
		{"wildcard in an exact identity", []*Identity{id("*@example.test@"+iss, false), id("ci@example.test@"+iss, false)}, "may not contain * or ?"},
		{"twice", []*Identity{id("ci@x@"+iss, false), id("ci@x@"+iss, false)}, "given twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := distinctIdentities(tc.ids); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
	if err := distinctIdentities([]*Identity{id("ci@example.test@"+iss, false), id("release@example.test@"+iss, false), id(`deploy@ops\.example@.*`, true)}); err != nil {
		t.Errorf("distinct identities refused: %v", err)
	}
}
