package lock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// maxSignatures bounds how many signature-N files one digest may have; a
// release needs two, and StageX has fewer than twenty maintainers.
const maxSignatures = 64

// maxSignatureSize bounds one signature file; a real one is under 1 KiB.
const maxSignatureSize = 64 << 10

// Signature is one signature file of the lookaside.
type Signature struct {
	Source string // where it was read, for messages: a URL or a file path
	Data   []byte
}

// Lookaside is a containers-signature lookaside store: for an image
// repository path ("stagex/core-musl") and a manifest digest, the files
// <path>@sha256=<hex>/signature-1, signature-2, … up to the first missing
// one (containers/image reads them the same way).
type Lookaside interface {
	// Signatures returns a digest's signatures in order; none when the
	// store has no entry for the digest.
	Signatures(ctx context.Context, repoPath, digest string) ([]Signature, error)
	// Where names the entry of a digest, for messages.
	Where(repoPath, digest string) string
}

// SignaturePath is the path of a digest's n-th signature below the
// lookaside's root: "stagex/core-musl@sha256=<hex>/signature-1".
func SignaturePath(repoPath, digest string, n int) string {
	return fmt.Sprintf("%s@%s/signature-%d", repoPath, strings.Replace(digest, ":", "=", 1), n)
}

// OpenLookaside opens a lookaside: an http(s):// base URL, or a local
// folder holding the same layout (a checkout of StageX's signatures
// repository, for air-gapped use).
func OpenLookaside(location string, client *http.Client) (Lookaside, error) {
	if location == "" {
		return nil, fmt.Errorf("no lookaside given: pass --lookaside URL or FOLDER\nhint: StageX serves its signatures over HTTPS and keeps them in its signatures repository (see docs/lock.md)")
	}
	if strings.Contains(location, "://") {
		u, err := url.Parse(location)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("lookaside %q: want an http(s):// URL or a folder", location)
		}
		if client == nil {
			client = http.DefaultClient
		}
		return &httpLookaside{base: strings.TrimSuffix(location, "/"), client: client}, nil
	}
	st, err := os.Stat(location)
	if err != nil {
		return nil, fmt.Errorf("lookaside folder %s: %w", location, errors.Unwrap(err))
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("lookaside %s is not a folder", location)
	}
	return dirLookaside(location), nil
}

type httpLookaside struct {
	base   string
	client *http.Client
}

func (l *httpLookaside) Where(repoPath, digest string) string {
	return l.base + "/" + strings.TrimSuffix(SignaturePath(repoPath, digest, 1), "/signature-1")
}

func (l *httpLookaside) Signatures(ctx context.Context, repoPath, digest string) ([]Signature, error) {
	var sigs []Signature
	for n := 1; n <= maxSignatures+1; n++ {
		u := l.base + "/" + SignaturePath(repoPath, digest, n)
		data, found, err := l.get(ctx, u)
		if err != nil {
			return nil, err
		}
		if !found {
			return sigs, nil
		}
		if n > maxSignatures {
			return nil, fmt.Errorf("%s: more than %d signatures for one digest", l.Where(repoPath, digest), maxSignatures)
		}
		sigs = append(sigs, Signature{Source: u, Data: data})
	}
	return sigs, nil
}

// get fetches one file. Only 404 means "no such signature": any other
// failure stops the lock, since treating it as the end of the list would
// silently drop signatures.
func (l *httpLookaside) get(ctx context.Context, u string) ([]byte, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, false, err
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return nil, false, fmt.Errorf("lookaside: %w", err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, false, nil
	case resp.StatusCode != http.StatusOK:
		return nil, false, fmt.Errorf("lookaside: GET %s: %s", u, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxSignatureSize+1))
	if err != nil {
		return nil, false, fmt.Errorf("lookaside: GET %s: %w", u, err)
	}
	if len(data) > maxSignatureSize {
		return nil, false, fmt.Errorf("lookaside: %s is larger than %d bytes", u, maxSignatureSize)
	}
	return data, true, nil
}

type dirLookaside string

func (d dirLookaside) Where(repoPath, digest string) string {
	return filepath.Join(string(d), filepath.FromSlash(strings.TrimSuffix(SignaturePath(repoPath, digest, 1), "/signature-1")))
}

func (d dirLookaside) Signatures(_ context.Context, repoPath, digest string) ([]Signature, error) {
	var sigs []Signature
	for n := 1; n <= maxSignatures+1; n++ {
		p := filepath.Join(string(d), filepath.FromSlash(SignaturePath(repoPath, digest, n)))
		st, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return sigs, nil
		}
		if err != nil {
			return nil, err
		}
		switch {
		case n > maxSignatures:
			return nil, fmt.Errorf("%s: more than %d signatures for one digest", d.Where(repoPath, digest), maxSignatures)
		case !st.Mode().IsRegular():
			return nil, fmt.Errorf("%s is not a regular file", p)
		case st.Size() > maxSignatureSize:
			return nil, fmt.Errorf("%s is larger than %d bytes", p, maxSignatureSize)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		sigs = append(sigs, Signature{Source: p, Data: data})
	}
	return sigs, nil
}
