package signing

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"google.golang.org/protobuf/encoding/protojson"
)

// memRegistry is an in-memory registry (with the referrers API) on
// loopback.
func memRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func head(t *testing.T, d name.Digest) v1.Descriptor {
	t.Helper()
	desc, err := remote.Head(d)
	if err != nil {
		t.Fatal(err)
	}
	return *desc
}

// TestBundleAndLegacyCountOnce: a key that signed in both formats is one
// signer; a bundle by a second key makes two.
func TestBundleAndLegacyCountOnce(t *testing.T) {
	ctx := context.Background()
	host := memRegistry(t)
	k1, p1 := keyPair(t, "k1.pub")
	k2, p2 := keyPair(t, "k2.pub")
	_, p3 := keyPair(t, "k3.pub")
	policy := Policy{Threshold: 2, Keys: []*PublicKey{p1, p2, p3}}
	d := pushRandom(t, host, "app")

	res, err := Sign(ctx, d, k1, FormatBundle)
	if err != nil || res.Format != FormatBundle || res.Signatures != 1 || res.AlreadySigned {
		t.Fatalf("bundle by k1: %+v, %v", res, err)
	}
	if res, err := Sign(ctx, d, k1, FormatBundle); err != nil || !res.AlreadySigned || res.Signatures != 1 {
		t.Fatalf("bundle by k1 again: %+v, %v", res, err)
	}
	if _, err := Sign(ctx, d, k1, FormatLegacy); err != nil {
		t.Fatal(err)
	}
	r, err := Verify(ctx, d.String(), policy)
	var te *ThresholdError
	if !errors.As(err, &te) || len(r.Matched) != 1 || r.Matched[0].Key != p1 || r.Bundles != 1 || r.Signatures != 1 {
		t.Fatalf("k1 in both formats must count once: err = %v, report %+v", err, r)
	}
	if _, err := Sign(ctx, d, k2, FormatBundle); err != nil {
		t.Fatal(err)
	}
	r, err = Verify(ctx, d.String(), policy)
	if err != nil || len(r.Matched) != 2 || r.Matched[1].Key != p2 || r.Bundles != 2 {
		t.Fatalf("k1 (both formats) + k2 (bundle): err = %v, report %+v", err, r)
	}

	// A bundle copied onto another digest: it verifies under k1, but its
	// statement names the first digest.
	other := pushRandom(t, host, "app")
	bundles, err := fetchBundles(d, SignPredicateType, maxPayloadSize, nil)
	if err != nil || len(bundles) != 2 {
		t.Fatalf("bundles: %d, %v", len(bundles), err)
	}
	raw, err := bundles[0].bundle.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := writeBundle(other, head(t, other), raw, SignPredicateType, nil); err != nil {
		t.Fatal(err)
	}
	r, err = Verify(ctx, other.String(), Policy{Threshold: 1, Keys: []*PublicKey{p1, p2}})
	if !errors.As(err, &te) || len(r.Matched) != 0 || len(r.Problems) != 1 || !strings.Contains(r.Problems[0], "does not verify under any given key over "+other.DigestStr()) {
		t.Fatalf("moved bundle: err = %v, report %+v", err, r)
	}

	// A provenance-type statement signed by k2 is no image signature.
	prov, err := Statement(other, "https://slsa.dev/provenance/v1", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := signStatement(ctx, prov, k2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := writeBundle(other, head(t, other), b, SignPredicateType, nil); err != nil {
		t.Fatal(err)
	}
	r, err = Verify(ctx, other.String(), Policy{Threshold: 1, Keys: []*PublicKey{p1, p2}})
	if !errors.As(err, &te) || !strings.Contains(strings.Join(r.Problems, "\n"), `the statement's predicate is "https://slsa.dev/provenance/v1"`) {
		t.Fatalf("provenance statement as a signature: err = %v, report %+v", err, r)
	}
}

// testCA is a Fulcio-like certificate authority: a root, an intermediate,
// and leaf certificates carrying the OIDC issuer extension.
type testCA struct {
	root, inter *x509.Certificate
	interKey    *ecdsa.PrivateKey
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	rc, rk, err := ca.GenerateRootCa()
	if err != nil {
		t.Fatal(err)
	}
	ic, ik, err := ca.GenerateFulcioIntermediate(rc, rk)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{root: rc, inter: ic, interKey: ik}
}

// trustedRootFile writes a trusted_root.json that trusts the CAs (no logs)
// and loads it back the way `stagex verify --trusted-root` does.
func trustedRootFile(t *testing.T, cas ...*testCA) *root.TrustedRoot {
	t.Helper()
	var auths []root.CertificateAuthority
	for _, c := range cas {
		auths = append(auths, &root.FulcioCertificateAuthority{Root: c.root, Intermediates: []*x509.Certificate{c.inter}, URI: "https://fulcio.test"})
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, auths, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := tr.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "trusted_root.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadTrustedRoot(p)
	if err != nil {
		t.Fatal(err)
	}
	return loaded
}

// fixedCert hands sigstore-go's signer one certificate.
type fixedCert []byte

func (c fixedCert) GetCertificate(context.Context, sign.Keypair, *sign.CertificateProviderOptions) ([]byte, error) {
	return c, nil
}

// signKeyless attaches to d a signature bundle by a fresh key certified by
// c for subject@issuer, valid from notBefore for ten minutes (Fulcio's
// lifetime).
func (c *testCA) signKeyless(t *testing.T, d name.Digest, subject, issuer string, notBefore time.Time) {
	t.Helper()
	k, priv := newECKey(t)
	kp := keypair{priv}
	leaf, err := ca.GenerateLeafCert(subject, issuer, notBefore, k, c.inter, c.interKey)
	if err != nil {
		t.Fatal(err)
	}
	st, err := Statement(d, SignPredicateType, nil)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := sign.Bundle(&sign.DSSEData{Data: st, PayloadType: InTotoPayloadType}, kp, sign.BundleOptions{CertificateProvider: fixedCert(leaf.Raw)})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := protojson.Marshal(pb)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := writeBundle(d, head(t, d), raw, SignPredicateType, nil); err != nil {
		t.Fatal(err)
	}
}

// TestKeylessThreshold: 2 of {key A, identity X, identity Y}, where X and Y
// hold certificates from a test CA. The transparency log is turned off
// (IgnoreTlog) because no log exists offline; one case checks that it is
// required otherwise.
func TestKeylessThreshold(t *testing.T) {
	ctx := context.Background()
	host := memRegistry(t)
	trusted, untrusted := newTestCA(t), newTestCA(t)
	tr := trustedRootFile(t, trusted)
	const issuer = "https://issuer.test"
	x, err := ParseIdentity("x@example.test@"+issuer, false)
	if err != nil {
		t.Fatal(err)
	}
	y, err := ParseIdentity(`ci-[0-9]+@example\.test@https://issuer\.test`, true)
	if err != nil {
		t.Fatal(err)
	}
	kA, pA := keyPair(t, "a.pub")
	policy := Policy{Threshold: 2, Keys: []*PublicKey{pA}, Identities: []*Identity{x, y}, TrustedRoot: tr, IgnoreTlog: true}
	now := time.Now().Add(-time.Minute)

	cases := []struct {
		name string
		sign func(d name.Digest)
		pass bool
		want string // in the problems when it fails
	}{
		{"X and Y", func(d name.Digest) {
			trusted.signKeyless(t, d, "x@example.test", issuer, now)
			trusted.signKeyless(t, d, "ci-7@example.test", issuer, now)
		}, true, ""},
		{"A and Y", func(d name.Digest) {
			if _, err := Sign(ctx, d, kA, FormatLegacy); err != nil {
				t.Fatal(err)
			}
			trusted.signKeyless(t, d, "ci-7@example.test", issuer, now)
		}, true, ""},
		{"X twice", func(d name.Digest) {
			trusted.signKeyless(t, d, "x@example.test", issuer, now)
			trusted.signKeyless(t, d, "x@example.test", issuer, now)
		}, false, ""},
		{"X and another identity", func(d name.Digest) {
			trusted.signKeyless(t, d, "x@example.test", issuer, now)
			trusted.signKeyless(t, d, "evil-ci-7@example.test", issuer, now)
		}, false, "the certificate of evil-ci-7@example.test issued by https://issuer.test matches no given identity"},
		{"X and Y from another issuer", func(d name.Digest) {
			trusted.signKeyless(t, d, "x@example.test", issuer, now)
			trusted.signKeyless(t, d, "ci-7@example.test", "https://issuer.test.attacker", now)
		}, false, "matches no given identity"},
		{"X and Y expired", func(d name.Digest) {
			trusted.signKeyless(t, d, "x@example.test", issuer, now)
			trusted.signKeyless(t, d, "ci-7@example.test", issuer, now.Add(-time.Hour))
		}, false, "expired"},
		{"X and Y from an untrusted CA", func(d name.Digest) {
			trusted.signKeyless(t, d, "x@example.test", issuer, now)
			untrusted.signKeyless(t, d, "ci-7@example.test", issuer, now)
		}, false, "certificate signed by unknown authority"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := pushRandom(t, host, "keyless")
			c.sign(d)
			r, err := Verify(ctx, d.String(), policy)
			if c.pass {
				if err != nil {
					t.Fatalf("want a pass: %v, problems %q", err, r.Problems)
				}
				if len(r.Matched) != 2 {
					t.Errorf("matched %d signers, want 2", len(r.Matched))
				}
				return
			}
			var te *ThresholdError
			if !errors.As(err, &te) || len(r.Matched) != 1 {
				t.Fatalf("want 1 of 3 and a ThresholdError, got err = %v, report %+v", err, r)
			}
			if c.want != "" && !strings.Contains(strings.Join(r.Problems, "\n"), c.want) {
				t.Errorf("problems lack %q:\n%s", c.want, strings.Join(r.Problems, "\n"))
			}
		})
	}

	// The transparency log is required unless turned off: the same X and Y
	// signatures, which carry no log entry, do not count.
	d := pushRandom(t, host, "keyless")
	trusted.signKeyless(t, d, "x@example.test", issuer, now)
	trusted.signKeyless(t, d, "ci-7@example.test", issuer, now)
	strict := policy
	strict.IgnoreTlog = false
	r, err := Verify(ctx, d.String(), strict)
	var te *ThresholdError
	if !errors.As(err, &te) || len(r.Matched) != 0 || !strings.Contains(strings.Join(r.Problems, "\n"), "transparency log") {
		t.Fatalf("without a log entry and the log required: err = %v, report %+v", err, r)
	}

	// Policies that cannot mean 2 distinct parties.
	for _, bad := range []Policy{
		{Threshold: 2, Identities: []*Identity{x, x}, TrustedRoot: tr},
		{Threshold: 1, Identities: []*Identity{x}},
	} {
		if err := bad.Check(); err == nil {
			t.Errorf("policy %+v passed Check", bad)
		}
	}
}

// TestBundleLimits: a bundle larger than a signature bundle can be is
// refused (named, not read), and more bundles than maxBundles on one
// digest is an error, never a partial read.
func TestBundleLimits(t *testing.T) {
	ctx := context.Background()
	host := memRegistry(t)
	_, p1 := keyPair(t, "k1.pub")
	policy := Policy{Threshold: 1, Keys: []*PublicKey{p1}}

	d := pushRandom(t, host, "big")
	if _, err := writeBundle(d, head(t, d), make([]byte, maxPayloadSize+1), SignPredicateType, nil); err != nil {
		t.Fatal(err)
	}
	r, err := Verify(ctx, d.String(), policy)
	var te *ThresholdError
	if !errors.As(err, &te) || len(r.Problems) != 1 || !strings.Contains(r.Problems[0], "bundle size 1048577 is outside 1..1048576 bytes: refused") {
		t.Fatalf("oversized bundle: err = %v, report %+v", err, r)
	}

	many := pushRandom(t, host, "many")
	for i := 0; i <= maxBundles; i++ {
		if _, err := writeBundle(many, head(t, many), []byte(fmt.Sprintf(`{"n":%d}`, i)), SignPredicateType, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Verify(ctx, many.String(), policy); err == nil || !strings.Contains(err.Error(), "more than the 100 read; refused") {
		t.Fatalf("%d bundles: err = %v", maxBundles+1, err)
	}
}
