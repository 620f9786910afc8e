package signing

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// maxScannedSignatureTags bounds the search for where a moved tag's
// signatures went (only done to explain a failure).
const maxScannedSignatureTags = 200

// Policy is what Verify demands: at least Threshold distinct Keys.
type Policy struct {
	Threshold int
	Keys      []*PublicKey
}

// Check refuses a policy that cannot mean what it says: no keys, a
// threshold outside 1..M, or a key given twice (which would let one party
// count twice).
func (p Policy) Check() error {
	if len(p.Keys) == 0 {
		return errors.New("no keys given")
	}
	if p.Threshold < 1 {
		return fmt.Errorf("threshold %d: must be at least 1", p.Threshold)
	}
	if p.Threshold > len(p.Keys) {
		return fmt.Errorf("threshold %d is greater than the %d keys given: it can never be met", p.Threshold, len(p.Keys))
	}
	for i, k := range p.Keys {
		for _, first := range p.Keys[:i] {
			switch {
			case k.Fingerprint == first.Fingerprint:
				return fmt.Errorf("key %s duplicates key %s (%s): each key must be a distinct signer", k.Name, first.Name, k.Fingerprint)
			case k.SameSigner(first):
				return fmt.Errorf("key %s has the same RSA modulus as key %s: whoever holds one holds both, so they are one signer", k.Name, first.Name)
			}
		}
	}
	return nil
}

// Report is the outcome of Verify, for printing.
type Report struct {
	// Image is the reference as given.
	Image string
	// Tag is set when the image was given by tag: the tag that was
	// resolved to Digest.
	Tag string
	// Digest is the verified manifest digest.
	Digest name.Digest
	// SignatureTag is where the signatures were read.
	SignatureTag string
	// Signatures is the number of signature layers found.
	Signatures int
	// Matched holds the keys with a valid signature over Digest, in the
	// order given.
	Matched []*PublicKey
	// Unmatched holds the other keys.
	Unmatched []*PublicKey
	// Problems lists signatures that did not count, and why.
	Problems []string
	// SignedElsewhere maps other digests of the repository to the given keys
	// that signed them; filled only when a tag failed, to show it moved.
	SignedElsewhere map[string][]string
	Threshold       int
}

// Passed reports whether the threshold was met.
func (r *Report) Passed() bool { return len(r.Matched) >= r.Threshold }

// ThresholdError is returned when fewer than Threshold keys signed.
type ThresholdError struct{ Report *Report }

func (e *ThresholdError) Error() string {
	r := e.Report
	msg := fmt.Sprintf("%d of %d keys signed %s, threshold %d", len(r.Matched), len(r.Matched)+len(r.Unmatched), r.Digest.DigestStr(), r.Threshold)
	if r.Tag != "" && len(r.SignedElsewhere) > 0 {
		others := make([]string, 0, len(r.SignedElsewhere))
		for d := range r.SignedElsewhere {
			others = append(others, d)
		}
		sort.Strings(others)
		msg += fmt.Sprintf("; tag %s has moved since signing: it now points to %s, the given keys signed %s",
			r.Tag, r.Digest.DigestStr(), strings.Join(others, ", "))
	}
	return msg
}

