package admission

import (
	"crypto/x509"
	"slices"
	"strings"
	"testing"

	"edp.buildth.ing/devfw-cicd/stagex/signing"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"sigs.k8s.io/yaml"
)

// FuzzClusterPolicy feeds the policy writer random key files, key names,
// image patterns, thresholds and command lines. Whatever it is given, the
// output is either refused or a policy that kubectl's YAML reader parses
// strictly to exactly the given keys (each rule: one set, count N, the M
// keys in order, each as its parsed key re-encoded) and exactly the given
// patterns: no input can add an entry, a pattern or a field.
func FuzzClusterPolicy(f *testing.F) {
	f.Add([]byte(testKeys[0]), "a.pub", "registry.example/stagex/*", "*", uint8(2), "stagex policy --threshold 2")
	f.Add([]byte(testKeys[1]), "odd name: #1\r- keys:", "reg.example/x/*", "docker.io/stagex/*", uint8(1), "x\u2028y")
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\nX-Note: a\r- b\n\n"+strings.SplitN(testKeys[2], "\n", 2)[1]), "evil.pub", "*", "a\u0085b", uint8(3), "")
	f.Fuzz(func(t *testing.T, keyFile []byte, name, pattern1, pattern2 string, threshold uint8, command string) {
		fuzzed, err := signing.ParsePublicKey(name, keyFile)
		if err != nil {
			return // refused: the file is not one canonical key
		}
		var keys []*signing.PublicKey
		for i, k := range testKeys {
			pub, err := signing.ParsePublicKey(string(rune('a'+i))+".pub", []byte(k))
			if err != nil {
				t.Fatal(err)
			}
			if !pub.SameSigner(fuzzed) {
				keys = append(keys, pub)
			}
		}
		keys = slices.Insert(keys, int(threshold)%(len(keys)+1), fuzzed)
		patterns := []string{pattern1, pattern2}
		o := Options{Threshold: int(threshold % 5), Keys: keys, ImagePatterns: patterns, Command: command}
		y, err := ClusterPolicy(o)
		if err != nil {
			return // refused
		}
		// kubectl's reader, strict, into the writer's own types: their
		// field names are the YAML keys but for case, which encoding/json
		// ignores.
		var p clusterPolicy
		if err := yaml.UnmarshalStrict(y, &p); err != nil {
			t.Fatalf("the policy does not parse strictly: %v\n%s", err, y)
		}
		var want []string
		for _, k := range keys {
			pemBytes, err := k.PEM()
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, strings.TrimSpace(string(pemBytes)))
		}
		if p.APIVersion != "kyverno.io/v1" || p.Kind != "ClusterPolicy" || p.Metadata.Name != DefaultName || len(p.Spec.Rules) != 2 {
			t.Fatalf("policy header or rules changed:\n%s", y)
		}
		for _, r := range p.Spec.Rules {
			if len(r.VerifyImages) != 1 {
				t.Fatalf("%s: %d verifyImages\n%s", r.Name, len(r.VerifyImages), y)
			}
			v := r.VerifyImages[0]
			if !slices.Equal(v.ImageReferences, patterns) {
				t.Fatalf("%s: image references %q, want %q\n%s", r.Name, v.ImageReferences, patterns, y)
			}
			sets := v.Attestors
			for _, a := range v.Attestations {
				sets = append(sets, a.Attestors...)
			}
			if len(sets) != 1 {
				t.Fatalf("%s: %d attestor sets, want 1\n%s", r.Name, len(sets), y)
			}
			// The signature rule counts N (as attestations of cosign's
			// image signature statement in the bundle format), the
			// provenance rule one.
			wantCount := o.Threshold
			if r.Name == "require-slsa-provenance" {
				wantCount = 1
			}
			if sets[0].Count != wantCount {
				t.Fatalf("%s: count %d, want %d\n%s", r.Name, sets[0].Count, wantCount, y)
			}
			var got []string
			for _, e := range sets[0].Entries {
				if e.Keys == nil || e.Keyless != nil {
					t.Fatalf("%s: an entry that is not one key\n%s", r.Name, y)
				}
				got = append(got, e.Keys.PublicKeys)
				if !e.Keys.Rekor.IgnoreTlog || !e.Keys.CTLog.IgnoreSCT {
					t.Fatalf("%s: an entry's log settings changed\n%s", r.Name, y)
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%s: %d key entries %q, want exactly the %d given\n%s", r.Name, len(got), got, len(want), y)
			}
		}
	})
}

