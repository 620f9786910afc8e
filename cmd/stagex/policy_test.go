package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"sigs.k8s.io/yaml"
)

// writeECKey writes a fresh P-256 public key as canonical PEM and returns
// its path and its PEM.
func writeECKey(t *testing.T, dir, name string) (string, string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	p := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, p, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, strings.TrimSpace(string(p))
}

// policyKeys parses a written policy the way kubectl does (sigs.k8s.io/yaml,
// strict) and returns the key entries of each rule.
func policyKeys(t *testing.T, y []byte) [][]string {
	t.Helper()
	type set struct {
		Count   int `json:"count"`
		Entries []struct {
			Keys *struct {
				PublicKeys string `json:"publicKeys"`
				Rekor      struct {
					IgnoreTlog bool `json:"ignoreTlog"`
				} `json:"rekor"`
				CTLog struct {
					IgnoreSCT bool `json:"ignoreSCT"`
				} `json:"ctlog"`
			} `json:"keys"`
			Keyless *struct {
				Subject       string `json:"subject"`
				SubjectRegExp string `json:"subjectRegExp"`
				Issuer        string `json:"issuer"`
				IssuerRegExp  string `json:"issuerRegExp"`
				Roots         string `json:"roots"`
				Rekor         struct {
					IgnoreTlog bool `json:"ignoreTlog"`
				} `json:"rekor"`
				CTLog struct {
					IgnoreSCT bool `json:"ignoreSCT"`
				} `json:"ctlog"`
			} `json:"keyless"`
		} `json:"entries"`
	}
	var p struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name        string            `json:"name"`
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
		Spec struct {
			Background           bool `json:"background"`
			WebhookConfiguration struct {
				FailurePolicy  string `json:"failurePolicy"`
				TimeoutSeconds int    `json:"timeoutSeconds"`
			} `json:"webhookConfiguration"`
			Rules []struct {
				Name  string `json:"name"`
				Match struct {
					Any []struct {
						Resources struct {
							Kinds []string `json:"kinds"`
						} `json:"resources"`
					} `json:"any"`
				} `json:"match"`
				VerifyImages []struct {
					Type            string   `json:"type"`
					ImageReferences []string `json:"imageReferences"`
					FailureAction   string   `json:"failureAction"`
					MutateDigest    bool     `json:"mutateDigest"`
					VerifyDigest    bool     `json:"verifyDigest"`
					Required        bool     `json:"required"`
					Attestors       []set    `json:"attestors"`
					Attestations    []struct {
						Type      string `json:"type"`
						Attestors []set  `json:"attestors"`
					} `json:"attestations"`
				} `json:"verifyImages"`
			} `json:"rules"`
		} `json:"spec"`
	}
	if err := yaml.UnmarshalStrict(y, &p); err != nil {
		t.Fatalf("the policy does not parse strictly: %v\n%s", err, y)
	}
	var out [][]string
	for _, r := range p.Spec.Rules {
		var keys []string
		for _, v := range r.VerifyImages {
			sets := v.Attestors
			for _, a := range v.Attestations {
				sets = append(sets, a.Attestors...)
			}
			for _, s := range sets {
				for _, e := range s.Entries {
					switch {
					case e.Keys != nil && e.Keyless == nil:
						keys = append(keys, e.Keys.PublicKeys)
					case e.Keyless != nil && e.Keys == nil:
						keys = append(keys, identityEntry(e.Keyless.Subject, e.Keyless.SubjectRegExp, e.Keyless.Issuer, e.Keyless.IssuerRegExp))
					default:
						t.Fatalf("an entry with both keys and keyless, or neither: %+v", e)
					}
				}
			}
		}
		out = append(out, keys)
	}
	return out
}

// identityEntry writes a keyless entry as one string for comparisons.
func identityEntry(subject, subjectRE, issuer, issuerRE string) string {
	if subjectRE != "" || issuerRE != "" {
		return "regexp " + subjectRE + "@" + issuerRE
	}
	return subject + "@" + issuer
}

// TestPolicyEmbedsExactlyTheKeys: each rule of the written policy holds
// exactly the M given keys, in order, whatever the files' names.
func TestPolicyEmbedsExactlyTheKeys(t *testing.T) {
	dir := t.TempDir()
	var args []string
	var want []string
	for _, n := range []string{"k1.pub", "odd name: #1.pub", "k3.pub"} {
		p, pemText := writeECKey(t, dir, n)
		args = append(args, "--key", p)
		want = append(want, pemText)
	}
	out := filepath.Join(dir, "policy.yaml")
	args = append([]string{"policy", "--threshold", "2", "--image-pattern", "reg.example/x/*", "-o", out}, args...)
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	y, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	rules := policyKeys(t, y)
	if len(rules) != 2 {
		t.Fatalf("%d rules, want 2", len(rules))
	}
	for i, keys := range rules {
		if strings.Join(keys, "|") != strings.Join(want, "|") {
			t.Errorf("rule %d holds %d keys %q, want exactly the %d given", i, len(keys), keys, len(want))
		}
	}
}

