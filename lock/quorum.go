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
	Lookaside Lookaside
	Quorum    int // distinct primary keys; 0 means DefaultQuorum
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
	case p.Lookaside == nil:
		return fmt.Errorf("no lookaside given")
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
// the repository the signatures must name.
type Subject struct {
	Package  string // short name, e.g. core-musl
	Platform string
	Digest   string
	// Identity is the repository the signatures name, normalized, e.g.
	// docker.io/stagex/core-musl; its path is the lookaside folder.
	Identity string
}

func (s Subject) String() string {
	return fmt.Sprintf("%s (%s) %s", s.Package, s.Platform, s.Digest)
}

// CheckDigest fetches a digest's signatures and verifies them. It fails
// closed: any signature that is broken, made by a keyring key but invalid,
// made twice by one key, or for another digest or image fails the whole
// digest, even when the quorum is met without it, since each of those
// means the lookaside or a signer is not what it should be. A signature by
// a key outside the keyring does not count, and does not fail.
func (p Policy) CheckDigest(ctx context.Context, s Subject) (*Signed, error) {
	named, err := reference.ParseNormalizedNamed(s.Identity)
	if err != nil {
		return nil, fmt.Errorf("%s: invalid signed identity %q: %v", s, s.Identity, err)
	}
	repoPath := reference.Path(named)
	sigs, err := p.Lookaside.Signatures(ctx, repoPath, s.Digest)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s, err)
	}
	if len(sigs) == 0 {
		return nil, fmt.Errorf("%s: no signatures: the lookaside has no %s\nhint: check --lookaside, or wait until the release is signed", s, p.Lookaside.Where(repoPath, s.Digest)+"/signature-1")
	}
	out := &Signed{}
	firstBy := map[string]string{} // fingerprint -> first signature's source
	var problems []string
	for _, sig := range sigs {
		fpr, body, err := p.Keyring.openSignature(sig.Data)
		var unknown *unknownKeyError
		switch {
		case errors.As(err, &unknown):
			out.Unknown = append(out.Unknown, fmt.Sprintf("%s: %v", sig.Source, err))
			continue
		case err != nil:
			problems = append(problems, fmt.Sprintf("%s: %v", sig.Source, err))
			continue
		}
		if err := checkPayload(body, s.Digest, named.Name()); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v (signed by %s)", sig.Source, err, fpr))
			continue
		}
		if first, dup := firstBy[fpr]; dup {
			problems = append(problems, fmt.Sprintf("%s: a second signature by %s (first: %s); a key counts once", sig.Source, fpr, first))
			continue
		}
		firstBy[fpr] = sig.Source
		out.Signers = append(out.Signers, fpr)
	}
	sort.Strings(out.Signers)
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s: %s", s, strings.Join(problems, "\n  "))
	}
	if len(out.Signers) < p.quorum() {
		msg := fmt.Sprintf("%s: %d distinct keyring key(s) signed, the quorum is %d", s, len(out.Signers), p.quorum())
		if len(out.Signers) > 0 {
			msg += " (" + strings.Join(out.Signers, ", ") + ")"
		}
		for _, u := range out.Unknown {
			msg += "\n  not counted: " + u
		}
		return nil, errors.New(msg)
	}
	return out, nil
}