// FuzzPolicyIdentities feeds both policy kinds random identities (exact or
// regular expressions): the output is refused, or parses strictly to
// exactly one key entry and the given identities, in order, with the
// values stagex matches (regexps anchored).
func FuzzPolicyIdentities(f *testing.F) {
	f.Add("ci@example.test@https://issuer.test", "release-[0-9]+@example\\.test@https://issuer\\.test", false, true)
	f.Add("a\r- keys:@https://i", "x@y", true, false)
	f.Add("s@\u2028i", "s@i\"\n- keyless:", false, false)
	key, err := signing.ParsePublicKey("a.pub", []byte(testKeys[0]))
	if err != nil {
		f.Fatal(err)
	}
	tr := testTrustedRoot(f)
	f.Fuzz(func(t *testing.T, id1, id2 string, re1, re2 bool) {
		var ids []*signing.Identity
		for _, c := range []struct {
			s  string
			re bool
		}{{id1, re1}, {id2, re2}} {
			id, err := signing.ParseIdentity(c.s, c.re)
			if err != nil {
				return // refused
			}
			ids = append(ids, id)
		}
		o := Options{Threshold: 2, Keys: []*signing.PublicKey{key}, Identities: ids, TrustedRoot: tr,
			ImagePatterns: []string{"*"}, Command: "stagex policy"}
		want := []identityMatch{matchOf(ids[0]), matchOf(ids[1])}
		// What ParseIdentity accepts, the writers accept, but for the
		// same identity given twice.
		same := ids[0].String() == ids[1].String()
		for _, write := range []func(Options) ([]byte, error){ClusterPolicy, ImageValidatingPolicy} {
			if _, err := write(o); (err != nil) != same {
				t.Fatalf("identities %q, %q: err = %v", ids[0], ids[1], err)
			}
		}

		if y, err := ClusterPolicy(o); err == nil {
			var p clusterPolicy
			if err := yaml.UnmarshalStrict(y, &p); err != nil {
				t.Fatalf("the ClusterPolicy does not parse strictly: %v\n%s", err, y)
			}
			for _, r := range p.Spec.Rules {
				sets := r.VerifyImages[0].Attestors
				for _, a := range r.VerifyImages[0].Attestations {
					sets = append(sets, a.Attestors...)
				}
				if len(sets) != 1 || len(sets[0].Entries) != 3 || sets[0].Entries[0].Keys == nil {
					t.Fatalf("%s: not one set of 1 key + 2 identities\n%s", r.Name, y)
				}
				for i, e := range sets[0].Entries[1:] {
					if e.Keys != nil || e.Keyless == nil || e.Keyless.identityMatch != want[i] {
						t.Fatalf("%s: entry %d is not identity %+v\n%s", r.Name, i+1, want[i], y)
					}
				}
			}
		}
		if y, err := ImageValidatingPolicy(o); err == nil {
			var p ivPolicy
			if err := yaml.UnmarshalStrict(y, &p); err != nil {
				t.Fatalf("the ImageValidatingPolicy does not parse strictly: %v\n%s", err, y)
			}
			a := p.Spec.Attestors
			if len(a) != 3 || a[0].Cosign.Key == nil {
				t.Fatalf("not 1 key + 2 identities\n%s", y)
			}
			for i, at := range a[1:] {
				if at.Cosign.Key != nil || at.Cosign.Keyless == nil || len(at.Cosign.Keyless.Identities) != 1 ||
					at.Cosign.Keyless.Identities[0] != want[i] {
					t.Fatalf("attestor %d is not identity %+v\n%s", i+1, want[i], y)
				}
			}
		}
	})
}

// testTrustedRoot is a trusted root holding one fresh test CA.
func testTrustedRoot(f *testing.F) *root.TrustedRoot {
	rc, rk, err := ca.GenerateRootCa()
	if err != nil {
		f.Fatal(err)
	}
	ic, _, err := ca.GenerateFulcioIntermediate(rc, rk)
	if err != nil {
		f.Fatal(err)
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01,
		[]root.CertificateAuthority{&root.FulcioCertificateAuthority{Root: rc, Intermediates: []*x509.Certificate{ic}}}, nil, nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	return tr
}
