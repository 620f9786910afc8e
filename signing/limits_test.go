package signing

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// withTestLimits lowers the package limits for one test.
func withTestLimits(t *testing.T, l Limits) {
	t.Helper()
	old := limits
	limits = l
	t.Cleanup(func() { limits = old })
}

// hostileRegistry serves a real in-memory registry, but answers the
// requests that match with its own handler.
func hostileRegistry(t *testing.T, match func(*http.Request) bool, h http.HandlerFunc) string {
	t.Helper()
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if match(r) {
			h(w, r)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// armed is set once the fixture is written; the hostile handler acts only
// then.
type armed struct{ on atomic.Bool }

func (a *armed) sigGET(r *http.Request) bool {
	return a.on.Load() && r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/") &&
		strings.HasSuffix(r.URL.Path, SignatureTagSuffix)
}

// verifyWithin runs Verify and fails the test when it does not return in
// time: before the limits, these registries hung it.
func verifyWithin(t *testing.T, d time.Duration, image string, p Policy) (*Report, error) {
	t.Helper()
	type result struct {
		r   *Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := Verify(context.Background(), image, p)
		done <- result{r, err}
	}()
	select {
	case res := <-done:
		return res.r, res.err
	case <-time.After(d):
		t.Fatalf("Verify(%s) did not return within %s", image, d)
	}
	return nil, nil
}

// TestVerifyTricklingRegistry: the signature manifest arrives one byte
// every 50ms; one request may take 300ms, so Verify fails quickly and says
// why instead of waiting for the last byte.
func TestVerifyTricklingRegistry(t *testing.T) {
	withTestLimits(t, Limits{Dial: time.Second, Request: 300 * time.Millisecond, Manifest: 1 << 20, Blob: 1 << 20, Explain: time.Second})
	var a armed
	host := hostileRegistry(t, a.sigGET, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		w.WriteHeader(http.StatusOK)
		for i := 0; i < 400; i++ {
			if _, err := w.Write([]byte(" ")); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
	k1, p1 := keyPair(t, "k1.pub")
	d := pushRandom(t, host, "app")
	if _, err := Sign(context.Background(), d, k1, FormatLegacy); err != nil {
		t.Fatal(err)
	}
	a.on.Store(true)
	start := time.Now()
	_, err := verifyWithin(t, 5*time.Second, d.String(), Policy{Threshold: 1, Keys: []*PublicKey{p1}})
	var te *TimeoutError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "did not answer") {
		t.Fatalf("trickling registry: err = %v, want a TimeoutError", err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("Verify took %s with a 300ms request limit", el)
	}
}

// TestVerifyOversizedManifest: the signature manifest is valid, signed and
// padded with a large annotation. Before the limits it was read whole and
// the image verified; now it is refused, with the limit named.
func TestVerifyOversizedManifest(t *testing.T) {
	withTestLimits(t, Limits{Dial: time.Second, Request: 5 * time.Second, Manifest: 64 << 10, Blob: 64 << 10, Explain: time.Second})
	var a armed
	var padded []byte
	host := hostileRegistry(t, a.sigGET, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		w.Write(padded)
	})
	k1, p1 := keyPair(t, "k1.pub")
	d := pushRandom(t, host, "app")
	if _, err := Sign(context.Background(), d, k1, FormatLegacy); err != nil {
		t.Fatal(err)
	}
	tag, err := SignatureTag(d)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := remote.Get(tag)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw.Manifest, &m); err != nil {
		t.Fatal(err)
	}
	m["annotations"] = map[string]string{"padding": strings.Repeat("x", 256<<10)}
	if padded, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	a.on.Store(true)
	_, err = verifyWithin(t, 10*time.Second, d.String(), Policy{Threshold: 1, Keys: []*PublicKey{p1}})
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != 64<<10 || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("oversized signature manifest: err = %v, want a LimitError of 65536 bytes", err)
	}
}

// TestReadAtMostRefusesOversize: a payload one byte over the limit is an
// error, not the first max bytes (it used to be cut silently).
func TestReadAtMostRefusesOversize(t *testing.T) {
	b, err := readAtMost(bytes.NewReader(make([]byte, maxPayloadSize)), maxPayloadSize, "payload")
	if err != nil || len(b) != maxPayloadSize {
		t.Fatalf("exactly the limit: %d bytes, %v", len(b), err)
	}
	if b, err := readAtMost(bytes.NewReader(make([]byte, maxPayloadSize+1)), maxPayloadSize, "payload"); err == nil {
		t.Fatalf("one byte over the limit: read %d bytes and no error", len(b))
	}
}

// TestSignedElsewhereBounded: a tag that moved makes Verify look for what
// the keys signed instead. Here the repository has 40 signature tags and
// the registry takes a second for each: the search stops at its time limit
// (400ms), and Verify still fails with the threshold error.
func TestSignedElsewhereBounded(t *testing.T) {
	withTestLimits(t, Limits{Dial: time.Second, Request: 5 * time.Second, Manifest: 1 << 20, Blob: 1 << 20, Explain: 400 * time.Millisecond})
	var a armed
	var slowHits atomic.Int32
	var reg http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	host := hostileRegistry(t, a.sigGET, func(w http.ResponseWriter, r *http.Request) {
		slowHits.Add(1)
		select {
		case <-r.Context().Done():
			return
		case <-time.After(time.Second):
		}
		reg.ServeHTTP(w, r)
	})
	k1, p1 := keyPair(t, "k1.pub")
	repo := ""
	for i := 0; i < 40; i++ {
		d := pushRandom(t, host, "app")
		repo = d.Context().String()
		if _, err := Sign(context.Background(), d, k1, FormatLegacy); err != nil {
			t.Fatal(err)
		}
	}
	// The hostile handler wraps its own empty registry: the signatures of
	// the 40 digests are gone for it, the tags are not (they are listed by
	// the real one). Only the last image is checked, by tag, and unsigned.
	moved := pushRandom(t, host, "app")
	a.on.Store(true)
	start := time.Now()
	ref, err := name.ParseReference(repo + ":v1")
	if err != nil {
		t.Fatal(err)
	}
	_, err = verifyWithin(t, 20*time.Second, ref.String(), Policy{Threshold: 1, Keys: []*PublicKey{p1}})
	var te *ThresholdError
	if !errors.As(err, &te) || te.Report.Digest != moved {
		t.Fatalf("err = %v, want a ThresholdError for %s", err, moved)
	}
	if el := time.Since(start); el > 4*time.Second {
		t.Errorf("Verify took %s with a 400ms limit on the search (%d slow requests)", el, slowHits.Load())
	}
	if slowHits.Load() == 0 {
		t.Error("the search never reached the slow signature tags: the test tested nothing")
	}
}
