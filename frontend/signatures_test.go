package frontend

import (
	"context"
	"errors"
	"strings"
	"testing"

	"edp.buildth.ing/devfw-cicd/stagex/lock"
	"edp.buildth.ing/devfw-cicd/stagex/lock/locktest"
	"edp.buildth.ing/devfw-cicd/stagex/spec"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestParseSignatureOptions(t *testing.T) {
	o, err := parseOptions(map[string]string{
		ArgVerifySignatures: "1", ArgLookaside: "https://sigs.example/", ArgSignedIdentity: "docker.io/stagex", ArgQuorum: "3",
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !o.VerifySignatures || o.Lookaside != "https://sigs.example/" || o.SignedIdentity != "docker.io/stagex" || o.Quorum != 3 {
		t.Errorf("options = %+v", o)
	}
	if def, _ := parseOptions(nil, nil); def.VerifySignatures || def.Quorum != lock.DefaultQuorum {
		t.Errorf("defaults = %+v: want the check off, quorum %d", def, lock.DefaultQuorum)
	}
	for _, bad := range []map[string]string{
		{ArgVerifySignatures: "yes please"},
		{ArgQuorum: "0"}, {ArgQuorum: "two"},
		{ArgLookaside: "./signatures"}, // a folder goes in as a build context
	} {
		if _, err := parseOptions(bad, nil); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// fakeSource serves signatures from memory and counts the fetches, the way
// the HTTP lookaside does: first up to n, then one at a time.
type fakeSource struct {
	sigs    [][]byte
	fetched int
}

func (f *fakeSource) where(repoPath, digest string) string {
	return "fake/" + entryDir(repoPath, digest)
}

func (f *fakeSource) first(ctx context.Context, repoPath, digest string, n int) ([]lock.Signature, bool, error) {
	var out []lock.Signature
	for i := 1; i <= n; i++ {
		s, ok := f.next(ctx, repoPath, digest, i)
		if !ok {
			return out, false, nil
		}
		out = append(out, s)
	}
	return out, true, nil
}

func (f *fakeSource) next(_ context.Context, repoPath, digest string, n int) (lock.Signature, bool) {
	if n > len(f.sigs) {
		return lock.Signature{}, false
	}
	f.fetched++
	return lock.Signature{Source: lock.SignaturePath(repoPath, digest, n), Data: f.sigs[n-1]}, true
}

func TestCheckSubjectFetchesOnlyWhatItNeeds(t *testing.T) {
	const d = "sha256:4a756058c3e1afd5104ff86a2c57f71c36fce07b3110dbaf2591371cfc47c799"
	a, b, c := locktest.NewKey(t, "a", false), locktest.NewKey(t, "b", false), locktest.NewKey(t, "c", false)
	policy := lock.Policy{Keyring: locktest.Keyring(t, a, b)}
	s := lock.Subject{Package: "core-musl", Version: "1.2.5", Platform: "linux/amd64", Digest: d, Identity: "docker.io/stagex/core-musl"}
	payload := locktest.Payload("stagex/core-musl:1.2.5", d)
	sa, sb, sc := locktest.Sign(a, payload), locktest.Sign(b, payload), locktest.Sign(c, payload)

	// The lock recorded two signers and the first two files hold them:
	// two fetches, none beyond.
	src := &fakeSource{sigs: [][]byte{sa, sb, sc}}
	if err := checkSubject(context.Background(), policy, src, s, 2); err != nil || src.fetched != 2 {
		t.Errorf("err = %v, fetched %d; want no error after 2 fetches", err, src.fetched)
	}
	// A key outside the keyring comes first: a third fetch completes the
	// quorum.
	src = &fakeSource{sigs: [][]byte{sc, sa, sb}}
	if err := checkSubject(context.Background(), policy, src, s, 2); err != nil || src.fetched != 3 {
		t.Errorf("err = %v, fetched %d; want no error after 3 fetches", err, src.fetched)
	}
	// The list ends short of the quorum: a quorum error naming the digest.
	src = &fakeSource{sigs: [][]byte{sc, sa}}
	err := checkSubject(context.Background(), policy, src, s, 2)
	var short *lock.QuorumError
	if !errors.As(err, &short) || !strings.Contains(err.Error(), "core-musl (linux/amd64) "+d) {
		t.Errorf("err = %v, want a quorum error for the digest", err)
	}
	// A bad signature fails even if the quorum is met by the others.
	src = &fakeSource{sigs: [][]byte{sa, sb, locktest.Sign(a, payload)}}
	if err := checkSubject(context.Background(), policy, src, s, 3); err == nil || !strings.Contains(err.Error(), "a second signature by") {
		t.Errorf("err = %v, want the duplicate key reported", err)
	}
}

func TestVerifySignaturesRefusesImagesOutsideTheLock(t *testing.T) {
	const d = "sha256:4a756058c3e1afd5104ff86a2c57f71c36fce07b3110dbaf2591371cfc47c799"
	r := &request{
		opts: Options{VerifySignatures: true, Quorum: 2},
		spec: &spec.Spec{File: "stagex.yaml"},
		lock: &spec.Lock{Registry: "docker.io/stagex"},
	}
	res := &spec.Resolved{Packages: []spec.Package{{Name: "app", Ref: "registry.example/app@" + d, Digest: d, Pos: spec.Pos{Line: 4, Column: 5}}}}
	p := ocispecs.Platform{OS: "linux", Architecture: "amd64"}
	err := r.verifySignatures(context.Background(), nil, p, res)
	var se *spec.Error
	if !errors.As(err, &se) || se.Pos != (spec.Pos{Line: 4, Column: 5}) || !strings.Contains(se.Msg, "registry.example/app@"+d+" is not pinned through the lock") {
		t.Errorf("err = %v, want a spec error at 4:5", err)
	}
	r.opts.VerifySignatures = false
	if err := r.verifySignatures(context.Background(), nil, p, res); err != nil {
		t.Errorf("with the check off: %v", err)
	}
}

// TestSignatureSubjectsCarryTheLockedVersion: the subjects name the
// repository StageX signed and the version the lock records, so that a
// digest signed as another version (the lock's entry mixes versions, or
// pins an older digest) fails the build; a full reference whose tag is not
// the lock's version is refused at its spec line.
func TestSignatureSubjectsCarryTheLockedVersion(t *testing.T) {
	const d = "sha256:4a756058c3e1afd5104ff86a2c57f71c36fce07b3110dbaf2591371cfc47c799"
	pkg := spec.Package{Name: "core-musl", Ref: "mirror.example/stagex/core-musl@" + d, Digest: d, Version: "1.2.6", FromLock: true, Pos: spec.Pos{Line: 3, Column: 5}}
	subjects, err := signatureSubjects("stagex.yaml", "docker.io/stagex", "linux/amd64", []spec.Package{pkg})
	if err != nil {
		t.Fatal(err)
	}
	want := lock.Subject{Package: "core-musl", Version: "1.2.6", Platform: "linux/amd64", Digest: d, Identity: "docker.io/stagex/core-musl"}
	if len(subjects) != 1 || subjects[0] != want {
		t.Fatalf("subjects = %+v, want [%+v]", subjects, want)
	}

	a, b := locktest.NewKey(t, "a", false), locktest.NewKey(t, "b", false)
	policy := lock.Policy{Keyring: locktest.Keyring(t, a, b)}
	sign := func(ref string) *fakeSource {
		p := locktest.Payload(ref, d)
		return &fakeSource{sigs: [][]byte{locktest.Sign(a, p), locktest.Sign(b, p)}}
	}
	if err := checkSubject(context.Background(), policy, sign("stagex/core-musl:1.2.6"), subjects[0], 2); err != nil {
		t.Errorf("signed as the locked version: %v", err)
	}
	err = checkSubject(context.Background(), policy, sign("stagex/core-musl:1.2.5"), subjects[0], 2)
	var other *lock.VersionError
	if !errors.As(err, &other) || !strings.Contains(err.Error(), "core-musl (linux/amd64) "+d+" is signed as version 1.2.5 of docker.io/stagex/core-musl, not as 1.2.6") {
		t.Errorf("signed as 1.2.5: err = %v, want a version error", err)
	}
	t.Logf("error (as expected): %v", err)
	err = checkSubject(context.Background(), policy, sign("stagex/core-busybox:1.2.6"), subjects[0], 2)
	if err == nil || !strings.Contains(err.Error(), "signature is for another image: docker.io/stagex/core-busybox, want docker.io/stagex/core-musl") {
		t.Errorf("signed as another repository: err = %v", err)
	}

	// A lock entry without a version cannot be matched to a signature.
	unversioned := subjects[0]
	unversioned.Version = ""
	if err := checkSubject(context.Background(), policy, sign("stagex/core-musl:1.2.6"), unversioned, 2); err == nil || !strings.Contains(err.Error(), "no version to check the signatures against") {
		t.Errorf("no version locked: err = %v", err)
	}

	// A written tag must be the lock's version.
	tagged := pkg
	tagged.Ref = "docker.io/stagex/core-musl:1.2.5@" + d
	_, err = signatureSubjects("stagex.yaml", "docker.io/stagex", "linux/amd64", []spec.Package{tagged})
	var se *spec.Error
	if !errors.As(err, &se) || se.Pos != pkg.Pos || !strings.Contains(se.Msg, "names tag 1.2.5, and the lock pins "+d+" as version 1.2.6 of core-musl") {
		t.Errorf("err = %v, want a spec error at 3:5", err)
	}
	t.Logf("error (as expected): %v", err)
	tagged.Ref = "docker.io/stagex/core-musl:1.2.6@" + d
	if _, err := signatureSubjects("stagex.yaml", "docker.io/stagex", "linux/amd64", []spec.Package{tagged}); err != nil {
		t.Errorf("the lock's version as the tag: %v", err)
	}
}
