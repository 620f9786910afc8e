package admission

import (
	"slices"
	"strings"
	"testing"

	"edp.buildth.ing/devfw-cicd/stagex/signing"
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
			wantCount := o.Threshold
			if len(v.Attestations) > 0 {
				wantCount = 1
			}
			if sets[0].Count != wantCount {
				t.Fatalf("%s: count %d, want %d\n%s", r.Name, sets[0].Count, wantCount, y)
			}
			var got []string
			for _, e := range sets[0].Entries {
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
