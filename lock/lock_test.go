package lock_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	. "edp.buildth.ing/devfw-cicd/stagex/lock"
	"edp.buildth.ing/devfw-cicd/stagex/lock/locktest"
	"edp.buildth.ing/devfw-cicd/stagex/spec"
	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// fixture is a small StageX release on an in-process registry: core-musl
// for amd64 and arm64, core-busybox for amd64 only, keys A and B in the
// keyring (B signs with a subkey) and C outside it.
type fixture struct {
	registry   string
	musl, bbox map[string]string
	a, b, c    *openpgp.Entity
	keyring    *Keyring
	side       *locktest.Lookaside
	rows       []Row
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{registry: locktest.Registry(t)}
	f.musl = locktest.PushPackage(t, f.registry, "core-musl", "1.2.5", "linux/amd64", "linux/arm64")
	f.bbox = locktest.PushPackage(t, f.registry, "core-busybox", "1.37.0", "linux/amd64")
	f.a, f.b, f.c = locktest.NewKey(t, "a", false), locktest.NewKey(t, "b", true), locktest.NewKey(t, "c", false)
	f.keyring = locktest.Keyring(t, f.a, f.b)
	f.side = locktest.NewLookaside(t)
	f.rows = []Row{
		{Name: "core-busybox", Version: "1.37.0", License: "GPL-2.0-only", Source: "core/busybox", Digest: f.bbox["linux/amd64"], Line: 4},
		{Name: "core-musl", Version: "1.2.5", License: "MIT", Source: "core/musl", Line: 5},
	}
	return f
}

// signAll has A and B sign every digest, naming the images as StageX does
// (stagex/<name>:<version>, i.e. docker.io/stagex/...).
func (f *fixture) signAll() {
	for _, d := range f.musl {
		f.side.SignBy("stagex/core-musl:1.2.5", d, f.a, f.b)
	}
	f.side.SignBy("stagex/core-busybox:1.37.0", f.bbox["linux/amd64"], f.a, f.b)
}

// pushNext pushes core-musl 1.2.6 for amd64 and arm64, both signed by A
// and B as 1.2.6, and returns its digests.
func (f *fixture) pushNext(t *testing.T) map[string]string {
	next := locktest.PushPackage(t, f.registry, "core-musl", "1.2.6", "linux/amd64", "linux/arm64")
	for _, d := range next {
		f.side.SignBy("stagex/core-musl:1.2.6", d, f.a, f.b)
	}
	return next
}

func (f *fixture) options(lookasideLoc string) Options {
	side, err := OpenLookaside(lookasideLoc, nil)
	if err != nil {
		panic(err)
	}
	return Options{
		Registry:  f.registry,
		Identity:  "docker.io/stagex",
		Platforms: []string{"linux/amd64", "linux/arm64"},
		Policy:    Policy{Keyring: f.keyring, Lookaside: side},
	}
}

var ctx = context.Background()

