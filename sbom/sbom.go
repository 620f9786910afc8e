// Package sbom writes the exact SPDX 2.3 document of a composed image.
//
// A scanner such as syft guesses an image's contents from its files. The
// frontend does not need to guess: it knows every package it merged by name,
// version, license and digest, and every file it generated. This package
// turns that knowledge into a document whose bytes depend only on the
// composition and the epoch, so two builds of the same spec give the same
// SBOM.
package sbom

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/package-url/packageurl-go"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx/v2/common"
	spdx "github.com/spdx/tools-golang/spdx/v2/v2_3"
)

// Image is what the SBOM describes: one platform's composed image.
type Image struct {
	Name     string // the spec's name
	Version  string // the VERSION build arg, if any
	OS       string
	Arch     string
	Variant  string
	Epoch    time.Time
	Packages []Package
	Archives []Archive
	Files    []File // the generated layer's entries
}

// Package is one merged package image.
type Package struct {
	Name       string
	Version    string
	License    string // SPDX expression; "" for unknown
	Ref        string // the pinned reference the build pulled
	Repository string // the reference's repository, e.g. docker.io/stagex/core-musl
	Digest     string // the manifest digest, "sha256:…"
	CPE        string // the upstream product's CPE 2.3 name (from the lock), "" for none
	PURL       string // the upstream product's purl (from the lock), "" for none
	FromStageX bool   // named in the StageX lock
	Role       string // how it was merged: base, diff or whole
	Layers     []string
}

// Archive is content fetched by URL and checksum, not from StageX.
type Archive struct {
	Name    string
	Version string
	License string
	URL     string
	SHA256  string // hex
	Dst     string
}

// File is one entry of the generated layer.
type File struct {
	Path    string
	Type    string // file, symlink or copy
	Content []byte // files: the exact bytes
	Target  string // symlinks
	Source  string // copies
}

const (
	creatorTool  = "stagex-frontend"
	namespaceURL = "https://edp.buildth.ing/devfw-cicd/stagex/spdx/"
	noAssertion  = "NOASSERTION"
	stagexOrg    = "StageX"
)

