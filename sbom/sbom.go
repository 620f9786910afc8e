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

	"edp.buildth.ing/devfw-cicd/stagex/llb"
	"edp.buildth.ing/devfw-cicd/stagex/spec"
	"github.com/containerd/platforms"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/package-url/packageurl-go"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx/v2/common"
	spdx "github.com/spdx/tools-golang/spdx/v2/v2_3"
)

// Image is what the SBOM describes: one platform's composed image, as
// package llb composed it.
type Image struct {
	Name        string // the spec's name
	Version     string // the VERSION build arg, if any
	Platform    ocispecs.Platform
	Epoch       time.Time
	Composition *llb.Result // its Parts, Archives and GeneratedFiles
}

const (
	creatorTool  = "stagex-frontend"
	namespaceURL = "https://edp.buildth.ing/devfw-cicd/stagex/spdx/"
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
		PackageDownloadLocation: spec.NoAssertion,
		PackageLicenseConcluded: spec.NoAssertion,
		PackageLicenseDeclared:  spec.NoAssertion,
		PackageCopyrightText:    spec.NoAssertion,
		PrimaryPackagePurpose:   "CONTAINER",
		PackageComment:          fmt.Sprintf("Composed by %s for %s from the packages this document lists.", creatorTool, platform(img)),
	})
	doc.Relationships = append(doc.Relationships, relate("DOCUMENT", imageID, "DESCRIBES"))

	for i, part := range img.Composition.Parts {
		p := part.Package
		id := common.ElementID(fmt.Sprintf("Package-%d-%s", i, sanitize(p.Name)))
		pkg := &spdx.Package{
			PackageName:               p.Name,
			PackageSPDXIdentifier:     id,
			PackageVersion:            p.Version,
			PackageSupplier:           &common.Supplier{Supplier: spec.NoAssertion},
			PackageDownloadLocation:   p.Canonical,
			PackageChecksums:          []common.Checksum{{Algorithm: common.SHA256, Value: part.Digest.Encoded()}},
			PackageLicenseConcluded:   p.License,
			PackageLicenseDeclared:    p.License,
			PackageCopyrightText:      spec.NoAssertion,
			PrimaryPackagePurpose:     "CONTAINER",
			PackageComment:            fmt.Sprintf("OCI image manifest %s, merged as %s; layers (diff IDs): %s", part.Digest, part.Mode, strings.Join(layers(part), ", ")),
			PackageExternalReferences: externalRefs(part, img),
		}
		if p.FromLock {
			pkg.PackageSupplier = &common.Supplier{SupplierType: "Organization", Supplier: stagexOrg}
		}
		doc.Packages = append(doc.Packages, pkg)
		doc.Relationships = append(doc.Relationships, relate(imageID, id, "CONTAINS"))
	}

	for i, a := range img.Composition.Archives {
		id := common.ElementID(fmt.Sprintf("Archive-%d-%s", i, sanitize(a.Name)))
		doc.Packages = append(doc.Packages, &spdx.Package{
			PackageName:             a.Name,
			PackageSPDXIdentifier:   id,
			PackageVersion:          a.Version,
			PackageSupplier:         &common.Supplier{Supplier: spec.NoAssertion},
			PackageDownloadLocation: a.URL,
			PackageChecksums:        []common.Checksum{{Algorithm: common.SHA256, Value: a.SHA256}},
			PackageLicenseConcluded: a.License,
			PackageLicenseDeclared:  a.License,
			PackageCopyrightText:    spec.NoAssertion,
			PrimaryPackagePurpose:   "ARCHIVE",
			PackageComment:          fmt.Sprintf("NOT FROM STAGEX: an archive fetched by URL and checked against its sha256, unpacked into %s.", a.Dst),
		})
		doc.Relationships = append(doc.Relationships, relate(imageID, id, "CONTAINS"))
	}

	if len(img.Composition.GeneratedFiles) > 0 {
		genID := common.ElementID("Generated")
		gen := &spdx.Package{
			PackageName:             name + "-generated",
			PackageSPDXIdentifier:   genID,
			PackageDownloadLocation: "NONE",
			PackageLicenseConcluded: spec.NoAssertion,
			PackageLicenseDeclared:  spec.NoAssertion,
			PackageCopyrightText:    spec.NoAssertion,
			PackageComment:          "The one layer the spec generates: accounts, paths and copies.",
		}
		for i, f := range img.Composition.GeneratedFiles {
			fid := common.ElementID(fmt.Sprintf("File-%d", i))
			file := &spdx.File{
				FileName:           "." + f.Path,
				FileSPDXIdentifier: fid,
				LicenseConcluded:   spec.NoAssertion,
				FileCopyrightText:  spec.NoAssertion,
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
func fileComment(f llb.GeneratedFile) string {
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
	dt, err := json.Marshal(fingerprintOf(img))
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(dt)
	return hex.EncodeToString(sum[:16]), nil
}

// fingerprintInput is what fingerprint digests. Its JSON form is fixed, so
// that a composition keeps its document namespace and serial number from
// one frontend version to the next; a license nobody recorded is "".
type fingerprintInput struct {
	Name, Version, OS, Arch, Variant string
	Epoch                            time.Time
	Packages                         []fingerprintPackage
	Archives                         []fingerprintArchive
	Files                            []llb.GeneratedFile
}

type fingerprintPackage struct {
	Name, Version, License, Ref, Repository, Digest, CPE, PURL string
	FromStageX                                                 bool
	Role                                                       string
	Layers                                                     []string
}

type fingerprintArchive struct{ Name, Version, License, URL, SHA256, Dst string }

func fingerprintOf(img Image) fingerprintInput {
	c := img.Composition
	in := fingerprintInput{Name: img.Name, Version: img.Version, OS: img.Platform.OS, Arch: img.Platform.Architecture,
		Variant: img.Platform.Variant, Epoch: img.Epoch, Files: c.GeneratedFiles}
	for _, part := range c.Parts {
		p := part.Package
		in.Packages = append(in.Packages, fingerprintPackage{
			Name: p.Name, Version: p.Version, License: licenseExpression(p.License), Ref: p.Canonical, Repository: p.Repository(),
			Digest: part.Digest.String(), CPE: p.CPE, PURL: p.PURL, FromStageX: p.FromLock, Role: string(part.Mode), Layers: layers(part),
		})
	}
	for _, a := range c.Archives {
		in.Archives = append(in.Archives, fingerprintArchive{a.Name, a.Version, licenseExpression(a.License), a.URL, a.SHA256, a.Dst})
	}
	return in
}

// licenseExpression is a license as an expression, "" when nobody
// recorded one.
func licenseExpression(l string) string {
	if l == spec.NoAssertion {
		return ""
	}
	return l
}

// layers are the diff IDs a part adds, as strings.
func layers(part llb.Part) []string {
	out := make([]string, 0, len(part.DiffIDs))
	for _, id := range part.DiffIDs {
		out = append(out, id.String())
	}
	return out
}

// externalRefs are a package's SPDX external references: the upstream
// product's CPE and purl, which scanners match advisories on, then the
// pkg:oci purl of the image it was merged from. The product purl comes first
// because Grype and Trivy read only the first purl of a package.
func externalRefs(part llb.Part, img Image) []*spdx.PackageExternalReference {
	var refs []*spdx.PackageExternalReference
	if p := part.Package; p.CPE != "" {
		refs = append(refs, &spdx.PackageExternalReference{Category: common.CategorySecurity, RefType: common.TypeSecurityCPE23Type, Locator: p.CPE})
	}
	if p := part.Package; p.PURL != "" {
		refs = append(refs, &spdx.PackageExternalReference{Category: common.CategoryPackageManager, RefType: common.TypePackageManagerPURL, Locator: p.PURL})
	}
	return append(refs, &spdx.PackageExternalReference{Category: common.CategoryPackageManager, RefType: common.TypePackageManagerPURL, Locator: ociPURL(part, img)})
}

// ociPURL is the package's purl of type oci: the repository's last element
// as name, the manifest digest as version.
func ociPURL(part llb.Part, img Image) string {
	repo := part.Package.Repository()
	name := repo
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	q := packageurl.Qualifiers{
		{Key: "arch", Value: img.Platform.Architecture},
		{Key: "repository_url", Value: repo},
	}
	purl := packageurl.NewPackageURL(packageurl.TypeOCI, "", name, part.Digest.String(), q, "").ToString()
	// The oci purl type percent-encodes the digest's colon in the version
	// ("sha256%3A…"), which packageurl-go leaves as it is.
	return strings.Replace(purl, "@sha256:", "@sha256%3A", 1)
}

func platform(img Image) string { return platforms.Format(img.Platform) }

func relate(a, b common.ElementID, kind string) *spdx.Relationship {
	return &spdx.Relationship{
		RefA:         common.MakeDocElementID("", string(a)),
		RefB:         common.MakeDocElementID("", string(b)),
		Relationship: kind,
	}
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
