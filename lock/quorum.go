package lock

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/distribution/reference"
)

// DefaultQuorum is how many distinct maintainer keys must have signed a
// digest: StageX publishes a release only with at least two signatures.
const DefaultQuorum = 2

// Policy is what makes a digest trusted: a quorum of distinct keys of the
// keyring signed it, in signatures the lookaside holds.
type Policy struct {
	Keyring   *Keyring
	Lookaside Lookaside // where CheckDigest reads; CheckSignatures needs none
	Quorum    int       // distinct primary keys; 0 means DefaultQuorum
}

func (p Policy) quorum() int {
	if p.Quorum == 0 {
		return DefaultQuorum
	}
	return p.Quorum
}

// Check reports a policy that cannot be applied.
func (p Policy) Check() error {
	switch {
	case p.Keyring == nil || len(p.Keyring.entities) == 0:
		return fmt.Errorf("the keyring holds no key\nhint: %s", KeyringHint)
	case p.Quorum < 0:
		return fmt.Errorf("quorum %d: want a positive number of keys", p.Quorum)
	case p.quorum() > len(p.Keyring.entities):
		return fmt.Errorf("quorum %d, but the keyring holds only %d key(s): the quorum can never be met\nhint: %s",
			p.quorum(), len(p.Keyring.entities), KeyringHint)
	}
	return nil
}

// Signed is the outcome of checking one digest: the primary keys whose
// signatures verified, sorted, and the signatures that were skipped
// because their key is not in the keyring.
type Signed struct {
	Signers []string
	Unknown []string // "<source>: signed by key ID …"
}

// Subject names what is checked: a package's digest for one platform, and
// the repository and version the signatures must name.
type Subject struct {
	Package  string // short name, e.g. core-musl
	Version  string // the version it is locked at: the tag the signatures must name
	Platform string
	Digest   string
	// Identity is the repository the signatures name, normalized, e.g.
	// docker.io/stagex/core-musl; its path is the lookaside folder.
	Identity string
}

func (s Subject) String() string {
	return fmt.Sprintf("%s (%s) %s", s.Package, s.Platform, s.Digest)
}

// CheckDigest fetches a digest's signatures from the lookaside and checks
// them with CheckSignatures.
func (p Policy) CheckDigest(ctx context.Context, s Subject) (*Signed, error) {
	if p.Lookaside == nil {
		return nil, fmt.Errorf("%s: no lookaside given", s)
	}
	repoPath, err := s.RepoPath()
	if err != nil {
		return nil, err
	}
	sigs, err := p.Lookaside.Signatures(ctx, repoPath, s.Digest)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s, err)
	}
	return p.CheckSignatures(s, p.Lookaside.Where(repoPath, s.Digest), sigs)
}

// RepoPath is the lookaside folder prefix of the subject's repository,
// e.g. "stagex/core-musl".
func (s Subject) RepoPath() (string, error) {
	named, err := reference.ParseNormalizedNamed(s.Identity)
	if err != nil {
		return "", fmt.Errorf("%s: invalid signed identity %q: %v", s, s.Identity, err)
	}
	return reference.Path(named), nil
}

// VersionError is a digest whose signatures are sound, by keyring keys,
// for the digest and repository, but name another version (tag) than the
// one it is locked at: it is another version's image. A lock entry whose
// version was bumped without this platform's digest, or that pins an older
// signed digest (a downgrade), fails this way.
type VersionError struct {
	Subject Subject
	Signed  []string // the versions the signatures name, sorted; "" for a reference without tag
	Details []string // one line per signature
}

func (e *VersionError) Error() string {
	signed := make([]string, len(e.Signed))
	for i, v := range e.Signed {
		signed[i] = quoteOr(v, "(no tag)")
	}
	return fmt.Sprintf("%s is signed as version %s of %s, not as %s, the version locked: the digest belongs to another version\n  %s",
		e.Subject, strings.Join(signed, " and "), e.Subject.Identity, e.Subject.Version, strings.Join(e.Details, "\n  "))
}

