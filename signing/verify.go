package signing

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
)

// maxScannedSignatureTags bounds the search for where a moved tag's
// signatures went (only done to explain a failure).
const maxScannedSignatureTags = 200

// Policy is what Verify demands: at least Threshold distinct signers of
// the M given, each a key or a certificate identity.
type Policy struct {
	Threshold int
	Keys      []*PublicKey
	// Identities are keyless signers; they need TrustedRoot.
	Identities []*Identity
	// TrustedRoot holds the certificate authorities identity certificates
	// must chain to, and the logs and timestamp authorities whose evidence
	// counts (a Sigstore trusted_root.json).
	TrustedRoot root.TrustedMaterial
	// IgnoreTlog drops the transparency-log requirement for identity
	// signatures: certificates are then checked at the current time, not
	// at a logged signing time. Only for offline use; keys never need a log.
	IgnoreTlog bool
}

// Signer is one of a Policy's M parties.
type Signer struct {
	Key      *PublicKey // set for a key
	Identity *Identity  // set for a certificate identity
}

// Name says which signer this is: the key's file, or the identity.
func (s Signer) Name() string {
	if s.Key != nil {
		return s.Key.Name
	}
	return s.Identity.String()
}

// Detail is the key's fingerprint, or the kind of identity.
func (s Signer) Detail() string {
	if s.Key != nil {
		return s.Key.Fingerprint
	}
	return "certificate identity"
}

// noun names the signers in messages: "keys" when they all are.
func (p Policy) noun() string {
	if len(p.Identities) == 0 {
		return "keys"
	}
	return "signers"
}

// Signers lists the keys, then the identities, in the order given.
func (p Policy) Signers() []Signer {
	out := make([]Signer, 0, len(p.Keys)+len(p.Identities))
	for _, k := range p.Keys {
		out = append(out, Signer{Key: k})
	}
	for _, id := range p.Identities {
		out = append(out, Signer{Identity: id})
	}
	return out
}

