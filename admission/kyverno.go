// Package admission writes the Kyverno ClusterPolicy that admits a Pod only
// when its images carry enough signatures from the trusted keys and a signed
// SLSA provenance attestation. The policy is generated from the same parsed
// keys that `stagex verify` uses, so the two cannot drift apart.
package admission

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"edp.buildth.ing/devfw-cicd/stagex/signing"
	"go.yaml.in/yaml/v3"
)

// ProvenanceType is the predicate type the provenance rule requires: SLSA
// provenance v1, what BuildKit writes (integration/attest_test.go checks
// it) and what `cosign attest --type slsaprovenance1` declares.
const ProvenanceType = "https://slsa.dev/provenance/v1"

// DefaultName is the policy's default metadata.name.
const DefaultName = "stagex-require-signatures"

// Options describe the policy.
type Options struct {
	// Name is metadata.name (DefaultName when empty).
	Name string
	// Threshold is N: how many distinct keys must have signed.
	Threshold int
	// Keys are the M trusted keys, in the order they are written. Each is
	// embedded as PEM re-encoded from the parsed key; its Name (usually
	// its file) labels the entry in a comment.
	Keys []*signing.PublicKey
	// ImagePatterns are the image references the policy applies to
	// (Kyverno wildcards, e.g. "registry.example/stagex/*").
	ImagePatterns []string
	// Command is the command line that regenerates the policy; it is
	// written into the header.
	Command string
}

var dnsName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// plainText refuses what could end a YAML comment or scalar early in any
// reader: control characters (CR, LF, NEL among them), the Unicode line and
// paragraph separators (YAML 1.1 readers, kubectl's among them, break lines
// there) and the byte-order mark; and invalid UTF-8, which the marshaller
// writes as !!binary and kubectl then reads as other text.
func plainText(what, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s %q is not valid UTF-8", what, s)
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp) || r == '\uFEFF' {
			return fmt.Errorf("%s %q has the character %U: only printable text is allowed", what, s, r)
		}
	}
	return nil
}

func (o *Options) check() error {
	if o.Name == "" {
		o.Name = DefaultName
	}
	if len(o.Name) > 63 || !dnsName.MatchString(o.Name) {
		return fmt.Errorf("policy name %q is not a DNS label", o.Name)
	}
	if len(o.Keys) == 0 {
		return errors.New("no keys given")
	}
	if err := (signing.Policy{Threshold: o.Threshold, Keys: o.Keys}).Check(); err != nil {
		return err
	}
	if len(o.ImagePatterns) == 0 {
		return errors.New("no image patterns given")
	}
	for _, p := range o.ImagePatterns {
		if err := plainText("image pattern", p); err != nil {
			return err
		}
		if p == "" || strings.ContainsFunc(p, unicode.IsSpace) {
			return fmt.Errorf("image pattern %q is empty or has blanks", p)
		}
	}
	if err := plainText("the command line for the header", o.Command); err != nil {
		return err
	}
	for _, k := range o.Keys {
		if err := plainText("key name", k.Name); err != nil {
			return err
		}
	}
	return nil
}

// The policy's shape, field for field as Kyverno's kyverno.io/v1 types
// name them. The YAML comes from the marshaller, never from a template, so
// no value can become structure.
type (
	clusterPolicy struct {
		APIVersion string   `yaml:"apiVersion"`
		Kind       string   `yaml:"kind"`
		Metadata   metadata `yaml:"metadata"`
		Spec       spec     `yaml:"spec"`
	}
	metadata struct {
		Name        string            `yaml:"name"`
		Annotations map[string]string `yaml:"annotations"`
	}
	spec struct {
		Background           bool          `yaml:"background"`
		WebhookConfiguration webhookConfig `yaml:"webhookConfiguration"`
		Rules                []rule        `yaml:"rules"`
	}
	webhookConfig struct {
		FailurePolicy  string `yaml:"failurePolicy"`
		TimeoutSeconds int    `yaml:"timeoutSeconds"`
	}
	rule struct {
		Name         string        `yaml:"name"`
		Match        match         `yaml:"match"`
		VerifyImages []verifyImage `yaml:"verifyImages"`
	}
	match struct {
		Any []resourceFilter `yaml:"any"`
	}
	resourceFilter struct {
		Resources struct {
			Kinds []string `yaml:"kinds"`
		} `yaml:"resources"`
	}
	verifyImage struct {
		ImageReferences []string      `yaml:"imageReferences"`
		FailureAction   string        `yaml:"failureAction"`
		MutateDigest    bool          `yaml:"mutateDigest"`
		VerifyDigest    bool          `yaml:"verifyDigest"`
		Required        bool          `yaml:"required"`
		Attestors       []attestorSet `yaml:"attestors,omitempty"`
		Attestations    []attestation `yaml:"attestations,omitempty"`
	}
	attestation struct {
		Type      string        `yaml:"type"`
		Attestors []attestorSet `yaml:"attestors"`
	}
	attestorSet struct {
		Count   int        `yaml:"count"`
		Entries []attestor `yaml:"entries"`
	}
	attestor struct {
		Keys keyAttestor `yaml:"keys"`
	}
	keyAttestor struct {
		PublicKeys string `yaml:"publicKeys"`
		Rekor      struct {
			IgnoreTlog bool `yaml:"ignoreTlog"`
		} `yaml:"rekor"`
		CTLog struct {
			IgnoreSCT bool `yaml:"ignoreSCT"`
		} `yaml:"ctlog"`
	}
)

