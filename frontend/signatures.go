package frontend

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"
	"sync"

	"edp.buildth.ing/devfw-cicd/stagex/lock"
	"edp.buildth.ing/devfw-cicd/stagex/spec"
	"github.com/containerd/platforms"
	"github.com/distribution/reference"
	bkllb "github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/frontend/gateway/client"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// The named build contexts the signature check reads.
const (
	// ContextKeyring holds the maintainers' public keys: a folder of key
	// files (what stagex lock --keyring takes).
	ContextKeyring = "stagex-keyring"
	// ContextSignatures holds a copy of the lookaside, for air-gapped
	// builds: stagex/<image>@sha256=<hex>/signature-N.
	ContextSignatures = "stagex-signatures"
)

// signatureCheck is the build-time quorum check (STAGEX_VERIFY_SIGNATURES),
// shared by the platforms of one build: the keyring is read once.
type signatureCheck struct {
	once    sync.Once
	keyring *lock.Keyring
	err     error
}

func (sc *signatureCheck) loadKeyring(ctx context.Context, r *request, c client.Client) (*lock.Keyring, error) {
	sc.once.Do(func() { sc.keyring, sc.err = readKeyring(ctx, r, c) })
	return sc.keyring, sc.err
}

// verifySignatures requires a quorum of maintainer signatures on every
// image the composition pulls, before anything is composed. Only images
// pinned through the lock can be checked; any other is refused, since the
// check was asked for and an unchecked image would be silently trusted.
func (r *request) verifySignatures(ctx context.Context, c client.Client, p ocispecs.Platform, res *spec.Resolved) error {
	if !r.opts.VerifySignatures {
		return nil
	}
	prefix := r.opts.SignedIdentity
	if prefix == "" {
		prefix = r.lock.Registry // a STAGEX_REGISTRY mirror serves what StageX signed under this name
	}
	var pkgs []spec.Package
	if res.Base != nil {
		pkgs = append(pkgs, *res.Base)
	}
	pkgs = append(pkgs, res.Packages...)
	subjects, err := signatureSubjects(r.spec.File, prefix, platforms.Format(p), pkgs)
	if err != nil {
		return err
	}
	keyring, err := r.sigCheck.loadKeyring(ctx, r, c)
	if err != nil {
		return err
	}
	policy := lock.Policy{Keyring: keyring, Quorum: r.opts.Quorum}
	src, err := r.signatureSource(ctx, c, subjects)
	if err != nil {
		return err
	}
	var problems []string
	for _, s := range subjects {
		err := checkSubject(ctx, policy, src, s, len(r.lock.Packages[s.Package].Signers[s.Platform]))
		var other *lock.VersionError
		if errors.As(err, &other) {
			// The lock's entry is at fault: locate it there.
			err = spec.Errorf(r.lock.File, lock.DigestPos(r.lock, s.Package, s.Platform), other.Hint(), "%v", err)
		}
		if err != nil {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s=1: signature check failed, nothing composed:\n%s", ArgVerifySignatures, strings.Join(problems, "\n"))
	}
	return nil
}

// signatureSubjects is what the signatures of each package must name: the
// repository <prefix>/<name> (where StageX signed it, whichever registry
// the digest is pulled from) and the version the lock records, the tag
// StageX signs. A package not pinned through the lock is refused, and so is
// a full reference whose written tag is not the lock's version for its
// digest: the signatures vouch for one version, and the spec would claim
// another.
func signatureSubjects(file, prefix, platform string, pkgs []spec.Package) ([]lock.Subject, error) {
	var subjects []lock.Subject
	for _, pkg := range pkgs {
		if !pkg.FromLock || pkg.Digest == "" {
			return nil, &spec.Error{File: file, Pos: pkg.Pos, Msg: fmt.Sprintf("%s=1, but %s is not pinned through the lock, so its signatures cannot be checked", ArgVerifySignatures, pkg.Ref),
				Hint: "name it by its short name from the lock, or build without " + ArgVerifySignatures}
		}
		if named, err := reference.ParseNormalizedNamed(pkg.Ref); err == nil {
			if tagged, ok := named.(reference.Tagged); ok && tagged.Tag() != pkg.Version {
				locked := pkg.Version
				if locked == "" {
					locked = "(none)"
				}
				return nil, &spec.Error{File: file, Pos: pkg.Pos,
					Msg:  fmt.Sprintf("%s=1, but %s names tag %s, and the lock pins %s as version %s of %s: the signatures name one version", ArgVerifySignatures, pkg.Ref, tagged.Tag(), pkg.Digest, locked, pkg.Name),
					Hint: "write the lock's version as the tag, or name the package by its short name"}
			}
		}
		subjects = append(subjects, lock.Subject{Package: pkg.Name, Version: pkg.Version, Platform: platform, Digest: pkg.Digest, Identity: lock.SignedIdentity(prefix, pkg.Name)})
	}
	return subjects, nil
}

// checkSubject fetches a digest's signatures and checks them. From a
// named context it reads them all. Over HTTP a missing file can only be
// told from a failed fetch by trying it, so it first fetches as many as
// the lock recorded signers (at least the quorum) and fetches more one at
// a time only while the quorum is not met. A failed fetch ends the list:
// that can only lower the count, so it can fail a build, never pass one.
func checkSubject(ctx context.Context, policy lock.Policy, src signatureSource, s lock.Subject, recorded int) error {
	repoPath, err := s.RepoPath()
	if err != nil {
		return err
	}
	where := src.where(repoPath, s.Digest)
	sigs, more, err := src.first(ctx, repoPath, s.Digest, max(recorded, policy.Quorum))
	if err != nil {
		return fmt.Errorf("%s: %w", s, err)
	}
	for {
		_, err := policy.CheckSignatures(s, where, sigs)
		var short *lock.QuorumError
		if err == nil || !errors.As(err, &short) || !more {
			return err
		}
		sig, ok := src.next(ctx, repoPath, s.Digest, len(sigs)+1)
		if !ok {
			return err
		}
		sigs = append(sigs, sig)
	}
}

// signatureSource is where the build reads signatures from.
type signatureSource interface {
	// first returns the first signatures (up to n, or all), and whether
	// more may follow.
	first(ctx context.Context, repoPath, digest string, n int) ([]lock.Signature, bool, error)
	// next fetches signature-n; false when there is none.
	next(ctx context.Context, repoPath, digest string, n int) (lock.Signature, bool)
	where(repoPath, digest string) string
}

// signatureSource picks the lookaside: the URL build arg or the named
// context, exactly one of them.
func (r *request) signatureSource(ctx context.Context, c client.Client, subjects []lock.Subject) (signatureSource, error) {
	nc, err := r.bc.NamedContext(ContextSignatures, dockerui.ContextOpt{AsyncLocalOpts: func() []bkllb.LocalOption {
		// Send only the folders of the digests checked, not the whole
		// signatures repository.
		var dirs []string
		for _, s := range subjects {
			if repoPath, err := s.RepoPath(); err == nil {
				dirs = append(dirs, entryDir(repoPath, s.Digest))
			}
		}
		return []bkllb.LocalOption{bkllb.FollowPaths(dirs)}
	}})
	if err != nil {
		return nil, err
	}
	switch {
	case nc != nil && r.opts.Lookaside != "":
		return nil, fmt.Errorf("%s=1: both build arg %s and build context %s are given: pass one lookaside", ArgVerifySignatures, ArgLookaside, ContextSignatures)
	case r.opts.Lookaside != "":
		return &httpSignatures{c: c, base: strings.TrimSuffix(r.opts.Lookaside, "/")}, nil
	case nc == nil:
		return nil, fmt.Errorf("%s=1 needs the signatures: build arg %s=<https lookaside URL>, or build context %s=<folder> (docs/lock.md)", ArgVerifySignatures, ArgLookaside, ContextSignatures)
	}
	ref, err := solveNamedContext(ctx, c, nc)
	if err != nil {
		return nil, err
	}
	return &contextSignatures{ref: ref}, nil
}

// solveNamedContext solves a named context to read files from it.
func solveNamedContext(ctx context.Context, c client.Client, nc *dockerui.NamedContext) (client.Reference, error) {
	st, _, err := nc.Load(ctx)
	if err != nil {
		return nil, err
	}
	return solveRef(ctx, c, *st)
}

// entryDir is a digest's folder in the lookaside.
func entryDir(repoPath, digest string) string {
	return path.Dir(lock.SignaturePath(repoPath, digest, 1))
}

// contextSignatures reads a lookaside copy passed as a named context.
type contextSignatures struct{ ref client.Reference }

func (cs *contextSignatures) where(repoPath, digest string) string {
	return "build context " + ContextSignatures + ": " + entryDir(repoPath, digest)
}

// first reads every signature-N of the digest's folder in order, up to
// the first gap; a folder that cannot be listed has none.
func (cs *contextSignatures) first(ctx context.Context, repoPath, digest string, _ int) ([]lock.Signature, bool, error) {
	entries, err := cs.ref.ReadDir(ctx, client.ReadDirRequest{Path: entryDir(repoPath, digest)})
	if err != nil {
		return nil, false, nil
	}
	present := map[string]bool{}
	for _, e := range entries {
		present[e.GetPath()] = true
	}
	var sigs []lock.Signature
	for n := 1; ; n++ {
		p := lock.SignaturePath(repoPath, digest, n)
		if !present[path.Base(p)] {
			return sigs, false, nil
		}
		data, err := cs.ref.ReadFile(ctx, client.ReadRequest{Filename: p})
		if err != nil {
			return nil, false, fmt.Errorf("build context %s: %s: %w", ContextSignatures, p, err)
		}
		sigs = append(sigs, lock.Signature{Source: ContextSignatures + ":" + p, Data: data})
	}
}

func (cs *contextSignatures) next(context.Context, string, string, int) (lock.Signature, bool) {
	return lock.Signature{}, false
}

// httpSignatures fetches signatures from the lookaside URL with llb.HTTP,
// so that BuildKit's source handling (proxies, cache) applies.
type httpSignatures struct {
	c    client.Client
	base string
}

func (hs *httpSignatures) where(repoPath, digest string) string {
	return hs.base + "/" + entryDir(repoPath, digest)
}

func (hs *httpSignatures) first(ctx context.Context, repoPath, digest string, n int) ([]lock.Signature, bool, error) {
	var sigs []lock.Signature
	for i := 1; i <= n; i++ {
		sig, ok := hs.next(ctx, repoPath, digest, i)
		if !ok {
			return sigs, false, nil
		}
		sigs = append(sigs, sig)
	}
	return sigs, true, nil
}

func (hs *httpSignatures) next(ctx context.Context, repoPath, digest string, n int) (lock.Signature, bool) {
	u := hs.base + "/" + lock.SignaturePath(repoPath, digest, n)
	st := bkllb.HTTP(u, bkllb.Filename("signature"), dockerui.WithInternalName("fetch signature "+lock.SignaturePath(repoPath, digest, n)))
	ref, err := solveRef(ctx, hs.c, st)
	if err != nil {
		return lock.Signature{}, false
	}
	data, err := ref.ReadFile(ctx, client.ReadRequest{Filename: "signature"})
	if err != nil {
		return lock.Signature{}, false
	}
	return lock.Signature{Source: u, Data: data}, true
}

// readKeyring reads the keyring from its named context: every regular
// file at the context's top.
func readKeyring(ctx context.Context, r *request, c client.Client) (*lock.Keyring, error) {
	nc, err := r.bc.NamedContext(ContextKeyring, dockerui.ContextOpt{})
	if err != nil {
		return nil, err
	}
	if nc == nil {
		return nil, fmt.Errorf("%s=1 needs the maintainers' keyring as build context %s (a folder of OpenPGP public key files)\nhint: %s", ArgVerifySignatures, ContextKeyring, lock.KeyringHint)
	}
	ref, err := solveNamedContext(ctx, c, nc)
	if err != nil {
		return nil, err
	}
	entries, err := ref.ReadDir(ctx, client.ReadDirRequest{Path: "/"})
	if err != nil {
		return nil, fmt.Errorf("build context %s: %w", ContextKeyring, err)
	}
	var files []lock.KeyFile
	for _, e := range entries {
		name := e.GetPath()
		if !os.FileMode(e.GetMode()).IsRegular() || strings.HasPrefix(name, ".") {
			continue
		}
		data, err := ref.ReadFile(ctx, client.ReadRequest{Filename: name})
		if err != nil {
			return nil, fmt.Errorf("build context %s: %s: %w", ContextKeyring, name, err)
		}
		files = append(files, lock.KeyFile{Name: ContextKeyring + ":" + name, Data: data})
	}
	slices.SortFunc(files, func(a, b lock.KeyFile) int { return strings.Compare(a.Name, b.Name) })
	keyring, err := lock.ParseKeyring(files)
	if err != nil {
		return nil, err
	}
	if err := (lock.Policy{Keyring: keyring, Quorum: r.opts.Quorum}).Check(); err != nil {
		return nil, err
	}
	return keyring, nil
}