// Hint says how to mend the lock entry.
func (e *VersionError) Hint() string {
	return fmt.Sprintf("every platform of %s must be a digest of version %s; run stagex lock update (after Renovate: hack/renovate-lock), which resolves every platform of the version again",
		e.Subject.Package, e.Subject.Version)
}

// QuorumError is a digest whose signatures are all sound but too few.
type QuorumError struct {
	Subject Subject
	Signed  Signed
	Quorum  int
}

func (e *QuorumError) Error() string {
	msg := fmt.Sprintf("%s: %d distinct keyring key(s) signed, the quorum is %d", e.Subject, len(e.Signed.Signers), e.Quorum)
	if len(e.Signed.Signers) > 0 {
		msg += " (" + strings.Join(e.Signed.Signers, ", ") + ")"
	}
	for _, u := range e.Signed.Unknown {
		msg += "\n  not counted: " + u
	}
	return msg
}

// CheckSignatures verifies a digest's signatures (where names the
// lookaside entry they came from, for messages). It fails closed: any
// signature that is broken, made by a keyring key but invalid, made twice
// by one key, or for another digest, image or version fails the whole
// digest (another version alone: a *VersionError), even
// when the quorum is met without it, since each of those means the
// lookaside or a signer is not what it should be. A signature by a key
// outside the keyring does not count, and does not fail. Too few good
// signatures is a *QuorumError.
func (p Policy) CheckSignatures(s Subject, where string, sigs []Signature) (*Signed, error) {
	named, err := reference.ParseNormalizedNamed(s.Identity)
	if err != nil {
		return nil, fmt.Errorf("%s: invalid signed identity %q: %v", s, s.Identity, err)
	}
	if s.Version == "" {
		return nil, fmt.Errorf("%s: no version to check the signatures against: StageX signs each digest as <image>:<version>", s)
	}
	if len(sigs) == 0 {
		return nil, fmt.Errorf("%s: no signatures: the lookaside has no %s/signature-1\nhint: check the lookaside, or wait until the release is signed", s, where)
	}
	out := &Signed{}
	firstBy := map[string]string{} // fingerprint -> first signature's source
	var problems []string
	versions := map[string]bool{} // versions named by otherwise sound signatures
	versionOnly := true           // every problem is another version
	for _, sig := range sigs {
		fpr, body, err := p.Keyring.openSignature(sig.Data)
		var unknown *unknownKeyError
		switch {
		case errors.As(err, &unknown):
			out.Unknown = append(out.Unknown, fmt.Sprintf("%s: %v", sig.Source, err))
			continue
		case err != nil:
			problems = append(problems, fmt.Sprintf("%s: %v", sig.Source, err))
			versionOnly = false
			continue
		}
		if err := checkPayload(body, s.Digest, named.Name(), s.Version); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v (signed by %s)", sig.Source, err, fpr))
			var other *versionMismatch
			if errors.As(err, &other) {
				versions[other.signed] = true
			} else {
				versionOnly = false
			}
			continue
		}
		if first, dup := firstBy[fpr]; dup {
			problems = append(problems, fmt.Sprintf("%s: a second signature by %s (first: %s); a key counts once", sig.Source, fpr, first))
			versionOnly = false
			continue
		}
		firstBy[fpr] = sig.Source
		out.Signers = append(out.Signers, fpr)
	}
	sort.Strings(out.Signers)
	// Another version alone, and no signature of the locked one: the digest
	// is another version's, which a lock update mends. With signatures of
	// both, the lookaside contradicts itself, which no lock change mends:
	// that fails as any other unsound signature does.
	if len(problems) > 0 && versionOnly && len(out.Signers) == 0 {
		signed := make([]string, 0, len(versions))
		for v := range versions {
			signed = append(signed, v)
		}
		sort.Strings(signed)
		return nil, &VersionError{Subject: s, Signed: signed, Details: problems}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s: %s", s, strings.Join(problems, "\n  "))
	}
	if len(out.Signers) < p.quorum() {
		return nil, &QuorumError{Subject: s, Signed: *out, Quorum: p.quorum()}
	}
	return out, nil
}