// Verify resolves image (a tag is resolved to the digest it points to now)
// and checks that at least p.Threshold distinct keys of p.Keys produced a
// valid signature over exactly that digest. It fails closed: any registry
// error is an error, and a signature counts only when it verifies under a
// given key AND its payload names the digest.
func Verify(ctx context.Context, image string, p Policy, opts ...remote.Option) (*Report, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	opts = withLimits(ctx, opts)
	ref, err := name.ParseReference(image)
	if err != nil {
		return nil, err
	}
	r := &Report{Image: image, Threshold: p.Threshold}
	switch v := ref.(type) {
	case name.Digest:
		if _, err := remote.Head(v, opts...); err != nil {
			return nil, registryError("looking up", v, err)
		}
		r.Digest = v
	case name.Tag:
		desc, err := remote.Head(v, opts...)
		if err != nil {
			return nil, registryError("resolving the tag", v, err)
		}
		r.Tag = v.String()
		r.Digest = v.Context().Digest(desc.Digest.String())
	default:
		return nil, fmt.Errorf("%s: unsupported reference", image)
	}

	img, tag, err := fetchSignatures(r.Digest, opts)
	if err != nil {
		return nil, err
	}
	r.SignatureTag = tag.String()
	matched := map[string]bool{}
	if img != nil {
		sigs, err := readSignatures(img)
		if err != nil {
			return nil, err
		}
		r.Signatures = len(sigs)
		for _, s := range sigs {
			if s.err != nil {
				r.Problems = append(r.Problems, fmt.Sprintf("signature %d: %v", s.index, s.err))
				continue
			}
			k := signerOf(p.Keys, s)
			if k == nil {
				r.Problems = append(r.Problems, fmt.Sprintf(
					"signature %d: does not verify under any given key (payload altered, or signed by another key)", s.index))
				continue
			}
			pl, err := parsePayload(s.payload)
			if err != nil {
				r.Problems = append(r.Problems, fmt.Sprintf("signature %d by %s: %v", s.index, k.Name, err))
				continue
			}
			if got := pl.Critical.Image.DockerManifestDigest; got != r.Digest.DigestStr() {
				r.Problems = append(r.Problems, fmt.Sprintf(
					"signature %d by %s: signs %s, not %s (a signature moved from another image)", s.index, k.Name, got, r.Digest.DigestStr()))
				continue
			}
			matched[k.signer] = true
		}
	}
	for _, k := range p.Keys {
		if matched[k.signer] {
			r.Matched = append(r.Matched, k)
		} else {
			r.Unmatched = append(r.Unmatched, k)
		}
	}
	if r.Passed() {
		return r, nil
	}
	if r.Tag != "" {
		// Explain a tag that moved: which other digests of the repository
		// did these keys sign? Best effort; the verdict is already "fail".
		r.SignedElsewhere = signedElsewhere(ctx, r.Digest, p.Keys, opts)
	}
	return r, &ThresholdError{Report: r}
}

// signerOf returns the key whose signature s is, or nil.
func signerOf(keys []*PublicKey, s storedSignature) *PublicKey {
	for _, k := range keys {
		if k.verifier.VerifySignature(bytes.NewReader(s.signature), bytes.NewReader(s.payload)) == nil {
			return k
		}
	}
	return nil
}

// signedElsewhere lists the other digests in d's repository that the keys
// signed (their signature tags name them), with the keys that did. It is
// bounded in time (limits.Explain) and in tags scanned: a repository with
// many tags or a slow registry only shortens the explanation.
func signedElsewhere(ctx context.Context, d name.Digest, keys []*PublicKey, opts []remote.Option) map[string][]string {
	ctx, cancel := context.WithTimeout(ctx, limits.Explain)
	defer cancel()
	opts = append(opts, remote.WithContext(ctx))
	tags, err := remote.List(d.Context(), opts...)
	if err != nil {
		return nil
	}
	out := map[string][]string{}
	scanned := 0
	for _, t := range tags {
		if ctx.Err() != nil {
			break
		}
		hexPart, ok := strings.CutSuffix(t, SignatureTagSuffix)
		if !ok || !strings.HasPrefix(hexPart, "sha256-") {
			continue
		}
		other := "sha256:" + strings.TrimPrefix(hexPart, "sha256-")
		if other == d.DigestStr() {
			continue
		}
		if scanned++; scanned > maxScannedSignatureTags {
			break
		}
		img, _, err := fetchSignatures(d.Context().Digest(other), opts)
		if err != nil || img == nil {
			continue
		}
		sigs, err := readSignatures(img)
		if err != nil {
			continue
		}
		var names []string
		for _, s := range sigs {
			if s.err != nil {
				continue
			}
			k := signerOf(keys, s)
			if k == nil {
				continue
			}
			if pl, err := parsePayload(s.payload); err == nil && pl.Critical.Image.DockerManifestDigest == other {
				names = append(names, k.Name)
			}
		}
		if len(names) > 0 {
			sort.Strings(names)
			out[other] = names
		}
	}
	return out
}
