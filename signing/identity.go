package signing

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
)

// Identity is a keyless signer: whoever holds a certificate, chained to
// the policy's trusted root, whose subject (the SAN: an e-mail, a workflow
// URI) and OIDC issuer (the Fulcio issuer extension) match.
type Identity struct {
	// Subject and Issuer are exact values, or, when Regexp is set, regular
	// expressions that must match the whole value (they are anchored).
	Subject, Issuer string
	Regexp          bool
	id              verify.CertificateIdentity
}

// ParseIdentity reads SUBJECT@ISSUER (split at the last "@": a subject may
// hold one, an issuer URL does not; in a regular expression write \x40 for
// an "@" in the issuer). With regexp set both halves are regular
// expressions, anchored at both ends, unlike cosign's
// --certificate-identity-regexp: "ci@example" must not match
// "evil-ci@example.attacker".
func ParseIdentity(s string, regexp bool) (*Identity, error) {
	i := strings.LastIndex(s, "@")
	if i <= 0 || i == len(s)-1 {
		return nil, fmt.Errorf("identity %q: want SUBJECT@ISSUER, e.g. ci@example.org@https://issuer.example", s)
	}
	if !utf8.ValidString(s) {
		return nil, fmt.Errorf("identity %q is not valid UTF-8", s)
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp) || r == '\uFEFF' {
			return nil, fmt.Errorf("identity %q has the character %U: only printable text is allowed", s, r)
		}
	}
	id := &Identity{Subject: s[:i], Issuer: s[i+1:], Regexp: regexp}
	var err error
	if regexp {
		id.id, err = verify.NewShortCertificateIdentity("", anchored(id.Issuer), "", anchored(id.Subject))
	} else {
		id.id, err = verify.NewShortCertificateIdentity(id.Issuer, "", id.Subject, "")
	}
	if err != nil {
		return nil, fmt.Errorf("identity %q: %w", s, err)
	}
	return id, nil
}

// anchored makes a regular expression match whole values only.
func anchored(re string) string { return "^(?:" + re + ")$" }

// String is the identity as given.
func (i *Identity) String() string {
	if i.Regexp {
		return "regexp " + i.Subject + "@" + i.Issuer
	}
	return i.Subject + "@" + i.Issuer
}

// SubjectPattern and IssuerPattern are the anchored regular expressions of
// a Regexp identity, as matched.
func (i *Identity) SubjectPattern() string { return anchored(i.Subject) }
func (i *Identity) IssuerPattern() string  { return anchored(i.Issuer) }

func (i *Identity) same(o *Identity) bool {
	return i.Regexp == o.Regexp && i.Subject == o.Subject && i.Issuer == o.Issuer
}

// matches reports whether a Regexp identity accepts the exact identity o.
func (i *Identity) matches(o *Identity) bool {
	s, err1 := regexp.Compile(i.SubjectPattern())
	is, err2 := regexp.Compile(i.IssuerPattern())
	return err1 == nil && err2 == nil && s.MatchString(o.Subject) && is.MatchString(o.Issuer)
}

// distinctIdentities refuses identities that one certificate could satisfy
// twice. verify counts a certificate once, but a Kyverno policy checks each
// attestor entry on its own and counts the entries that verify, so two
// entries one certificate meets would let one signer fill two slots. Two
// patterns can overlap in ways that cannot be decided in general, so a
// policy holds at most one; an exact identity may not use the wildcard
// characters some verifiers read as patterns, nor be matched by the pattern.
func distinctIdentities(ids []*Identity) error {
	var pattern *Identity
	for i, id := range ids {
		for _, first := range ids[:i] {
			if id.same(first) {
				return fmt.Errorf("identity %s is given twice: each identity must be a distinct signer", id)
			}
		}
		if !id.Regexp && strings.ContainsAny(id.Subject+id.Issuer, "*?") {
			return fmt.Errorf("identity %s: an exact identity may not contain * or ?, which some verifiers (Kyverno) read as wildcards; use --identity-regexp for a pattern", id)
		}
		if id.Regexp {
			if pattern != nil {
				return fmt.Errorf("identities %s and %s are both patterns: one certificate could match both and count twice at admission; give at most one pattern, or exact identities", pattern, id)
			}
			pattern = id
		}
	}
	for _, id := range ids {
		if pattern != nil && !id.Regexp && pattern.matches(id) {
			return fmt.Errorf("identity %s is matched by the pattern %s: one certificate would count for both", id, pattern)
		}
	}
	return nil
}

// LoadTrustedRoot reads a Sigstore trusted_root.json: the Fulcio CAs that
// keyless certificates chain to, and the transparency logs, CT logs and
// timestamp authorities whose evidence counts.
func LoadTrustedRoot(path string) (*root.TrustedRoot, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("trusted root: %w", err)
	}
	tr, err := root.NewTrustedRootFromJSON(b)
	if err != nil {
		return nil, fmt.Errorf("%s: not a Sigstore trusted root (trusted_root.json, media type application/vnd.dev.sigstore.trustedroot+json): %w", path, err)
	}
	if len(tr.FulcioCertificateAuthorities()) == 0 {
		return nil, fmt.Errorf("%s: the trusted root has no certificate authority: no keyless certificate can chain to it", path)
	}
	return tr, nil
}

// certificateSummary names a certificate's identity for messages.
func certificateSummary(vc verify.VerificationContent) string {
	c := vc.Certificate()
	if c == nil {
		return "a certificate"
	}
	s, err := certificate.SummarizeCertificate(c)
	if err != nil {
		return "a certificate (" + err.Error() + ")"
	}
	return fmt.Sprintf("the certificate of %s issued by %s", s.SubjectAlternativeName, s.Extensions.Issuer)
}

// isIdentityMismatch tells "valid certificate, other identity" from a
// failure of the chain, the time or the logs.
func isIdentityMismatch(err error) bool {
	var e *verify.ErrNoMatchingCertificateIdentity
	return errors.As(err, &e)
}
