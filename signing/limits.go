package signing

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Limits bound every registry request this package makes, so that a slow,
// trickling or hostile registry cannot hang a CI job and cannot make it
// read more than a signature ever needs. A request past a limit fails with
// an error that names the limit; nothing is cut short silently.
type Limits struct {
	// Dial bounds connecting (TCP and TLS handshake each).
	Dial time.Duration
	// Request bounds one request from start to the last byte of its body:
	// a registry that trickles its answer is cut off here.
	Request time.Duration
	// Manifest is the largest manifest (and tag list page) read.
	Manifest int64
	// Blob is the largest blob read: a signature payload, a bundle, an
	// attestation.
	Blob int64
	// Explain bounds the best-effort search, after a failed verification by
	// tag, for the digests the keys signed instead (signedElsewhere).
	Explain time.Duration
}

// DefaultLimits are generous for signatures (a few KiB each) and
// provenance (BuildKit's is tens of KiB), and short enough for CI.
var DefaultLimits = Limits{
	Dial:     15 * time.Second,
	Request:  60 * time.Second,
	Manifest: 4 << 20,
	Blob:     16 << 20,
	Explain:  30 * time.Second,
}

// limits is what the package uses; tests lower it.
var limits = DefaultLimits

// LimitError is returned when a registry answer is larger than a limit.
type LimitError struct {
	URL   string
	Limit int64
	What  string
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("the registry sent a %s of more than %d bytes for %s: refused (no signature, bundle or attestation is that large)", e.What, e.Limit, e.URL)
}

// TimeoutError is returned when one registry request ran out of time.
type TimeoutError struct {
	URL     string
	Timeout time.Duration
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("the registry did not answer %s within %s: refused (a slow or trickling registry)", e.URL, e.Timeout)
}

// withLimits returns opts with the package's transport last, so that no
// caller option can lift the limits.
func withLimits(ctx context.Context, opts []remote.Option) []remote.Option {
	out := append([]remote.Option{remote.WithContext(ctx)}, opts...)
	return append(out, remote.WithTransport(limitedTransport(limits)))
}

// NewTransport is the transport with the package's limits, for registry
// and HTTP clients outside this package (stagex lock).
func NewTransport() http.RoundTripper { return limitedTransport(limits) }

// limitedTransport is an http.Transport with the dial limits, wrapped so
// that each request has a deadline and each body a size limit.
func limitedTransport(l Limits) http.RoundTripper {
	base := remote.DefaultTransport.(*http.Transport).Clone()
	base.DialContext = (&net.Dialer{Timeout: l.Dial, KeepAlive: 30 * time.Second}).DialContext
	base.TLSHandshakeTimeout = l.Dial
	base.ResponseHeaderTimeout = l.Request
	return &limitTransport{base: base, l: l}
}

type limitTransport struct {
	base http.RoundTripper
	l    Limits
}

func (t *limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeoutCause(req.Context(), t.l.Request,
		&TimeoutError{URL: redact(req), Timeout: t.l.Request})
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, timeoutCause(ctx, err)
	}
	max, what := t.l.Blob, "blob"
	if strings.Contains(req.URL.Path, "/manifests/") || strings.Contains(req.URL.Path, "/tags/list") ||
		strings.Contains(req.URL.Path, "/referrers/") {
		max, what = t.l.Manifest, "manifest"
	}
	lerr := &LimitError{URL: redact(req), Limit: max, What: what}
	if resp.ContentLength > max {
		resp.Body.Close()
		cancel()
		return nil, lerr
	}
	resp.Body = &limitedBody{rc: resp.Body, left: max, err: lerr, ctx: ctx, cancel: cancel}
	return resp, nil
}

// redact names a request without its query (which may carry tokens).
func redact(req *http.Request) string {
	u := *req.URL
	u.RawQuery, u.User = "", nil
	return u.String()
}

// timeoutCause turns a deadline error into the TimeoutError that caused it.
func timeoutCause(ctx context.Context, err error) error {
	var te *TimeoutError
	if c := context.Cause(ctx); errors.As(c, &te) && !errors.As(err, &te) {
		return fmt.Errorf("%w (%v)", te, err)
	}
	return err
}

// limitedBody fails a read past the limit (rather than ending the body
// early, which would pass for a short answer) and a read past the deadline.
type limitedBody struct {
	rc     io.ReadCloser
	left   int64
	err    *LimitError
	ctx    context.Context
	cancel context.CancelFunc
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return 0, b.err
	}
	if err != nil && err != io.EOF {
		err = timeoutCause(b.ctx, err)
	}
	return n, err
}

func (b *limitedBody) Close() error {
	b.cancel()
	return b.rc.Close()
}
