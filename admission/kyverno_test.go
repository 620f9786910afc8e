package admission

import (
	"bytes"
	"strings"
	"testing"

	"edp.buildth.ing/devfw-cicd/stagex/signing"
	"go.yaml.in/yaml/v3"
)

const testPEM = `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAETI8A/gr8ZWIqrYK2bSaN6ZTttbzh
1YmWskCTlyTR6uaLvxDAqHnKZQqkjw3kKTabPsRApCN5bIxlGgXcwMsrGw==
-----END PUBLIC KEY-----
`

// testKeys are three distinct P-256 keys; testKeys[0] is testPEM.
var testKeys = []string{testPEM, `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEWamDzEtR7iUZ/Au0UmkaIn0IJQMs
o+GbgfzwEAP/o7IZq53WpJOd12yheAKxsAsM+MOoG3PcNQjl31KJCXvM1w==
-----END PUBLIC KEY-----
`, `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEfcrdTakwmGhQnzii+AND5wMvrEId
63sVMw8B+1n0PDxkB8b0Q3ssn8nxj+1HSAYZmK/F1Aw2OUWu3hwZJZNBdg==
-----END PUBLIC KEY-----
`}

func opts(n int, keys ...string) Options {
	o := Options{Threshold: n, ImagePatterns: []string{"registry.example/stagex/*", "*"}, Command: "stagex policy …"}
	for i, k := range keys {
		pub, err := signing.ParsePublicKey(k, []byte(testKeys[i%len(testKeys)]))
		if err != nil {
			panic(err)
		}
		o.Keys = append(o.Keys, pub)
	}
	return o
}

// TestClusterPolicyShape parses the output back and checks what Kyverno
// reads: count N over M key entries, digest pinning, failurePolicy Fail,
// the keys byte for byte, and the provenance rule; in the bundle format
// (default) the signatures are counted as statements of cosign's image
// signature type, in the legacy format as signatures.
func TestClusterPolicyShape(t *testing.T) {
	for _, f := range []signing.Format{signing.FormatBundle, signing.FormatLegacy} {
		t.Run(string(f), func(t *testing.T) { checkClusterPolicyShape(t, f) })
	}
}

func checkClusterPolicyShape(t *testing.T, f signing.Format) {
	o := opts(2, "a.pub", "b.pub", "c.pub")
	o.Format = f
	y, err := ClusterPolicy(o)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := ClusterPolicy(o)
	if !bytes.Equal(y, again) {
		t.Fatal("two runs differ")
	}
	type entry struct {
		Keys struct {
			PublicKeys string `yaml:"publicKeys"`
			Rekor      struct {
				IgnoreTlog bool `yaml:"ignoreTlog"`
			} `yaml:"rekor"`
			CTLog struct {
				IgnoreSCT bool `yaml:"ignoreSCT"`
			} `yaml:"ctlog"`
		} `yaml:"keys"`
	}
	type attestorSet struct {
		Count   int     `yaml:"count"`
		Entries []entry `yaml:"entries"`
	}
	var p struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Metadata   struct{ Name string }
		Spec       struct {
			Background           bool `yaml:"background"`
			WebhookConfiguration struct {
				FailurePolicy string `yaml:"failurePolicy"`
			} `yaml:"webhookConfiguration"`
			Rules []struct {
				Name         string
				VerifyImages []struct {
					Type            string        `yaml:"type"`
					ImageReferences []string      `yaml:"imageReferences"`
					FailureAction   string        `yaml:"failureAction"`
					MutateDigest    bool          `yaml:"mutateDigest"`
					VerifyDigest    bool          `yaml:"verifyDigest"`
					Required        bool          `yaml:"required"`
					Attestors       []attestorSet `yaml:"attestors"`
					Attestations    []struct {
						Type      string        `yaml:"type"`
						Attestors []attestorSet `yaml:"attestors"`
					} `yaml:"attestations"`
				} `yaml:"verifyImages"`
			}
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(y))
	dec.KnownFields(false)
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("%v\n%s", err, y)
	}
	if p.APIVersion != "kyverno.io/v1" || p.Kind != "ClusterPolicy" || p.Metadata.Name != DefaultName {
		t.Errorf("header: %s %s %s", p.APIVersion, p.Kind, p.Metadata.Name)
	}
	if p.Spec.WebhookConfiguration.FailurePolicy != "Fail" || p.Spec.Background {
		t.Errorf("failurePolicy %q, background %v", p.Spec.WebhookConfiguration.FailurePolicy, p.Spec.Background)
	}
	if len(p.Spec.Rules) != 2 || p.Spec.Rules[0].Name != "require-2-of-3-signatures" || p.Spec.Rules[1].Name != "require-slsa-provenance" {
		t.Fatalf("rules: %+v", p.Spec.Rules)
	}
	checkSet := func(where string, s []attestorSet, count int) {
		if len(s) != 1 || s[0].Count != count || len(s[0].Entries) != 3 {
			t.Errorf("%s: attestors %+v, want count %d over 3 entries", where, s, count)
			return
		}
		for i, e := range s[0].Entries {
			if e.Keys.PublicKeys != strings.TrimSpace(testKeys[i]) || !e.Keys.Rekor.IgnoreTlog || !e.Keys.CTLog.IgnoreSCT {
				t.Errorf("%s: entry %+v", where, e)
			}
		}
	}
	for _, r := range p.Spec.Rules {
		if len(r.VerifyImages) != 1 {
			t.Fatalf("%s: %d verifyImages", r.Name, len(r.VerifyImages))
		}
		v := r.VerifyImages[0]
		if !v.MutateDigest || !v.VerifyDigest || !v.Required || v.FailureAction != "Enforce" ||
			strings.Join(v.ImageReferences, " ") != "registry.example/stagex/* *" {
			t.Errorf("%s: %+v", r.Name, v)
		}
	}
	wantType := map[signing.Format]string{signing.FormatBundle: "SigstoreBundle", signing.FormatLegacy: "Cosign"}[f]
	for _, r := range p.Spec.Rules {
		if r.VerifyImages[0].Type != wantType {
			t.Errorf("%s: type %q, want %q", r.Name, r.VerifyImages[0].Type, wantType)
		}
	}
	sig := p.Spec.Rules[0].VerifyImages[0]
	if f == signing.FormatLegacy {
		checkSet("signatures", sig.Attestors, 2)
	} else if len(sig.Attestors) != 0 || len(sig.Attestations) != 1 || sig.Attestations[0].Type != signing.SignPredicateType {
		t.Errorf("signatures: %+v, want one attestation of type %s", sig, signing.SignPredicateType)
	} else {
		checkSet("signatures", sig.Attestations[0].Attestors, 2)
	}
	att := p.Spec.Rules[1].VerifyImages[0].Attestations
	if len(att) != 1 || att[0].Type != ProvenanceType {
		t.Fatalf("provenance: %+v", att)
	}
	checkSet("provenance", att[0].Attestors, 1)
}