// Check refuses a policy that cannot mean what it says: no signers, a
// threshold outside 1..M, a key or identity given twice (which would let
// one party count twice), or identities without a trusted root.
func (p Policy) Check() error {
	m := len(p.Keys) + len(p.Identities)
	if m == 0 {
		return errors.New("no keys or identities given")
	}
	if p.Threshold < 1 {
		return fmt.Errorf("threshold %d: must be at least 1", p.Threshold)
	}
	if p.Threshold > m {
		return fmt.Errorf("threshold %d is greater than the %d %s given: it can never be met", p.Threshold, m, p.noun())
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
	if err := distinctIdentities(p.Identities); err != nil {
		return err
	}
	if len(p.Identities) > 0 && p.TrustedRoot == nil {
		return errors.New("identities need a trusted root (--trusted-root trusted_root.json) to check their certificates against")
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
	// SignatureTag is where the legacy signatures were read.
	SignatureTag string
	// Signatures is the number of legacy signature layers found.
	Signatures int
	// Bundles is the number of Sigstore signature bundles found among the
	// digest's referrers.
	Bundles int
	// Matched holds the signers with a valid signature over Digest, in
	// either format, in the order given; each counts once.
	Matched []Signer
	// Unmatched holds the other signers.
	Unmatched []Signer
	// Problems lists signatures that did not count, and why.
	Problems []string
	// SignedElsewhere maps other digests of the repository to the given keys
	// that signed them; filled only when a tag failed, to show it moved.
	SignedElsewhere map[string][]string
	Threshold       int
	noun            string
}

// Passed reports whether the threshold was met.
func (r *Report) Passed() bool { return len(r.Matched) >= r.Threshold }

// ThresholdError is returned when fewer than Threshold signers signed.
type ThresholdError struct{ Report *Report }

func (e *ThresholdError) Error() string {
	r := e.Report
	msg := fmt.Sprintf("%d of %d %s signed %s, threshold %d", len(r.Matched), len(r.Matched)+len(r.Unmatched), r.noun, r.Digest.DigestStr(), r.Threshold)
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
// and checks that at least p.Threshold distinct signers of p produced a
// valid signature over exactly that digest: legacy signatures in the .sig
// tag (keys only) and Sigstore bundles among the digest's referrers (keys
// and identities) both count, each signer once. It fails closed: any
// registry error is an error, and a signature counts only when it verifies
// under a given signer AND names the digest.
func Verify(ctx context.Context, image string, p Policy, opts ...remote.Option) (*Report, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	opts = withLimits(ctx, opts)
	ref, err := name.ParseReference(image)
	if err != nil {
		return nil, err
	}
	r := &Report{Image: image, Threshold: p.Threshold, noun: p.noun()}
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

	signers := p.Signers()
	matched := make([]bool, len(signers))
	if err := p.checkLegacy(r, signers, matched, opts); err != nil {
		return nil, err
	}
	bundles, err := fetchBundles(r.Digest, SignPredicateType, maxPayloadSize, opts)
	if err != nil {
		return nil, err
	}
	r.Bundles = len(bundles)
	for i, b := range bundles {
		if b.err != nil {
			r.Problems = append(r.Problems, fmt.Sprintf("bundle %d (%s): %v", i+1, b.manifest, b.err))
			continue
		}
		j, _, err := p.bundleSigner(b.bundle, r.Digest, SignPredicateType, signers)
		if err != nil {
			r.Problems = append(r.Problems, fmt.Sprintf("bundle %d (%s): %v", i+1, b.manifest, err))
			continue
		}
		matched[j] = true
	}
	for i, s := range signers {
		if matched[i] {
			r.Matched = append(r.Matched, s)
		} else {
			r.Unmatched = append(r.Unmatched, s)
		}
	}
	if r.Passed() {
		return r, nil
	}
	if r.Tag != "" && len(p.Keys) > 0 {
		// Explain a tag that moved: which other digests of the repository
		// did these keys sign? Best effort; the verdict is already "fail".
		r.SignedElsewhere = signedElsewhere(ctx, r.Digest, p.Keys, opts)
	}
	return r, &ThresholdError{Report: r}
}

// checkLegacy counts the legacy signatures of r.Digest into matched.
func (p Policy) checkLegacy(r *Report, signers []Signer, matched []bool, opts []remote.Option) error {
	img, tag, err := fetchSignatures(r.Digest, opts)
	if err != nil {
		return err
	}
	r.SignatureTag = tag.String()
	if img == nil {
		return nil
	}
	sigs, err := readSignatures(img)
	if err != nil {
		return err
	}
	r.Signatures = len(sigs)
	for _, s := range sigs {
		if s.err != nil {
			r.Problems = append(r.Problems, fmt.Sprintf("signature %d: %v", s.index, s.err))
			continue
		}
		k := signerOf(p.Keys, s)
		switch {
		case k == nil && s.keyless:
			r.Problems = append(r.Problems, fmt.Sprintf(
				"signature %d: a keyless signature in the legacy format: identities count in Sigstore bundles only (cosign v3's default format)", s.index))
			continue
		case k == nil:
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
		for i, sg := range signers {
			if sg.Key != nil && sg.Key.signer == k.signer {
				matched[i] = true
			}
		}
	}
	return nil
}

// bundleSigner returns the index in signers of the signer whose valid
// signature b is, over a statement of predicateType about d, with the
// verified statement. A bundle with a public key is tried against the keys,
// one with a certificate against the identities.
func (p Policy) bundleSigner(b *sgbundle.Bundle, d name.Digest, predicateType string, signers []Signer) (int, *verify.VerificationResult, error) {
	digest, err := sha256Bytes(d)
	if err != nil {
		return 0, nil, err
	}
	vc, err := b.VerificationContent()
	if err != nil {
		return 0, nil, err
	}
	withCert := vc.Certificate() != nil
	var firstErr error
	for i, s := range signers {
		var (
			res *verify.VerificationResult
			err error
		)
		switch {
		case s.Key != nil && !withCert:
			res, err = verifyWithKey(b, s.Key, digest)
		case s.Identity != nil && withCert:
			res, err = p.verifyWithIdentity(b, s.Identity, digest)
			if err != nil && !isIdentityMismatch(err) && firstErr == nil {
				firstErr = fmt.Errorf("%s: %w%s", certificateSummary(vc), err, p.explainChain(vc))
			}
		default:
			continue
		}
		if err != nil {
			continue
		}
		if res.Statement == nil || res.Statement.GetPredicateType() != predicateType {
			return 0, nil, fmt.Errorf("signed by %s, but the statement's predicate is %q, not %q", s.Name(), res.Statement.GetPredicateType(), predicateType)
		}
		return i, res, nil
	}
	switch {
	case firstErr != nil:
		return 0, nil, firstErr
	case withCert:
		return 0, nil, fmt.Errorf("%s matches no given identity (or does not sign %s)", certificateSummary(vc), d.DigestStr())
	}
	return 0, nil, fmt.Errorf("does not verify under any given key over %s (statement altered, another digest, or another key)", d.DigestStr())
}

// explainChain says why a certificate failed when it is checked at the
// current time (IgnoreTlog): sigstore-go reports only that it failed.
func (p Policy) explainChain(vc verify.VerificationContent) string {
	c := vc.Certificate()
	if !p.IgnoreTlog || c == nil {
		return ""
	}
	now := time.Now()
	switch {
	case now.After(c.NotAfter):
		return fmt.Sprintf(" (the certificate expired at %s)", c.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(c.NotBefore):
		return fmt.Sprintf(" (the certificate is valid only from %s)", c.NotBefore.UTC().Format(time.RFC3339))
	}
	var errs []string
	for _, ca := range p.TrustedRoot.FulcioCertificateAuthorities() {
		if _, err := ca.Verify(c, now); err != nil {
			errs = append(errs, err.Error())
		} else {
			return ""
		}
	}
	return " (" + strings.Join(errs, "; ") + ")"
}

// sha256Bytes is the raw SHA-256 of a digest reference.
func sha256Bytes(d name.Digest) ([]byte, error) {
	h, ok := strings.CutPrefix(d.DigestStr(), "sha256:")
	b, err := hex.DecodeString(h)
	if !ok || err != nil || len(b) != 32 {
		return nil, fmt.Errorf("digest %s is not a sha256 digest", d.DigestStr())
	}
	return b, nil
}

// verifyWithKey checks a key-based bundle: the key is the trust, so no
// timestamp or log is needed.
func verifyWithKey(b *sgbundle.Bundle, k *PublicKey, digest []byte) (*verify.VerificationResult, error) {
	tm := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) {
		return root.NewExpiringKey(k.verifier, time.Time{}, time.Time{}), nil
	})
	v, err := verify.NewVerifier(tm, verify.WithNoObserverTimestamps())
	if err != nil {
		return nil, err
	}
	return v.Verify(b, verify.NewPolicy(verify.WithArtifactDigest("sha256", digest), verify.WithKey()))
}

// verifyWithIdentity checks a certificate bundle against the trusted root
// and the identity. With the transparency log required (the default) the
// certificate must have been valid when the log saw the signature, and
// carry a certificate timestamp when the root lists CT logs; without it,
// the certificate must be valid now.
func (p Policy) verifyWithIdentity(b *sgbundle.Bundle, id *Identity, digest []byte) (*verify.VerificationResult, error) {
	var opts []verify.VerifierOption
	if p.IgnoreTlog {
		opts = append(opts, verify.WithCurrentTime())
	} else {
		opts = append(opts, verify.WithTransparencyLog(1), verify.WithObserverTimestamps(1))
		if len(p.TrustedRoot.CTLogs()) > 0 {
			opts = append(opts, verify.WithSignedCertificateTimestamps(1))
		}
	}
	v, err := verify.NewVerifier(p.TrustedRoot, opts...)
	if err != nil {
		return nil, err
	}
	return v.Verify(b, verify.NewPolicy(verify.WithArtifactDigest("sha256", digest), verify.WithCertificateIdentity(id.id)))
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