// ClusterPolicy renders the policy as YAML. The output depends only on o,
// byte for byte.
func ClusterPolicy(o Options) ([]byte, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	// The key entries skip the transparency and certificate logs: trust
	// comes from N independent keys, and a key-based signature carries no
	// certificate.
	entries := make([]attestor, len(o.Keys))
	for i, k := range o.Keys {
		pemBytes, err := k.PEM()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k.Name, err)
		}
		entries[i].Keys.PublicKeys = strings.TrimSpace(string(pemBytes))
		entries[i].Keys.Rekor.IgnoreTlog = true
		entries[i].Keys.CTLog.IgnoreSCT = true
	}
	// Both rules match Pods only: Kyverno applies Pod rules to the
	// controllers that create Pods as well.
	pods := []resourceFilter{{}}
	pods[0].Resources.Kinds = []string{"Pod"}
	verify := func(v verifyImage) verifyImage {
		v.ImageReferences = o.ImagePatterns
		v.FailureAction, v.MutateDigest, v.VerifyDigest, v.Required = "Enforce", true, true, true
		return v
	}
	m := len(o.Keys)
	p := clusterPolicy{
		APIVersion: "kyverno.io/v1",
		Kind:       "ClusterPolicy",
		Metadata: metadata{Name: o.Name, Annotations: map[string]string{
			"policies.kyverno.io/title":    fmt.Sprintf("Require %d of %d signatures and SLSA provenance", o.Threshold, m),
			"policies.kyverno.io/category": "Supply Chain Security",
			"policies.kyverno.io/subject":  "Pod",
			"policies.kyverno.io/description": fmt.Sprintf("Admits a Pod only when every image matching the patterns is pinned by "+
				"digest, that exact digest carries valid cosign signatures by at least %d of the %d trusted keys, "+
				"and a SLSA provenance attestation signed by one of them.", o.Threshold, m),
		}},
		Spec: spec{
			WebhookConfiguration: webhookConfig{FailurePolicy: "Fail", TimeoutSeconds: 30},
			Rules: []rule{
				{
					Name:         fmt.Sprintf("require-%d-of-%d-signatures", o.Threshold, m),
					Match:        match{Any: pods},
					VerifyImages: []verifyImage{verify(verifyImage{Attestors: []attestorSet{{Count: o.Threshold, Entries: entries}}})},
				},
				{
					Name:  "require-slsa-provenance",
					Match: match{Any: pods},
					VerifyImages: []verifyImage{verify(verifyImage{Attestations: []attestation{{
						Type: ProvenanceType, Attestors: []attestorSet{{Count: 1, Entries: entries}},
					}}})},
				},
			},
		},
	}
	var doc yaml.Node
	if err := doc.Encode(p); err != nil {
		return nil, err
	}
	labelEntries(&doc, o.Keys)
	doc.HeadComment = "Generated by `stagex policy`: do not edit, regenerate with\n  " + o.Command
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// labelEntries puts each key's name above its attestor entry as a comment,
// so a reader of the policy sees which entry is which key.
func labelEntries(n *yaml.Node, keys []*signing.PublicKey) {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "entries" && n.Content[i+1].Kind == yaml.SequenceNode {
				for j, e := range n.Content[i+1].Content {
					e.HeadComment = keys[j].Name
				}
			}
		}
	}
	for _, c := range n.Content {
		labelEntries(c, keys)
	}
}
