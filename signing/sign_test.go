package signing

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// newECKey makes a P-256 key, loaded as a signing key.
func newECKey(t *testing.T) (*ecdsa.PrivateKey, *PrivateKey) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := LoadPrivateKey(pemBlock(t, "PRIVATE KEY", pkcs8(t, k)), nil)
	if err != nil {
		t.Fatal(err)
	}
	return k, priv
}

// keyPair makes a signing key and its public key.
func keyPair(t *testing.T, name string) (*PrivateKey, *PublicKey) {
	t.Helper()
	k, priv := newECKey(t)
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicKey(name, pemBlock(t, "PUBLIC KEY", der))
	if err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

// pushRandom pushes a random image to an in-memory registry on loopback
// and returns its digest reference.
func pushRandom(t *testing.T, host, repo string) name.Digest {
	t.Helper()
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(host + "/" + repo + ":v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	h, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return tag.Context().Digest(h.String())
}

// TestSignVerifyRoundTrip signs with two of three keys in an in-memory
// registry and checks the count, the payload and the failure modes; the
// integration suite repeats this against the real registry and cosign.
func TestSignVerifyRoundTrip(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	k1, p1 := keyPair(t, "k1.pub")
	k2, p2 := keyPair(t, "k2.pub")
	_, p3 := keyPair(t, "k3.pub")
	policy := Policy{Threshold: 2, Keys: []*PublicKey{p1, p2, p3}}

	d := pushRandom(t, host, "app")
	if r, err := Verify(ctx, d.String(), policy); err == nil {
		t.Fatalf("unsigned image verified: %+v", r)
	}
	res, err := Sign(ctx, d, k1, FormatLegacy)
	if err != nil {
		t.Fatal(err)
	}
	if res.Signatures != 1 || res.Where != d.Context().Tag("sha256-"+strings.TrimPrefix(d.DigestStr(), "sha256:")+".sig").String() {
		t.Errorf("first signature: %+v", res)
	}
	r, err := Verify(ctx, d.String(), policy)
	var te *ThresholdError
	if !errors.As(err, &te) || len(r.Matched) != 1 || r.Matched[0].Key != p1 {
		t.Fatalf("one signature of two: err = %v, report %+v", err, r)
	}
	if res, err = Sign(ctx, d, k2, FormatLegacy); err != nil || res.Signatures != 2 {
		t.Fatalf("second signature: %+v, %v", res, err)
	}
	if res, err = Sign(ctx, d, k2, FormatLegacy); err != nil || !res.AlreadySigned || res.Signatures != 2 {
		t.Fatalf("same key again: %+v, %v", res, err)
	}
	r, err = Verify(ctx, d.String(), policy)
	if err != nil || len(r.Matched) != 2 || len(r.Unmatched) != 1 || r.Unmatched[0].Key != p3 {
		t.Fatalf("two of three: err = %v, report %+v", err, r)
	}

	// The payload is the one cosign writes for the digest.
	img, _, err := fetchSignatures(d, nil)
	if err != nil {
		t.Fatal(err)
	}
	sigs, err := readSignatures(img)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"critical":{"identity":{"docker-reference":"` + d.Context().Name() + `"},"image":{"docker-manifest-digest":"` +
		d.DigestStr() + `"},"type":"cosign container image signature"},"optional":null}`
	if string(sigs[0].payload) != want {
		t.Errorf("payload\n got %s\nwant %s", sigs[0].payload, want)
	}

	// By tag: resolved, and a moved tag fails.
	tag := d.Context().Tag("v1").String()
	if r, err := Verify(ctx, tag, policy); err != nil || r.Tag != tag {
		t.Fatalf("by tag: err = %v, report %+v", err, r)
	}
	moved := pushRandom(t, host, "app")
	r, err = Verify(ctx, tag, policy)
	if err == nil || r.Digest != moved || !strings.Contains(err.Error(), "has moved since signing") ||
		!strings.Contains(err.Error(), d.DigestStr()) {
		t.Fatalf("moved tag: err = %v", err)
	}

	// An unreachable registry fails closed.
	srv.Close()
	if _, err := Verify(ctx, d.String(), policy); err == nil || !strings.Contains(err.Error(), "cannot reach the registry") {
		t.Errorf("closed registry: err = %v", err)
	}
}

// clobberingRegistry is a registry that, once armed, puts the previous
// signature manifest back right after the next one is written: what a
// concurrent signer that read the tag before our write does to it.
type clobberingRegistry struct {
	next  http.Handler
	mu    sync.Mutex
	armed bool
	last  []byte // the last manifest written to a .sig tag
	ctype string
}

func (c *clobberingRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPut || !strings.Contains(r.URL.Path, "/manifests/") || !strings.HasSuffix(r.URL.Path, SignatureTagSuffix) {
		c.next.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	c.next.ServeHTTP(w, r)

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.armed && c.last != nil {
		c.armed = false
		back := httptest.NewRequest(http.MethodPut, r.URL.String(), bytes.NewReader(c.last))
		back.Header.Set("Content-Type", c.ctype)
		c.next.ServeHTTP(httptest.NewRecorder(), back)
		return
	}
	c.last, c.ctype = body, r.Header.Get("Content-Type")
}

// TestSignReAddsOverwrittenSignature: a concurrent writer drops our layer
// right after we wrote it. Every signer of a digest signs the same payload,
// so the read-back must tell our layer by its signature, not by its digest,
// or the lost signature passes for written.
func TestSignReAddsOverwrittenSignature(t *testing.T) {
	ctx := context.Background()
	reg := &clobberingRegistry{next: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	srv := httptest.NewServer(reg)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	k1, p1 := keyPair(t, "k1.pub")
	k2, p2 := keyPair(t, "k2.pub")
	d := pushRandom(t, host, "app")
	if _, err := Sign(ctx, d, k1, FormatLegacy); err != nil {
		t.Fatal(err)
	}
	reg.mu.Lock()
	reg.armed = true
	reg.mu.Unlock()
	res, err := Sign(ctx, d, k2, FormatLegacy)
	if err != nil {
		t.Fatal(err)
	}
	if reg.armed {
		t.Fatal("the registry never overwrote the second signature: the test did not test anything")
	}
	if res.Signatures != 2 {
		t.Errorf("after the overwrite the tag holds %d signatures, want 2 (the lost one re-added)", res.Signatures)
	}
	if r, err := Verify(ctx, d.String(), Policy{Threshold: 2, Keys: []*PublicKey{p1, p2}}); err != nil {
		t.Errorf("two signers, one overwritten and re-added: %v (report %+v)", err, r)
	}
}