func mustOpen(t *testing.T, loc string) Lookaside {
	t.Helper()
	l, err := OpenLookaside(loc, nil)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestBuildQuorumMet(t *testing.T) {
	f := newFixture(t)
	f.signAll()
	for _, loc := range []struct{ name, where string }{{"http", f.side.Serve()}, {"folder", f.side.Dir}} {
		t.Run(loc.name, func(t *testing.T) {
			l, res, err := Build(ctx, f.options(loc.where), "2026.03.0", f.rows)
			if err != nil {
				t.Fatal(err)
			}
			signers := []string{Fingerprint(f.a), Fingerprint(f.b)}
			slices.Sort(signers)
			want := map[string]spec.LockPackage{
				"core-musl": {Version: "1.2.5", License: "MIT", Source: "core/musl", Digests: f.musl,
					Signers: map[string][]string{"linux/amd64": signers, "linux/arm64": signers}},
				"core-busybox": {Version: "1.37.0", License: "GPL-2.0-only", Source: "core/busybox", Digests: f.bbox,
					Signers: map[string][]string{"linux/amd64": signers}},
			}
			if !reflect.DeepEqual(l.Packages, want) {
				t.Errorf("packages = %+v\nwant %+v", l.Packages, want)
			}
			if len(res.Checked) != 3 {
				t.Errorf("checked %d digests, want 3", len(res.Checked))
			}
			if len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "core-busybox:1.37.0: not published for linux/arm64") {
				t.Errorf("notes = %q", res.Notes)
			}
			// The lock written parses back to the same lock, and verifies.
			data, err := l.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			back, err := spec.ParseLock("stagex.lock.yaml", data)
			if err != nil {
				t.Fatalf("%v\n%s", err, data)
			}
			if !reflect.DeepEqual(back.Packages, l.Packages) {
				t.Errorf("round trip changed the packages:\n%s", data)
			}
			if _, err := Verify(ctx, f.options(loc.where), back); err != nil {
				t.Errorf("verify: %v", err)
			}
			// The same release, keys and signatures give the same bytes.
			again, _, err := Build(ctx, f.options(loc.where), "2026.03.0", f.rows)
			if err != nil {
				t.Fatal(err)
			}
			if data2, err := again.Marshal(); err != nil || !bytes.Equal(data, data2) {
				t.Errorf("a second lock differs (%v):\n%s\n---\n%s", err, data, data2)
			}
		})
	}
}

