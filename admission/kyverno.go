// Package admission writes the Kyverno ClusterPolicy that admits a Pod only
// when its images carry enough signatures from the trusted keys and a signed
// SLSA provenance attestation. The policy is generated from the same parsed
// keys that `stagex verify` uses, so the two cannot drift apart.
package admission

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"edp.buildth.ing/devfw-cicd/stagex/signing"
	"github.com/sigstore/sigstore-go/pkg/root"
	"go.yaml.in/yaml/v3"
)

// ProvenanceType is the predicate type the provenance rule requires: SLSA
// provenance v1, what BuildKit writes (integration/attest_test.go checks
// it), what `stagex attest` signs and what `cosign attest --type
// slsaprovenance1` declares.
const ProvenanceType = signing.ProvenanceType

// DefaultName is the policy's default metadata.name.
const DefaultName = "stagex-require-signatures"

// Options describe the policy.
type Options struct {
	// Name is metadata.name (DefaultName when empty).
	Name string
	// Threshold is N: how many distinct keys must have signed.
	Threshold int
	// Keys and Identities are the M trusted signers, in the order they are
	// written (keys first). Each key is embedded as PEM re-encoded from the
	// parsed key; its Name (usually its file) labels the entry in a comment.
	Keys       []*signing.PublicKey
	Identities []*signing.Identity
	// TrustedRoot is what identity certificates chain to (required with
	// Identities); the policy embeds it re-encoded from the parsed root.
	TrustedRoot *root.TrustedRoot
	// IgnoreTlog turns the transparency-log and SCT checks off for the
	// identity entries (offline clusters only); key entries never use them.
	IgnoreTlog bool
	// Format is the signature format the ClusterPolicy reads: Kyverno's
	// verifyImages reads one per rule (type SigstoreBundle or Cosign). The
	// ImageValidatingPolicy reads both.
	Format signing.Format
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
	if len(o.Keys)+len(o.Identities) == 0 {
		return errors.New("no keys or identities given")
	}
	p := signing.Policy{Threshold: o.Threshold, Keys: o.Keys, Identities: o.Identities}
	if o.TrustedRoot != nil {
		p.TrustedRoot = o.TrustedRoot
	}
	if err := p.Check(); err != nil {
		return err
	}
	switch o.Format {
	case "":
		o.Format = signing.FormatBundle
	case signing.FormatBundle, signing.FormatLegacy:
	default:
		return fmt.Errorf("format %q: want %q or %q", o.Format, signing.FormatBundle, signing.FormatLegacy)
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
	for _, n := range o.signerNames() {
		if err := plainText("signer name", n); err != nil {
			return err
		}
	}
	return nil
}

// signerNames label the entries, keys first, as signing.Policy orders them.
func (o *Options) signerNames() []string {
	var out []string
	for _, k := range o.Keys {
		out = append(out, k.Name)
	}
	for _, id := range o.Identities {
		out = append(out, id.String())
	}
	return out
}

// keyPEMs are the keys re-encoded from their parsed form.
func (o *Options) keyPEMs() ([]string, error) {
	out := make([]string, len(o.Keys))
	for i, k := range o.Keys {
		b, err := k.PEM()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k.Name, err)
		}
		out[i] = strings.TrimSpace(string(b))
	}
	return out, nil
}

// rootsPEM are the trusted root's certificate authorities (roots and
// intermediates) as PEM, re-encoded from the parsed certificates.
func (o *Options) rootsPEM() string {
	if o.TrustedRoot == nil {
		return ""
	}
	var b strings.Builder
	for _, ca := range o.TrustedRoot.FulcioCertificateAuthorities() {
		f, ok := ca.(*root.FulcioCertificateAuthority)
		if !ok {
			continue
		}
		for _, c := range append([]*x509.Certificate{f.Root}, f.Intermediates...) {
			if c != nil {
				b.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
			}
		}
	}
	return strings.TrimSpace(b.String())
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
		Type            string        `yaml:"type"`
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
		Keys    *keyAttestor     `yaml:"keys,omitempty"`
		Keyless *keylessAttestor `yaml:"keyless,omitempty"`
	}
	keylessAttestor struct {
		identityMatch `yaml:",inline"`
		Roots         string      `yaml:"roots,omitempty"`
		Rekor         rekorChecks `yaml:"rekor"`
		CTLog         ctlogChecks `yaml:"ctlog"`
	}
	// identityMatch is a certificate identity as both Kyverno APIs name
	// its fields.
	identityMatch struct {
		Subject       string `yaml:"subject,omitempty"`
		SubjectRegExp string `yaml:"subjectRegExp,omitempty"`
		Issuer        string `yaml:"issuer,omitempty"`
		IssuerRegExp  string `yaml:"issuerRegExp,omitempty"`
	}
	keyAttestor struct {
		PublicKeys string      `yaml:"publicKeys"`
		Rekor      rekorChecks `yaml:"rekor"`
		CTLog      ctlogChecks `yaml:"ctlog"`
	}
	rekorChecks struct {
		IgnoreTlog bool `yaml:"ignoreTlog"`
	}
	ctlogChecks struct {
		IgnoreSCT bool `yaml:"ignoreSCT"`
	}
)