// SPDX returns the SPDX 2.3 JSON document of img.
func SPDX(img Image) ([]byte, error) {
	name, fp, err := identify(img)
	if err != nil {
		return nil, err
	}
	doc := &spdx.Document{
		SPDXVersion:       spdx.Version,
		DataLicense:       spdx.DataLicense,
		SPDXIdentifier:    "DOCUMENT",
		DocumentName:      name,
		DocumentNamespace: namespaceURL + name + "-" + fp,
		CreationInfo: &spdx.CreationInfo{
			Creators: []common.Creator{{CreatorType: "Tool", Creator: creatorTool}},
			Created:  img.Epoch.UTC().Format(time.RFC3339),
		},
	}
	imageID := common.ElementID("Image")
	doc.Packages = append(doc.Packages, &spdx.Package{
		PackageName:             name,
		PackageSPDXIdentifier:   imageID,
		PackageVersion:          img.Version,
		PackageDownloadLocation: noAssertion,
		PackageLicenseConcluded: noAssertion,
		PackageLicenseDeclared:  noAssertion,
		PackageCopyrightText:    noAssertion,
		PrimaryPackagePurpose:   "CONTAINER",
		PackageComment:          fmt.Sprintf("Composed by %s for %s from the packages this document lists.", creatorTool, platform(img)),
	})
	doc.Relationships = append(doc.Relationships, relate("DOCUMENT", imageID, "DESCRIBES"))

	for i, p := range img.Packages {
		id := common.ElementID(fmt.Sprintf("Package-%d-%s", i, sanitize(p.Name)))
		pkg := &spdx.Package{
			PackageName:               p.Name,
			PackageSPDXIdentifier:     id,
			PackageVersion:            p.Version,
			PackageSupplier:           &common.Supplier{Supplier: noAssertion},
			PackageDownloadLocation:   p.Ref,
			PackageChecksums:          []common.Checksum{{Algorithm: common.SHA256, Value: strings.TrimPrefix(p.Digest, "sha256:")}},
			PackageLicenseConcluded:   orNoAssertion(p.License),
			PackageLicenseDeclared:    orNoAssertion(p.License),
			PackageCopyrightText:      noAssertion,
			PrimaryPackagePurpose:     "CONTAINER",
			PackageComment:            fmt.Sprintf("OCI image manifest %s, merged as %s; layers (diff IDs): %s", p.Digest, p.Role, strings.Join(p.Layers, ", ")),
			PackageExternalReferences: externalRefs(p, img),
		}
		if p.FromStageX {
			pkg.PackageSupplier = &common.Supplier{SupplierType: "Organization", Supplier: stagexOrg}
		}
		doc.Packages = append(doc.Packages, pkg)
		doc.Relationships = append(doc.Relationships, relate(imageID, id, "CONTAINS"))
	}

	for i, a := range img.Archives {
		id := common.ElementID(fmt.Sprintf("Archive-%d-%s", i, sanitize(a.Name)))
		doc.Packages = append(doc.Packages, &spdx.Package{
			PackageName:             a.Name,
			PackageSPDXIdentifier:   id,
			PackageVersion:          a.Version,
			PackageSupplier:         &common.Supplier{Supplier: noAssertion},
			PackageDownloadLocation: a.URL,
			PackageChecksums:        []common.Checksum{{Algorithm: common.SHA256, Value: a.SHA256}},
			PackageLicenseConcluded: orNoAssertion(a.License),
			PackageLicenseDeclared:  orNoAssertion(a.License),
			PackageCopyrightText:    noAssertion,
			PrimaryPackagePurpose:   "ARCHIVE",
			PackageComment:          fmt.Sprintf("NOT FROM STAGEX: an archive fetched by URL and checked against its sha256, unpacked into %s.", a.Dst),
		})
		doc.Relationships = append(doc.Relationships, relate(imageID, id, "CONTAINS"))
	}

	if len(img.Files) > 0 {
		genID := common.ElementID("Generated")
		gen := &spdx.Package{
			PackageName:             name + "-generated",
			PackageSPDXIdentifier:   genID,
			PackageDownloadLocation: "NONE",
			PackageLicenseConcluded: noAssertion,
			PackageLicenseDeclared:  noAssertion,
			PackageCopyrightText:    noAssertion,
			PackageComment:          "The one layer the spec generates: accounts, paths and copies.",
		}
		for i, f := range img.Files {
			fid := common.ElementID(fmt.Sprintf("File-%d", i))
			file := &spdx.File{
				FileName:           "." + f.Path,
				FileSPDXIdentifier: fid,
				LicenseConcluded:   noAssertion,
				FileCopyrightText:  noAssertion,
				Checksums:          []common.Checksum{},
				FileComment:        fileComment(f),
			}
			if f.Type == "file" {
				file.Checksums = []common.Checksum{{Algorithm: common.SHA256, Value: sha256Hex(f.Content)}}
			}
			doc.Files = append(doc.Files, file)
			doc.Relationships = append(doc.Relationships, relate(genID, fid, "CONTAINS"))
		}
		doc.Packages = append(doc.Packages, gen)
		doc.Relationships = append(doc.Relationships, relate(imageID, genID, "CONTAINS"))
	}

	var b bytes.Buffer
	if err := spdxjson.Write(doc, &b, spdxjson.Indent("  "), spdxjson.EscapeHTML(false)); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// fileComment says where a generated entry comes from.
func fileComment(f File) string {
	switch f.Type {
	case "file":
		return "written by the spec"
	case "symlink":
		return "symlink to " + f.Target
	case "copy":
		return "copied from build context " + f.Source + "; its content is whatever that context held"
	}
	return ""
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// identify returns the document's name (the image's, or a stand-in for an
// image with none) and the fingerprint of its inputs.
func identify(img Image) (name, fp string, err error) {
	name = img.Name
	if name == "" {
		name = "stagex-image"
	}
	fp, err = fingerprint(img)
	return name, fp, err
}

// fingerprint is a digest of everything the document says, so that the
// namespace is unique per composition and yet the same for the same inputs.
func fingerprint(img Image) (string, error) {
	dt, err := json.Marshal(img)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(dt)
	return hex.EncodeToString(sum[:16]), nil
}

// externalRefs are a package's SPDX external references: the upstream
// product's CPE and purl, which scanners match advisories on, then the
// pkg:oci purl of the image it was merged from. The product purl comes first
// because Grype and Trivy read only the first purl of a package.
func externalRefs(p Package, img Image) []*spdx.PackageExternalReference {
	var refs []*spdx.PackageExternalReference
	if p.CPE != "" {
		refs = append(refs, &spdx.PackageExternalReference{Category: common.CategorySecurity, RefType: common.TypeSecurityCPE23Type, Locator: p.CPE})
	}
	if p.PURL != "" {
		refs = append(refs, &spdx.PackageExternalReference{Category: common.CategoryPackageManager, RefType: common.TypePackageManagerPURL, Locator: p.PURL})
	}
	return append(refs, &spdx.PackageExternalReference{Category: common.CategoryPackageManager, RefType: common.TypePackageManagerPURL, Locator: ociPURL(p, img)})
}

// ociPURL is the package's purl of type oci: the repository's last element
// as name, the manifest digest as version.
func ociPURL(p Package, img Image) string {
	name := p.Repository
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	q := packageurl.Qualifiers{
		{Key: "arch", Value: img.Arch},
		{Key: "repository_url", Value: p.Repository},
	}
	purl := packageurl.NewPackageURL(packageurl.TypeOCI, "", name, p.Digest, q, "").ToString()
	// The oci purl type percent-encodes the digest's colon in the version
	// ("sha256%3A…"), which packageurl-go leaves as it is.
	return strings.Replace(purl, "@sha256:", "@sha256%3A", 1)
}

func platform(img Image) string {
	s := img.OS + "/" + img.Arch
	if img.Variant != "" {
		s += "/" + img.Variant
	}
	return s
}

func relate(a, b common.ElementID, kind string) *spdx.Relationship {
	return &spdx.Relationship{
		RefA:         common.MakeDocElementID("", string(a)),
		RefB:         common.MakeDocElementID("", string(b)),
		Relationship: kind,
	}
}

func orNoAssertion(s string) string {
	if s == "" {
		return noAssertion
	}
	return s
}

// sanitize keeps an SPDX identifier to the letters, digits, "." and "-"
// that the specification allows.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-':
			return r
		}
		return '-'
	}, s)
}