func TestClusterPolicyRefuses(t *testing.T) {
	dup := opts(2, "a.pub", "b.pub", "c.pub")
	dup.Keys[2] = dup.Keys[0]
	sep := opts(1, "a.pub")
	sep.ImagePatterns = []string{"reg.example/\u2028x/*"}
	nel := opts(1, "a.pub")
	nel.Command = "stagex policy \u0085- keys:"
	para := opts(1, "a.pub")
	para.Keys[0].Name = "a\u2029.pub"
	noPattern := opts(1, "a.pub")
	noPattern.ImagePatterns = nil
	badName := opts(1, "a.pub")
	badName.Name = "Not_A_Name"
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"N > M", opts(3, "a.pub", "b.pub"), "threshold 3"},
		{"N = 0", opts(0, "a.pub"), "threshold 0"},
		{"no keys", opts(1), "no keys"},
		{"duplicate key", dup, "duplicates key a.pub"},
		{"line separator in a pattern", sep, "U+2028"},
		{"NEL in the command", nel, "U+0085"},
		{"paragraph separator in a key name", para, "U+2029"},
		{"no pattern", noPattern, "no image patterns"},
		{"bad name", badName, "not a DNS label"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ClusterPolicy(tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestImageValidatingPolicyFormats: the N of M is counted over
// attestations of cosign's image signature statement (Kyverno takes any
// bundle of a key for a signature otherwise); the legacy format is refused
// with the reason (Kyverno 1.19.1 cannot check legacy key attestations
// there).
func TestImageValidatingPolicyFormats(t *testing.T) {
	o := opts(2, "a.pub", "b.pub", "c.pub")
	y, err := ImageValidatingPolicy(o)
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Spec struct {
			Attestations []struct {
				Name   string
				InToto struct{ Type string } `yaml:"intoto"`
			}
			Validations []struct{ Expression string }
		}
	}
	if err := yaml.Unmarshal(y, &p); err != nil {
		t.Fatal(err)
	}
	var atts []string
	for _, a := range p.Spec.Attestations {
		atts = append(atts, a.Name+" "+a.InToto.Type)
	}
	if want := []string{"signature " + signing.SignPredicateType, "provenance " + ProvenanceType}; strings.Join(atts, "|") != strings.Join(want, "|") {
		t.Errorf("attestations %q, want %q", atts, want)
	}
	const count = "verifyAttestationSignatures(image, attestations.signature, [attestors.key1, attestors.key2, attestors.key3]) >= 2"
	if len(p.Spec.Validations) != 2 || !strings.HasSuffix(p.Spec.Validations[0].Expression, ".all(image, "+count+")") ||
		!strings.Contains(p.Spec.Validations[1].Expression, "verifyAttestationSignatures(image, attestations.provenance, ") {
		t.Errorf("validations %+v", p.Spec.Validations)
	}
	o.Format = signing.FormatLegacy
	if _, err := ImageValidatingPolicy(o); err == nil || !strings.Contains(err.Error(), "cannot check legacy-format provenance") {
		t.Errorf("legacy format: err = %v", err)
	}
}