// TestCraftedKeyFileRefused is the bypass of the hardening issue: a key file
// holding key A plus a PEM header whose bare CRs YAML reads as line breaks.
// The old policy writer pasted the file's lines into the policy, where the
// header became two more key entries (B and C, one attacker's), so one
// party met a 2-of-3 rule alone; verify read the same file as key A only.
// Both commands must refuse the file now.
func TestCraftedKeyFileRefused(t *testing.T) {
	dir := t.TempDir()
	_, pemA := writeECKey(t, dir, "a.pub")
	_, pemB := writeECKey(t, dir, "b.pub")
	_, pemC := writeECKey(t, dir, "c.pub")
	h1, _ := writeECKey(t, dir, "h1.pub")
	h2, _ := writeECKey(t, dir, "h2.pub")

	// The injected entries write keys B and C as double-quoted YAML with
	// escaped dashes, so no "-----BEGIN" line stops pem.Decode early.
	const entry = "\r                - keys:\r                    publicKeys: "
	esc := func(k string) string {
		return `"` + strings.ReplaceAll(strings.ReplaceAll(k, "-", `\x2d`), "\n", `\n`) + `"`
	}
	inject := "x" + entry + esc(pemB) + entry + esc(pemC) + entry + "|-\r                      junk"
	lines := strings.Split(pemA, "\n")
	evil := lines[0] + "\nX-Note: " + inject + "\n\n" + strings.Join(lines[1:], "\n") + "\n"
	if b, _ := pem.Decode([]byte(evil)); b == nil || b.Headers["X-Note"] == "" {
		t.Fatalf("the crafted file is not one PEM block with a header:\n%q", evil)
	}
	evilPath := filepath.Join(dir, "evil.pub")
	if err := os.WriteFile(evilPath, []byte(evil), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"policy", "--threshold", "2", "--image-pattern", "*", "--key", evilPath, "--key", h1, "--key", h2},
		{"verify", "--threshold", "2", "--key", evilPath, "--key", h1, "--key", h2, "reg.example/x@sha256:" + strings.Repeat("0", 64)},
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), args, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), "evil.pub: the PEM block has headers") {
			t.Errorf("stagex %s: err = %v, want the key file refused for its headers\n%s", args[0], err, stdout.String())
		}
	}
}

// writeTrustedRoot writes a trusted_root.json trusting one fresh test CA.
func writeTrustedRoot(t *testing.T, dir string) string {
	t.Helper()
	rc, rk, err := ca.GenerateRootCa()
	if err != nil {
		t.Fatal(err)
	}
	ic, _, err := ca.GenerateFulcioIntermediate(rc, rk)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01,
		[]root.CertificateAuthority{&root.FulcioCertificateAuthority{Root: rc, Intermediates: []*x509.Certificate{ic}, URI: "https://fulcio.test"}},
		nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := tr.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "trusted_root.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// ivPolicySigners parses an ImageValidatingPolicy strictly, the way
// kubectl does, and returns its attestors as strings (key PEM, or
// identity), the signature expression and the attestation expression.
func ivPolicySigners(t *testing.T, y []byte) ([]string, []string) {
	t.Helper()
	type identity struct {
		Subject       string `json:"subject"`
		SubjectRegExp string `json:"subjectRegExp"`
		Issuer        string `json:"issuer"`
		IssuerRegExp  string `json:"issuerRegExp"`
	}
	var p struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name        string            `json:"name"`
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
		Spec struct {
			FailurePolicy        string   `json:"failurePolicy"`
			ValidationActions    []string `json:"validationActions"`
			WebhookConfiguration struct {
				TimeoutSeconds int `json:"timeoutSeconds"`
			} `json:"webhookConfiguration"`
			MatchConstraints struct {
				ResourceRules []struct {
					APIGroups   []string `json:"apiGroups"`
					APIVersions []string `json:"apiVersions"`
					Operations  []string `json:"operations"`
					Resources   []string `json:"resources"`
				} `json:"resourceRules"`
			} `json:"matchConstraints"`
			MatchImageReferences []struct {
				Glob string `json:"glob"`
			} `json:"matchImageReferences"`
			ValidationConfigurations struct {
				MutateDigest bool `json:"mutateDigest"`
				VerifyDigest bool `json:"verifyDigest"`
				Required     bool `json:"required"`
			} `json:"validationConfigurations"`
			Attestors []struct {
				Name   string `json:"name"`
				Cosign struct {
					Key *struct {
						Data string `json:"data"`
					} `json:"key"`
					Keyless *struct {
						Identities []identity `json:"identities"`
						Roots      string     `json:"roots"`
					} `json:"keyless"`
					CTLog struct {
						InsecureIgnoreTlog bool `json:"insecureIgnoreTlog"`
						InsecureIgnoreSCT  bool `json:"insecureIgnoreSCT"`
					} `json:"ctlog"`
					TrustedRoot *struct {
						Value string `json:"value"`
					} `json:"trustedRoot"`
				} `json:"cosign"`
			} `json:"attestors"`
			Attestations []struct {
				Name   string `json:"name"`
				InToto struct {
					Type string `json:"type"`
				} `json:"intoto"`
			} `json:"attestations"`
			Validations []struct {
				Expression string `json:"expression"`
				Message    string `json:"message"`
			} `json:"validations"`
		} `json:"spec"`
	}
	if err := yaml.UnmarshalStrict(y, &p); err != nil {
		t.Fatalf("the policy does not parse strictly: %v\n%s", err, y)
	}
	if p.APIVersion != "policies.kyverno.io/v1" || p.Kind != "ImageValidatingPolicy" || p.Spec.FailurePolicy != "Fail" ||
		!p.Spec.ValidationConfigurations.Required || !p.Spec.ValidationConfigurations.VerifyDigest {
		t.Errorf("header or configuration: %+v", p)
	}
	var signers, exprs []string
	for _, a := range p.Spec.Attestors {
		c := a.Cosign
		switch {
		case c.Key != nil && c.Keyless == nil:
			signers = append(signers, c.Key.Data)
		case c.Keyless != nil && c.Key == nil && len(c.Keyless.Identities) == 1:
			id := c.Keyless.Identities[0]
			signers = append(signers, identityEntry(id.Subject, id.SubjectRegExp, id.Issuer, id.IssuerRegExp))
			if c.TrustedRoot == nil || !strings.Contains(c.TrustedRoot.Value, "certificateAuthorities") {
				t.Errorf("attestor %s has no trusted root", a.Name)
			}
		default:
			t.Fatalf("attestor %s is not one key or one identity: %+v", a.Name, c)
		}
	}
	for _, v := range p.Spec.Validations {
		exprs = append(exprs, v.Expression)
	}
	return signers, exprs
}