func TestBuildFailsClosed(t *testing.T) {
	for _, tc := range []struct {
		name string
		// sign fills the lookaside; every digest but musl's amd64 one is
		// signed by A and B first.
		sign func(f *fixture, digest string)
		want func(f *fixture) []string
	}{
		{
			name: "one key signed twice",
			sign: func(f *fixture, d string) { f.side.SignBy("stagex/core-musl:1.2.5", d, f.a, f.a) },
			want: func(f *fixture) []string {
				return []string{"core-musl (linux/amd64) " + f.musl["linux/amd64"], "signature-2: a second signature by " + Fingerprint(f.a), "signature-1"}
			},
		},
		{
			name: "a signature of another digest",
			sign: func(f *fixture, d string) {
				f.side.SignBy("stagex/core-musl:1.2.5", d, f.a)
				f.side.Put("stagex/core-musl", d, locktest.Sign(f.b, locktest.Payload("stagex/core-musl:1.2.5", f.musl["linux/arm64"])))
			},
			want: func(f *fixture) []string {
				return []string{"core-musl (linux/amd64) " + f.musl["linux/amd64"], "signature-2: signature is for another digest: " + f.musl["linux/arm64"]}
			},
		},
		{
			name: "a signature of another image",
			sign: func(f *fixture, d string) {
				f.side.SignBy("stagex/core-musl:1.2.5", d, f.a)
				f.side.Put("stagex/core-musl", d, locktest.Sign(f.b, locktest.Payload("stagex/core-busybox:1.37.0", d)))
			},
			want: func(f *fixture) []string {
				return []string{"signature-2: signature is for another image: docker.io/stagex/core-busybox, want docker.io/stagex/core-musl"}
			},
		},
		{
			name: "signatures of another version only",
			sign: func(f *fixture, d string) {
				f.side.SignBy("stagex/core-musl:1.2.4", d, f.a, f.b)
			},
			want: func(f *fixture) []string {
				return []string{"core-musl (linux/amd64) " + f.musl["linux/amd64"] + " is signed as version 1.2.4 of docker.io/stagex/core-musl, not as 1.2.5, the version locked",
					"signature-2: signature is for version 1.2.4, want 1.2.5 (signed by " + Fingerprint(f.b) + ")"}
			},
		},
		{
			// The lookaside names the digest as two versions: no lock
			// update mends that, so it is no VersionError (whose hint says
			// to update the lock), but it still fails.
			name: "a signature of the locked version and one of another",
			sign: func(f *fixture, d string) {
				f.side.SignBy("stagex/core-musl:1.2.5", d, f.a)
				f.side.SignBy("stagex/core-musl:1.2.4", d, f.b)
			},
			want: func(f *fixture) []string {
				return []string{"core-musl (linux/amd64) " + f.musl["linux/amd64"] + ": ", "signature-2: signature is for version 1.2.4, want 1.2.5 (signed by " + Fingerprint(f.b) + ")"}
			},
		},
		{
			name: "a signature naming no version",
			sign: func(f *fixture, d string) {
				f.side.Put("stagex/core-musl", d, locktest.Sign(f.a, locktest.Payload("stagex/core-musl", d)))
				f.side.Put("stagex/core-musl", d, locktest.Sign(f.b, locktest.Payload("stagex/core-musl", d)))
			},
			want: func(f *fixture) []string {
				return []string{"is signed as version (no tag) of docker.io/stagex/core-musl, not as 1.2.5", "signature-2: signature names no version"}
			},
		},
		{
			name: "a key not in the keyring",
			sign: func(f *fixture, d string) { f.side.SignBy("stagex/core-musl:1.2.5", d, f.a, f.c) },
			want: func(f *fixture) []string {
				return []string{"core-musl (linux/amd64) " + f.musl["linux/amd64"], "1 distinct keyring key(s) signed, the quorum is 2 (" + Fingerprint(f.a) + ")",
					"not counted: ", "signature-2: signed by key ID", "not in the keyring"}
			},
		},
		{
			name: "a missing lookaside entry",
			sign: func(f *fixture, d string) {},
			want: func(f *fixture) []string {
				return []string{"core-musl (linux/amd64) " + f.musl["linux/amd64"] + ": no signatures",
					"stagex/core-musl@sha256=" + strings.TrimPrefix(f.musl["linux/amd64"], "sha256:") + "/signature-1"}
			},
		},
		{
			name: "a tampered payload",
			sign: func(f *fixture, d string) {
				f.side.SignBy("stagex/core-musl:1.2.5", d, f.a)
				sig := locktest.Sign(f.b, locktest.Payload("stagex/core-musl:1.2.5", d))
				i := bytes.Index(sig, []byte("1.2.5"))
				sig[i+4] = '6' // now names core-musl:1.2.6
				f.side.Put("stagex/core-musl", d, sig)
			},
			want: func(f *fixture) []string {
				return []string{"signature-2: bad signature by " + Fingerprint(f.b)}
			},
		},
		{
			name: "not a signature",
			sign: func(f *fixture, d string) {
				f.side.SignBy("stagex/core-musl:1.2.5", d, f.a, f.b)
				f.side.Put("stagex/core-musl", d, locktest.Payload("stagex/core-musl:1.2.5", d))
			},
			want: func(f *fixture) []string { return []string{"signature-3: not an OpenPGP signed message"} },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			amd := f.musl["linux/amd64"]
			f.side.SignBy("stagex/core-musl:1.2.5", f.musl["linux/arm64"], f.a, f.b)
			f.side.SignBy("stagex/core-busybox:1.37.0", f.bbox["linux/amd64"], f.a, f.b)
			tc.sign(f, amd)
			l, _, err := Build(ctx, f.options(f.side.Serve()), "2026.03.0", f.rows)
			if l != nil {
				t.Errorf("a lock was returned despite the error")
			}
			locktest.WantErr(t, err, tc.want(f)...)
			// Only the broken digest is reported.
			if err != nil && strings.Contains(err.Error(), f.musl["linux/arm64"]+":") {
				t.Errorf("the good arm64 digest is reported too: %v", err)
			}
		})
	}
}

