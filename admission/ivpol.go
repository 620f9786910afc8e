package admission

import (
	"errors"
	"fmt"
	"strings"

	"edp.buildth.ing/devfw-cicd/stagex/signing"
)

// IVPolicyAPIVersion is the ImageValidatingPolicy API Kyverno 1.19 serves.
const IVPolicyAPIVersion = "policies.kyverno.io/v1"

// The ImageValidatingPolicy's shape, field for field as Kyverno's
// policies.kyverno.io/v1 types name them.
type (
	ivPolicy struct {
		APIVersion string   `yaml:"apiVersion"`
		Kind       string   `yaml:"kind"`
		Metadata   metadata `yaml:"metadata"`
		Spec       ivSpec   `yaml:"spec"`
	}
	ivSpec struct {
		FailurePolicy            string             `yaml:"failurePolicy"`
		ValidationActions        []string           `yaml:"validationActions"`
		WebhookConfiguration     ivWebhook          `yaml:"webhookConfiguration"`
		MatchConstraints         ivMatch            `yaml:"matchConstraints"`
		MatchImageReferences     []ivImageReference `yaml:"matchImageReferences"`
		ValidationConfigurations ivValidationConfig `yaml:"validationConfigurations"`
		Attestors                []ivAttestor       `yaml:"attestors"`
		Attestations             []ivAttestation    `yaml:"attestations"`
		Validations              []ivValidation     `yaml:"validations"`
	}
	ivWebhook struct {
		TimeoutSeconds int `yaml:"timeoutSeconds"`
	}
	ivMatch struct {
		ResourceRules []ivResourceRule `yaml:"resourceRules"`
	}
	ivResourceRule struct {
		APIGroups   []string `yaml:"apiGroups"`
		APIVersions []string `yaml:"apiVersions"`
		Operations  []string `yaml:"operations"`
		Resources   []string `yaml:"resources"`
	}
	ivImageReference struct {
		Glob string `yaml:"glob"`
	}
	ivValidationConfig struct {
		MutateDigest bool `yaml:"mutateDigest"`
		VerifyDigest bool `yaml:"verifyDigest"`
		Required     bool `yaml:"required"`
	}
	ivAttestor struct {
		Name   string   `yaml:"name"`
		Cosign ivCosign `yaml:"cosign"`
	}
	ivCosign struct {
		Key         *ivKey     `yaml:"key,omitempty"`
		Keyless     *ivKeyless `yaml:"keyless,omitempty"`
		CTLog       ivCTLog    `yaml:"ctlog"`
		TrustedRoot *ivValue   `yaml:"trustedRoot,omitempty"`
	}
	ivKey struct {
		Data string `yaml:"data"`
	}
	ivKeyless struct {
		Identities []identityMatch `yaml:"identities"`
		Roots      string          `yaml:"roots,omitempty"`
	}
	ivCTLog struct {
		InsecureIgnoreTlog bool `yaml:"insecureIgnoreTlog"`
		InsecureIgnoreSCT  bool `yaml:"insecureIgnoreSCT"`
	}
	ivValue struct {
		Value string `yaml:"value"`
	}
	ivAttestation struct {
		Name   string   `yaml:"name"`
		InToto ivInToto `yaml:"intoto"`
	}
	ivInToto struct {
		Type string `yaml:"type"`
	}
	ivValidation struct {
		Expression string `yaml:"expression"`
		Message    string `yaml:"message"`
	}
)

