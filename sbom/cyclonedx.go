package sbom

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// The CycloneDX 1.6 document, as far as this package writes it. The types
// are few and flat, so they are written here rather than pulled in with a
// library; field order follows the specification's examples.
type cdxBOM struct {
	BOMFormat    string          `json:"bomFormat"`
	SpecVersion  string          `json:"specVersion"`
	SerialNumber string          `json:"serialNumber"`
	Version      int             `json:"version"`
	Metadata     cdxMetadata     `json:"metadata"`
	Components   []cdxComponent  `json:"components,omitempty"`
	Dependencies []cdxDependency `json:"dependencies,omitempty"`
}

type cdxMetadata struct {
	Timestamp string       `json:"timestamp"`
	Tools     cdxTools     `json:"tools"`
	Component cdxComponent `json:"component"`
}

type cdxTools struct {
	Components []cdxComponent `json:"components"`
}

type cdxComponent struct {
	Type               string           `json:"type"`
	BOMRef             string           `json:"bom-ref,omitempty"`
	Supplier           *cdxSupplier     `json:"supplier,omitempty"`
	Name               string           `json:"name"`
	Version            string           `json:"version,omitempty"`
	Description        string           `json:"description,omitempty"`
	Hashes             []cdxHash        `json:"hashes,omitempty"`
	Licenses           []cdxLicense     `json:"licenses,omitempty"`
	CPE                string           `json:"cpe,omitempty"`
	PURL               string           `json:"purl,omitempty"`
	ExternalReferences []cdxExternalRef `json:"externalReferences,omitempty"`
	Evidence           *cdxEvidence     `json:"evidence,omitempty"`
}

// cdxEvidence records further identities of a component: here the pkg:oci
// purl of the image a package was merged from, when purl holds the
// upstream product's.
type cdxEvidence struct {
	Identity []cdxIdentity `json:"identity"`
}

type cdxIdentity struct {
	Field          string  `json:"field"`
	Confidence     float64 `json:"confidence"`
	ConcludedValue string  `json:"concludedValue"`
}

type cdxSupplier struct {
	Name string `json:"name"`
}

type cdxHash struct {
	Alg     string `json:"alg"`
	Content string `json:"content"`
}

type cdxLicense struct {
	Expression string `json:"expression"`
}

type cdxExternalRef struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

type cdxDependency struct {
	Ref       string   `json:"ref"`
	DependsOn []string `json:"dependsOn,omitempty"`
}

// CycloneDX returns the CycloneDX 1.6 JSON document of img: the same facts
// as the SPDX document, for tools that read CycloneDX. Its serial number is
// derived from the inputs (a version 8, "custom", UUID), so the same
// composition gives the same bytes.
func CycloneDX(img Image) ([]byte, error) {
	name, fp, err := identify(img)
	if err != nil {
		return nil, err
	}
	bom := cdxBOM{
		BOMFormat:    "CycloneDX",
		SpecVersion:  "1.6",
		SerialNumber: "urn:uuid:" + uuid8(fp),
		Version:      1,
		Metadata: cdxMetadata{
			Timestamp: img.Epoch.UTC().Format(time.RFC3339),
			Tools:     cdxTools{Components: []cdxComponent{{Type: "application", Name: creatorTool}}},
			Component: cdxComponent{Type: "container", BOMRef: "image", Name: name, Version: img.Version,
				Description: fmt.Sprintf("Composed by %s for %s.", creatorTool, platform(img))},
		},
	}
	image := cdxDependency{Ref: "image"}
	for i, part := range img.Composition.Parts {
		p := part.Package
		c := cdxComponent{
			Type:               "container",
			BOMRef:             fmt.Sprintf("package-%d-%s", i, sanitize(p.Name)),
			Name:               p.Name,
			Version:            p.Version,
			Description:        fmt.Sprintf("OCI image manifest %s, merged as %s", part.Digest, part.Mode),
			Hashes:             []cdxHash{{Alg: "SHA-256", Content: part.Digest.Encoded()}},
			Licenses:           licenses(p.License),
			CPE:                p.CPE,
			PURL:               ociPURL(part, img),
			ExternalReferences: []cdxExternalRef{{Type: "distribution", URL: p.Canonical}},
		}
		if p.PURL != "" {
			// One purl per component: the product's, which scanners match
			// on; the image's is kept as evidence of identity.
			c.Evidence = &cdxEvidence{Identity: []cdxIdentity{{Field: "purl", Confidence: 1, ConcludedValue: c.PURL}}}
			c.PURL = p.PURL
		}
		if p.FromLock {
			c.Supplier = &cdxSupplier{Name: stagexOrg}
		}
		bom.Components = append(bom.Components, c)
		image.DependsOn = append(image.DependsOn, c.BOMRef)
	}
	for i, a := range img.Composition.Archives {
		c := cdxComponent{
			Type:               "file",
			BOMRef:             fmt.Sprintf("archive-%d-%s", i, sanitize(a.Name)),
			Name:               a.Name,
			Version:            a.Version,
			Description:        fmt.Sprintf("NOT FROM STAGEX: an archive fetched by URL and checked against its sha256, unpacked into %s.", a.Dst),
			Hashes:             []cdxHash{{Alg: "SHA-256", Content: a.SHA256}},
			Licenses:           licenses(a.License),
			ExternalReferences: []cdxExternalRef{{Type: "distribution", URL: a.URL}},
		}
		bom.Components = append(bom.Components, c)
		image.DependsOn = append(image.DependsOn, c.BOMRef)
	}
	for i, f := range img.Composition.GeneratedFiles {
		c := cdxComponent{Type: "file", BOMRef: fmt.Sprintf("file-%d", i), Name: f.Path, Description: fileComment(f)}
		if f.Type == "file" {
			c.Hashes = []cdxHash{{Alg: "SHA-256", Content: sha256Hex(f.Content)}}
		}
		bom.Components = append(bom.Components, c)
		image.DependsOn = append(image.DependsOn, c.BOMRef)
	}
	bom.Dependencies = []cdxDependency{image}

	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(bom); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// uuid8 formats the first 16 bytes of a hex fingerprint as an RFC 9562
// version 8 (custom) UUID.
func uuid8(fp string) string {
	b, _ := hex.DecodeString(fp[:32])
	b[6] = b[6]&0x0f | 0x80 // version 8
	b[8] = b[8]&0x3f | 0x80 // RFC 9562 variant
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// licenses is a license expression as CycloneDX writes it: none when
// nobody recorded one (CycloneDX has no NOASSERTION).
func licenses(expr string) []cdxLicense {
	if expr = licenseExpression(expr); expr == "" {
		return nil
	}
	return []cdxLicense{{Expression: expr}}
}