// TestBuildRefusesAnotherVersionsDigest: the registry's 1.2.6 index serves
// the 1.2.5 image for arm64 (a moved tag, or a mirror that mixes
// releases). Its signatures are sound but name 1.2.5, so neither lock nor
// lock update writes a 1.2.6 entry with it: every platform of an entry is
// signed as the entry's version.
func TestBuildRefusesAnotherVersionsDigest(t *testing.T) {
	f := newFixture(t)
	f.signAll()
	next := f.pushNext(t)
	old, _, err := Build(ctx, f.options(f.side.Dir), "2026.03.0", f.rows)
	if err != nil {
		t.Fatal(err)
	}
	mixed := pushMixedIndex(t, f.registry+"/core-musl:1.2.6", f.registry+"/core-musl@"+next["linux/amd64"], f.registry+"/core-musl@"+f.musl["linux/arm64"])
	if mixed["linux/arm64"] != f.musl["linux/arm64"] {
		t.Fatalf("the mixed index serves %v", mixed)
	}
	list, err := ParseReleaseList("next.tsv", strings.NewReader(locktest.ReleaseList(
		"core-musl\t1.2.6\tMIT\tcore/musl\t"+next["linux/amd64"],
		"core-busybox\t1.37.0\tGPL-2.0-only\tcore/busybox\t",
	)))
	if err != nil {
		t.Fatal(err)
	}
	cur, _, err := Update(ctx, f.options(f.side.Dir), old, "2026.04.0", list, nil)
	if cur != nil {
		t.Errorf("update returned a lock: %+v", cur.Packages["core-musl"])
	}
	locktest.WantErr(t, err, "core-musl (linux/arm64) "+f.musl["linux/arm64"]+" is signed as version 1.2.5 of docker.io/stagex/core-musl, not as 1.2.6")
	if err != nil && strings.Contains(err.Error(), next["linux/amd64"]) {
		t.Errorf("the amd64 digest of 1.2.6 is reported too: %v", err)
	}
}