// TestPolicyIdentitiesBothKinds: keys and identities, in both kinds; each
// policy holds exactly the M signers, in order, and counts N of them.
func TestPolicyIdentitiesBothKinds(t *testing.T) {
	dir := t.TempDir()
	k1, pem1 := writeECKey(t, dir, "k1.pub")
	tr := writeTrustedRoot(t, dir)
	want := []string{pem1, "ci@example.test@https://issuer.test", `regexp ^(?:release-[0-9]+@example\.test)$@^(?:https://issuer\.test)$`}
	common := []string{"--threshold", "2", "--image-pattern", "reg.example/x/*", "--key", k1,
		"--identity", "ci@example.test@https://issuer.test", "--identity-regexp", `release-[0-9]+@example\.test@https://issuer\.test`,
		"--trusted-root", tr}
	for _, kind := range []string{"ClusterPolicy", "ImageValidatingPolicy"} {
		out := filepath.Join(dir, kind+".yaml")
		args := append([]string{"policy", "--kind", kind, "-o", out}, common...)
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), args, &stdout, &stderr); err != nil {
			t.Fatalf("%s: %v\n%s", kind, err, stderr.String())
		}
		y, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(y), "--trusted-root "+tr) {
			t.Errorf("%s: the header does not record the trusted root", kind)
		}
		if kind == "ClusterPolicy" {
			for i, signers := range policyKeys(t, y) {
				if strings.Join(signers, "|") != strings.Join(want, "|") {
					t.Errorf("rule %d holds %q, want exactly %q", i, signers, want)
				}
			}
			continue
		}
		signers, exprs := ivPolicySigners(t, y)
		if strings.Join(signers, "|") != strings.Join(want, "|") {
			t.Errorf("attestors %q, want exactly %q", signers, want)
		}
		const list = "[attestors.key1, attestors.identity1, attestors.identity2]"
		if len(exprs) != 2 || !strings.Contains(exprs[0], "verifyAttestationSignatures(image, attestations.signature, "+list+") >= 2") ||
			!strings.Contains(exprs[1], "verifyAttestationSignatures(image, attestations.provenance, "+list+") >= 1") {
			t.Errorf("validations: %q", exprs)
		}
	}

	// Identities without a trusted root, and a root without identities.
	for _, args := range [][]string{
		{"policy", "--threshold", "1", "--image-pattern", "*", "--identity", "a@https://i.test"},
		{"policy", "--threshold", "1", "--image-pattern", "*", "--key", k1, "--trusted-root", tr},
	} {
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), args, &stdout, &stderr); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}