// matchOf writes an identity for Kyverno: exact values, or the anchored
// regular expressions stagex matches.
func matchOf(id *signing.Identity) identityMatch {
	if id.Regexp {
		return identityMatch{SubjectRegExp: id.SubjectPattern(), IssuerRegExp: id.IssuerPattern()}
	}
	return identityMatch{Subject: id.Subject, Issuer: id.Issuer}
}

// prepare checks o and re-encodes its keys, for either policy kind.
func (o *Options) prepare() ([]string, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	return o.keyPEMs()
}

// ClusterPolicy renders the policy as YAML. The output depends only on o,
// byte for byte.
func ClusterPolicy(o Options) ([]byte, error) {
	// The key entries skip the transparency and certificate logs: trust
	// comes from N independent keys, and a key-based signature carries no
	// certificate.
	pems, err := o.prepare()
	if err != nil {
		return nil, err
	}
	var entries []attestor
	for _, p := range pems {
		k := &keyAttestor{PublicKeys: p}
		k.Rekor.IgnoreTlog, k.CTLog.IgnoreSCT = true, true
		entries = append(entries, attestor{Keys: k})
	}
	for _, id := range o.Identities {
		k := &keylessAttestor{identityMatch: matchOf(id), Roots: o.rootsPEM()}
		k.Rekor.IgnoreTlog, k.CTLog.IgnoreSCT = o.IgnoreTlog, o.IgnoreTlog
		entries = append(entries, attestor{Keyless: k})
	}
	verifyType := "SigstoreBundle"
	if o.Format == signing.FormatLegacy {
		verifyType = "Cosign"
	}
	// Both rules match Pods only: Kyverno applies Pod rules to the
	// controllers that create Pods as well.
	pods := []resourceFilter{{}}
	pods[0].Resources.Kinds = []string{"Pod"}
	verify := func(v verifyImage) verifyImage {
		v.Type, v.ImageReferences = verifyType, o.ImagePatterns
		v.FailureAction, v.MutateDigest, v.VerifyDigest, v.Required = "Enforce", true, true, true
		return v
	}
	// In the bundle format Kyverno's signature check (attestors) takes any
	// bundle a key made, a provenance attestation included, for a
	// signature: a party that only attested would count as a signer
	// (integration/sign_test.go, case attestonly). The check is therefore
	// written as one on the statement type cosign signs images with.
	signatures := verifyImage{Attestors: []attestorSet{{Count: o.Threshold, Entries: entries}}}
	if o.Format == signing.FormatBundle {
		signatures = verifyImage{Attestations: []attestation{{
			Type: signing.SignPredicateType, Attestors: []attestorSet{{Count: o.Threshold, Entries: entries}},
		}}}
	}
	m := len(entries)
	p := clusterPolicy{
		APIVersion: "kyverno.io/v1",
		Kind:       "ClusterPolicy",
		Metadata:   o.metadata(m),
		Spec: spec{
			WebhookConfiguration: webhookConfig{FailurePolicy: "Fail", TimeoutSeconds: 30},
			Rules: []rule{
				{
					Name:         fmt.Sprintf("require-%d-of-%d-signatures", o.Threshold, m),
					Match:        match{Any: pods},
					VerifyImages: []verifyImage{verify(signatures)},
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
	return render(p, "entries", o.signerNames(), o.Command)
}

// render writes a policy through the YAML marshaller, with the header
// comment and the signers' names above the entries of the field.
func render(policy any, field string, names []string, command string) ([]byte, error) {
	var doc yaml.Node
	if err := doc.Encode(policy); err != nil {
		return nil, err
	}
	labelEntries(&doc, field, names)
	doc.HeadComment = "Generated by `stagex policy`: do not edit, regenerate with\n  " + command
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

// metadata names the policy and describes it, for either kind, over m
// signers.
func (o *Options) metadata(m int) metadata {
	return metadata{Name: o.Name, Annotations: map[string]string{
		"policies.kyverno.io/title":    fmt.Sprintf("Require %d of %d signatures and SLSA provenance", o.Threshold, m),
		"policies.kyverno.io/category": "Supply Chain Security",
		"policies.kyverno.io/subject":  "Pod",
		"policies.kyverno.io/description": fmt.Sprintf("Admits a Pod only when every image matching the patterns is pinned by "+
			"digest, that exact digest carries valid cosign signatures (%s) by at least %d of the %d trusted signers, "+
			"and a SLSA provenance attestation signed by one of them.", formatWords(o.Format), o.Threshold, m),
	}}
}

// formatWords names a format in the policy's description.
func formatWords(f signing.Format) string {
	if f == signing.FormatLegacy {
		return "the legacy .sig/.att tags"
	}
	return "Sigstore bundles"
}

// labelEntries puts each signer's name above its entry in every sequence
// under the key field, so a reader of the policy sees which entry is which.
func labelEntries(n *yaml.Node, field string, names []string) {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == field && n.Content[i+1].Kind == yaml.SequenceNode {
				for j, e := range n.Content[i+1].Content {
					if j < len(names) {
						e.HeadComment = names[j]
					}
				}
			}
		}
	}
	for _, c := range n.Content {
		labelEntries(c, field, names)
	}
}