// pushMixedIndex pushes to tag an index of the amd64 and arm64 images at
// the two digest references, and returns what it serves per platform.
func pushMixedIndex(t *testing.T, tag, amd64, arm64 string) map[string]string {
	t.Helper()
	var adds []mutate.IndexAddendum
	for _, p := range []struct{ ref, arch string }{{amd64, "amd64"}, {arm64, "arm64"}} {
		ref, err := name.ParseReference(p.ref)
		if err != nil {
			t.Fatal(err)
		}
		img, err := remote.Image(ref)
		if err != nil {
			t.Fatal(err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: p.arch}}})
	}
	tagRef, err := name.NewTag(tag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(tagRef, mutate.AppendManifests(empty.Index, adds...)); err != nil {
		t.Fatal(err)
	}
	got, err := Resolve(ctx, tag, []string{"linux/amd64", "linux/arm64"})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestUnknownKeyDoesNotCountNorFail(t *testing.T) {
	f := newFixture(t)
	f.signAll()
	f.side.SignBy("stagex/core-busybox:1.37.0", f.bbox["linux/amd64"], f.c)
	l, _, err := Build(ctx, f.options(f.side.Dir), "2026.03.0", f.rows)
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Packages["core-busybox"].Signers["linux/amd64"]; slices.Contains(got, Fingerprint(f.c)) || len(got) != 2 {
		t.Errorf("signers = %v: C is outside the keyring and must not be recorded", got)
	}
}

func TestSubkeySignatureCountsForPrimary(t *testing.T) {
	f := newFixture(t)
	// B signs with its subkey: once more with the primary key's identity
	// would be the same key, so a second signature by B must fail.
	if len(f.b.Subkeys) < 2 {
		t.Fatalf("key B has %d subkeys; want an encryption and a signing one", len(f.b.Subkeys))
	}
	amd := f.musl["linux/amd64"]
	f.side.SignBy("stagex/core-musl:1.2.5", amd, f.b)
	keyring := locktest.Keyring(t, f.b)
	signed, err := Policy{Keyring: keyring, Lookaside: mustOpen(t, f.side.Dir), Quorum: 1}.CheckDigest(ctx,
		Subject{Package: "core-musl", Version: "1.2.5", Platform: "linux/amd64", Digest: amd, Identity: "docker.io/stagex/core-musl"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{Fingerprint(f.b)}; !reflect.DeepEqual(signed.Signers, want) {
		t.Errorf("signers = %v, want B's primary %v", signed.Signers, want)
	}
}

func TestReleaseListDigestIsChecked(t *testing.T) {
	f := newFixture(t)
	f.signAll()
	f.rows[0].Digest = f.musl["linux/amd64"] // busybox's row names musl's digest
	_, _, err := Build(ctx, f.options(f.side.Dir), "2026.03.0", f.rows)
	locktest.WantErr(t, err, "core-busybox:1.37.0 (linux/amd64) is "+f.bbox["linux/amd64"], "release list (line 4) says "+f.musl["linux/amd64"])
}

func TestLookasideServerErrorFailsClosed(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	_, _, err := Build(ctx, f.options(srv.URL), "2026.03.0", f.rows)
	locktest.WantErr(t, err, "503")
}

func TestVerify(t *testing.T) {
	f := newFixture(t)
	f.signAll()
	o := f.options(f.side.Dir)
	l, _, err := Build(ctx, o, "2026.03.0", f.rows)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Verify(ctx, o, l)
	if err != nil || len(res.Checked) != 3 {
		t.Fatalf("verify: %v, %+v", err, res)
	}

	// A signature that disappears fails the lock that recorded it.
	sig := filepath.Join(f.side.Dir, filepath.FromSlash(SignaturePath("stagex/core-busybox", f.bbox["linux/amd64"], 2)))
	if err := os.Remove(sig); err != nil {
		t.Fatal(err)
	}
	o.Policy.Quorum = 1
	_, err = Verify(ctx, o, l)
	locktest.WantErr(t, err, "core-busybox (linux/amd64) "+f.bbox["linux/amd64"], "no longer verified")

	// A lock without signers is not trusted by verify.
	bare := *l
	bare.Packages = map[string]spec.LockPackage{"core-musl": {Version: "1.2.5", Digests: f.musl}}
	_, err = Verify(ctx, o, &bare)
	locktest.WantErr(t, err, "core-musl (linux/amd64)", "the lock records no signers")

	// Nor a lock entry without a version: the signatures name one.
	unversioned := *l
	p := l.Packages["core-musl"]
	p.Version = ""
	unversioned.Packages = map[string]spec.LockPackage{"core-musl": p}
	_, err = Verify(ctx, o, &unversioned)
	locktest.WantErr(t, err, "core-musl (linux/amd64) "+f.musl["linux/amd64"]+": the lock records no version, and the signatures name one",
		"core-musl (linux/arm64) "+f.musl["linux/arm64"]+": the lock records no version", "hint: write the lock with stagex lock")
}

// TestVerifyRefusesMixedVersions: a lock whose core-musl entry says 1.2.6
// but pins the 1.2.5 digest for one platform (what a Renovate edit of
// version and linux/amd64 digest leaves when hack/renovate-lock does not
// run), or for every platform (a downgrade to an older, validly signed
// image), fails verify at the digest's line, with the hint to re-lock. The
// signers the lock recorded are all still valid: only the version shows it.
func TestVerifyRefusesMixedVersions(t *testing.T) {
	f := newFixture(t)
	f.signAll()
	next := f.pushNext(t)
	o := f.options(f.side.Dir)
	l, _, err := Build(ctx, o, "2026.03.0", f.rows)
	if err != nil {
		t.Fatal(err)
	}
	data, err := l.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// lineOf is the 1-based line of the first line of text holding s.
	lineOf := func(text, s string) int {
		i := strings.Index(text, s)
		if i < 0 {
			t.Fatalf("%q not in the lock:\n%s", s, text)
		}
		return strings.Count(text[:i], "\n") + 1
	}
	fa, fb := Fingerprint(f.a), Fingerprint(f.b)
	if fb < fa {
		fa, fb = fb, fa
	}
	for _, tc := range []struct {
		name    string
		edit    *strings.Replacer
		bad     []string // platforms whose 1.2.5 digest is left under 1.2.6
		checked int      // digests that verify
	}{
		{"version and amd64 bumped, arm64 left", strings.NewReplacer("version: 1.2.5", "version: 1.2.6",
			"linux/amd64: "+f.musl["linux/amd64"], "linux/amd64: "+next["linux/amd64"]), []string{"linux/arm64"}, 2},
		{"version bumped, no digest", strings.NewReplacer("version: 1.2.5", "version: 1.2.6"), []string{"linux/amd64", "linux/arm64"}, 1},
		{"amd64 downgraded", strings.NewReplacer("version: 1.2.5", "version: 1.2.6",
			"linux/arm64: "+f.musl["linux/arm64"], "linux/arm64: "+next["linux/arm64"]), []string{"linux/amd64"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := tc.edit.Replace(string(data))
			edited, err := spec.ParseLock("stagex.lock.yaml", []byte(text))
			if err != nil {
				t.Fatal(err)
			}
			_, err = Verify(ctx, o, edited)
			t.Logf("verify error (as expected):\n%v", err)
			var want []string
			for _, p := range tc.bad {
				d := f.musl[p]
				dir := filepath.Join(f.side.Dir, "stagex", "core-musl@sha256="+strings.TrimPrefix(d, "sha256:"))
				line := lineOf(text, p+": "+d)
				want = append(want, fmt.Sprintf("stagex.lock.yaml:%d:20: core-musl (%s) %s is signed as version 1.2.5 of docker.io/stagex/core-musl, not as 1.2.6, the version locked: the digest belongs to another version\n"+
					"  %s/signature-1: signature is for version 1.2.5, want 1.2.6 (signed by %s)\n"+
					"  %s/signature-2: signature is for version 1.2.5, want 1.2.6 (signed by %s)\n"+
					"  hint: every platform of core-musl must be a digest of version 1.2.6; run stagex lock update (after Renovate: hack/renovate-lock), which resolves every platform of the version again",
					line, p, d, dir, Fingerprint(f.a), dir, Fingerprint(f.b)))
			}
			if err == nil || err.Error() != strings.Join(want, "\n") {
				t.Errorf("verify error:\n%v\nwant:\n%s", err, strings.Join(want, "\n"))
			}
			var list spec.ErrorList
			if !errors.As(err, &list) || len(list) != len(tc.bad) {
				t.Errorf("err is %T with %d errors, want a spec.ErrorList of %d", err, len(list), len(tc.bad))
			}
		})
	}

	// The consistent lock of 1.2.6, as lock update writes it, verifies.
	rows := []Row{f.rows[0], {Name: "core-musl", Version: "1.2.6", License: "MIT", Source: "core/musl", Line: 5}}
	cur, _, err := Build(ctx, o, "2026.04.0", rows)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := Verify(ctx, o, cur); err != nil || len(res.Checked) != 3 {
		t.Errorf("the 1.2.6 lock: %v", err)
	}
}

func TestUpdateAndDiff(t *testing.T) {
	f := newFixture(t)
	f.signAll()
	o := f.options(f.side.Dir)
	o.Platforms = nil // Update takes the old lock's platforms
	old, _, err := Build(ctx, f.options(f.side.Dir), "2026.03.0", f.rows)
	if err != nil {
		t.Fatal(err)
	}
	old.Archives = map[string]spec.LockArchive{"temurin-jre": {URL: "https://example.com/jre.tar.gz", SHA256: strings.Repeat("a", 64)}}
	next := f.pushNext(t)
	list, err := ParseReleaseList("next.tsv", strings.NewReader(locktest.ReleaseList(
		"core-musl\t1.2.6\tMIT\tcore/musl\t"+next["linux/amd64"],
		"core-busybox\t1.37.0\tGPL-2.0-only\tcore/busybox\t",
	)))
	if err != nil {
		t.Fatal(err)
	}
	cur, _, err := Update(ctx, o, old, "2026.04.0", list, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cur.Packages["core-musl"].Digests, next) || !reflect.DeepEqual(cur.Archives, old.Archives) {
		t.Errorf("updated lock = %+v", cur)
	}
	want := []string{"release 2026.03.0 -> 2026.04.0", "~ core-musl 1.2.5 -> 1.2.6"}
	if got := Diff(old, cur); !reflect.DeepEqual(got, want) {
		t.Errorf("diff = %q, want %q", got, want)
	}

	// A package the new release lacks is an error, not a silent drop.
	short, _ := ParseReleaseList("short.tsv", strings.NewReader(locktest.ReleaseList("core-musl\t1.2.6\tMIT\tcore/musl\t")))
	_, _, err = Update(ctx, o, old, "2026.04.0", short, nil)
	locktest.WantErr(t, err, "release 2026.04.0 has no image core-busybox")
}

func TestDiffRebuildAndPlatforms(t *testing.T) {
	a := &spec.Lock{Release: "r", Packages: map[string]spec.LockPackage{
		"x": {Version: "1", Digests: map[string]string{"linux/amd64": "sha256:1", "linux/arm64": "sha256:2"}},
		"y": {Version: "2"},
	}}
	b := &spec.Lock{Release: "r", Packages: map[string]spec.LockPackage{
		"x": {Version: "1", Digests: map[string]string{"linux/amd64": "sha256:3", "linux/riscv64": "sha256:4"}},
		"z": {Version: "3"},
	}}
	want := []string{"~ x 1: new digest for linux/amd64", "~ x 1: dropped linux/arm64", "~ x 1: added linux/riscv64", "- y 2", "+ z 3"}
	if got := Diff(a, b); !reflect.DeepEqual(got, want) {
		t.Errorf("diff = %q\nwant %q", got, want)
	}
}

func TestPolicyAndKeyringErrors(t *testing.T) {
	_, err := LoadKeyring(nil)
	locktest.WantErr(t, err, "no keyring given", "MAINTAINERS", "docs/lock.md")
	_, err = LoadKeyring([]string{filepath.Join(t.TempDir(), "missing.asc")})
	locktest.WantErr(t, err, "missing.asc", "no such file", "MAINTAINERS")
	empty := filepath.Join(t.TempDir(), "empty.asc")
	os.WriteFile(empty, nil, 0o644)
	_, err = LoadKeyring([]string{empty})
	locktest.WantErr(t, err, "empty.asc holds no OpenPGP public key")

	k := locktest.NewKey(t, "a", false)
	err = Policy{Keyring: locktest.Keyring(t, k), Lookaside: mustOpen(t, t.TempDir())}.Check()
	locktest.WantErr(t, err, "quorum 2, but the keyring holds only 1 key(s)")

	_, err = OpenLookaside("", nil)
	locktest.WantErr(t, err, "no lookaside given")
	_, err = OpenLookaside("ftp://x/y", nil)
	locktest.WantErr(t, err, "want an http(s):// URL or a folder")
}

func TestKeyringReadsBinaryAndFolders(t *testing.T) {
	a, b := locktest.NewKey(t, "a", false), locktest.NewKey(t, "b", false)
	dir := t.TempDir()
	var bin bytes.Buffer
	if err := a.Serialize(&bin); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "a.gpg"), bin.Bytes(), 0o644)
	locktest.WriteKeyring(t, dir, b, a) // keyring.asc: b and a again
	k, err := LoadKeyring([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{Fingerprint(a), Fingerprint(b)}
	slices.Sort(want)
	if got := k.Fingerprints(); !reflect.DeepEqual(got, want) {
		t.Errorf("fingerprints = %v, want %v (a key given twice counts once)", got, want)
	}
}

func TestKeyringRefusesPrivateKeys(t *testing.T) {
	k := locktest.NewKey(t, "a", false)
	var buf bytes.Buffer
	if err := k.SerializePrivate(&buf, nil); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "secret.gpg")
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadKeyring([]string{p})
	locktest.WantErr(t, err, "secret.gpg holds a private key ("+Fingerprint(k)+")", "export the public key only")
}

func TestResolveSkipsAttestationManifests(t *testing.T) {
	reg := locktest.Registry(t)
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	att, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
		mutate.IndexAddendum{Add: att, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"}}},
	)
	tag, _ := name.NewTag(reg + "/core-x:1")
	if err := remote.WriteIndex(tag, idx); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	got, err := Resolve(ctx, tag.String(), []string{"linux/arm64", "linux/amd64", "unknown/unknown"})
	if err != nil {
		t.Fatal(err)
	}
	// arm64 and arm64/v8 are one platform; the attestation is no platform.
	if want := map[string]string{"linux/arm64": d.String()}; !reflect.DeepEqual(got, want) {
		t.Errorf("Resolve = %v, want %v", got, want)
	}
}

// An armored signed message (gpg --sign --armor) counts like a binary one.
func TestArmoredSignature(t *testing.T) {
	f := newFixture(t)
	amd := f.musl["linux/amd64"]
	payload := locktest.Payload("stagex/core-musl:1.2.5", amd)
	var armored bytes.Buffer
	w, err := armor.Encode(&armored, "PGP MESSAGE", nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(locktest.Sign(f.b, payload))
	w.Close()
	f.side.Put("stagex/core-musl", amd, locktest.Sign(f.a, payload))
	f.side.Put("stagex/core-musl", amd, armored.Bytes())
	signed, err := Policy{Keyring: f.keyring, Lookaside: mustOpen(t, f.side.Dir)}.CheckDigest(ctx,
		Subject{Package: "core-musl", Version: "1.2.5", Platform: "linux/amd64", Digest: amd, Identity: "docker.io/stagex/core-musl"})
	if err != nil {
		t.Fatal(err)
	}
	if len(signed.Signers) != 2 || !slices.Contains(signed.Signers, Fingerprint(f.b)) {
		t.Errorf("signers = %v, want A and B", signed.Signers)
	}
}

// TestKeyringRefusesTwinKeys: one private key under a second creation time
// has a second fingerprint; counted by fingerprint it would meet a quorum
// of 2 alone, so the keyring refuses the pair.
func TestKeyringRefusesTwinKeys(t *testing.T) {
	a := locktest.NewKey(t, "alice", false)
	pk := packet.NewSignerPrivateKey(a.PrimaryKey.CreationTime.Add(-time.Hour), a.PrivateKey.PrivateKey)
	twin := &openpgp.Entity{PrimaryKey: &pk.PublicKey, PrivateKey: pk, Identities: map[string]*openpgp.Identity{}}
	if err := twin.AddUserId("alice2", "", "alice2@example.com", nil); err != nil {
		t.Fatal(err)
	}
	if Fingerprint(a) == Fingerprint(twin) {
		t.Fatal("the twin should have another fingerprint")
	}
	_, err := LoadKeyring([]string{locktest.WriteKeyring(t, t.TempDir(), a, twin)})
	locktest.WantErr(t, err, "share key material", "one signer")
	b := locktest.NewKey(t, "bob", false)
	if _, err := LoadKeyring([]string{locktest.WriteKeyring(t, t.TempDir(), a, b)}); err != nil {
		t.Errorf("two distinct keys refused: %v", err)
	}
}