// ImageValidatingPolicy renders the same rule as ClusterPolicy as Kyverno's
// ImageValidatingPolicy (Kyverno ≥ 1.15; ClusterPolicy verifyImages is
// deprecated there). N of M is a CEL comparison: verifyAttestationSignatures
// returns how many of the listed attestors verified, and each attestor is
// one signer. It reads the bundle format only (see the legacy refusal
// below). The output depends only on o, byte for byte.
func ImageValidatingPolicy(o Options) ([]byte, error) {
	pems, err := o.prepare()
	if err != nil {
		return nil, err
	}
	if o.Format == signing.FormatLegacy {
		// Kyverno 1.19.1's verifyAttestationSignatures fails a legacy .att
		// attestation that has no transparency-log entry even when the
		// attestor ignores the log (its signature check allows it): the
		// provenance rule could never pass for key signers
		// (integration/sign_test.go, TestKyvernoPolicy/legacy).
		return nil, errors.New("an ImageValidatingPolicy cannot check legacy-format provenance signed by keys: " +
			"Kyverno 1.19.1 refuses a legacy attestation without a transparency-log entry there; " +
			"use the bundle format (stagex sign/attest default) or a ClusterPolicy (--kind ClusterPolicy --format legacy)")
	}
	var attestors []ivAttestor
	var refs []string
	for i, p := range pems {
		a := ivAttestor{Name: fmt.Sprintf("key%d", i+1), Cosign: ivCosign{Key: &ivKey{Data: p}}}
		a.Cosign.CTLog = ivCTLog{InsecureIgnoreTlog: true, InsecureIgnoreSCT: true}
		attestors = append(attestors, a)
	}
	var trustedRoot *ivValue
	if o.TrustedRoot != nil && len(o.Identities) > 0 {
		j, err := o.TrustedRoot.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("re-encoding the trusted root: %w", err)
		}
		trustedRoot = &ivValue{Value: string(j)}
	}
	for i, id := range o.Identities {
		a := ivAttestor{Name: fmt.Sprintf("identity%d", i+1), Cosign: ivCosign{
			Keyless:     &ivKeyless{Identities: []identityMatch{matchOf(id)}, Roots: o.rootsPEM()},
			CTLog:       ivCTLog{InsecureIgnoreTlog: o.IgnoreTlog, InsecureIgnoreSCT: o.IgnoreTlog},
			TrustedRoot: trustedRoot,
		}}
		attestors = append(attestors, a)
	}
	for _, a := range attestors {
		refs = append(refs, "attestors."+a.Name)
	}
	list := "[" + strings.Join(refs, ", ") + "]"
	const allImages = "(images.containers + images.initContainers + images.ephemeralContainers)"
	// verifyImageSignatures counts an attestor whose key made any bundle
	// on the image, a provenance attestation included, once the image has
	// bundles at all (Kyverno's cosign verifier then reads bundles only).
	// The count is over statements of the image signature type instead.
	attestations := []ivAttestation{
		{Name: "signature", InToto: ivInToto{Type: signing.SignPredicateType}},
		{Name: "provenance", InToto: ivInToto{Type: ProvenanceType}},
	}
	signed := "verifyAttestationSignatures(image, attestations.signature, " + list + ")"
	m := len(attestors)
	var globs []ivImageReference
	for _, p := range o.ImagePatterns {
		globs = append(globs, ivImageReference{Glob: p})
	}
	p := ivPolicy{
		APIVersion: IVPolicyAPIVersion,
		Kind:       "ImageValidatingPolicy",
		Metadata:   o.metadata(m),
		Spec: ivSpec{
			FailurePolicy:        "Fail",
			ValidationActions:    []string{"Deny"},
			WebhookConfiguration: ivWebhook{TimeoutSeconds: 30},
			MatchConstraints: ivMatch{ResourceRules: []ivResourceRule{{
				APIGroups: []string{""}, APIVersions: []string{"v1"}, Operations: []string{"CREATE", "UPDATE"}, Resources: []string{"pods"},
			}}},
			MatchImageReferences:     globs,
			ValidationConfigurations: ivValidationConfig{MutateDigest: true, VerifyDigest: true, Required: true},
			Attestors:                attestors,
			Attestations:             attestations,
			Validations: []ivValidation{
				{
					Expression: fmt.Sprintf("%s.all(image, %s >= %d)", allImages, signed, o.Threshold),
					Message:    fmt.Sprintf("an image is not signed by %d of the %d trusted signers", o.Threshold, m),
				},
				{
					Expression: fmt.Sprintf("%s.all(image, verifyAttestationSignatures(image, attestations.provenance, %s) >= 1)", allImages, list),
					Message:    "an image has no SLSA provenance attestation signed by a trusted signer",
				},
			},
		},
	}
	return render(p, "attestors", o.signerNames(), o.Command)
}
