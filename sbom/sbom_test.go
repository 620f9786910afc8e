package sbom

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/internal/golden"
	"edp.buildth.ing/devfw-cicd/stagex/llb"
	"edp.buildth.ing/devfw-cicd/stagex/spec"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	spdxjson "github.com/spdx/tools-golang/json"
)

// composition is a fixed image: a base, a package merged as a diff, one
// merged whole, an archive, and a generated layer, as resolution and
// llb.Compose give them.
func composition() Image {
	d := func(c string) digest.Digest { return digest.Digest("sha256:" + strings.Repeat(c, 64)) }
	return Image{
		Name:     "base-app",
		Version:  "1.0.0",
		Platform: ocispecs.Platform{OS: "linux", Architecture: "amd64"},
		Epoch:    time.Unix(1700000000, 0),
		Composition: &llb.Result{
			Parts: []llb.Part{
				{Package: spec.Package{Name: "core-filesystem", Version: "2026.03.0", License: "ISC", Canonical: "docker.io/stagex/core-filesystem@" + d("1").String(), FromLock: true},
					Mode: llb.ModeBase, Digest: d("1"), DiffIDs: []digest.Digest{d("a")}},
				{Package: spec.Package{Name: "core-musl", Version: "1.2.5", License: "MIT", Canonical: "docker.io/stagex/core-musl@" + d("2").String(),
					CPE: "cpe:2.3:a:musl-libc:musl:1.2.5:*:*:*:*:*:*:*", PURL: "pkg:generic/musl@1.2.5", FromLock: true},
					Mode: llb.ModeDiff, Digest: d("2"), DiffIDs: []digest.Digest{d("b")}},
				{Package: spec.Package{Name: "tools", Version: "9", License: spec.NoAssertion, Canonical: "registry.example/tools:9@" + d("3").String()},
					Mode: llb.ModeWhole, Digest: d("3")},
			},
			Archives: []spec.ResolvedArchive{{Archive: spec.Archive{Name: "temurin-jre", Version: "21.0.12+8", License: "GPL-2.0-only WITH Classpath-exception-2.0",
				URL: "https://example.test/jre.tar.gz", SHA256: strings.Repeat("9", 64), Dst: "/opt/java/openjdk"}}},
			GeneratedFiles: []llb.GeneratedFile{
				{Path: "/etc/passwd", Type: "file", Content: []byte("root:x:0:0:root:/root:/bin/sh\n")},
				{Path: "/usr/bin/app", Type: "copy", Source: "context:dist/app"},
				{Path: "/usr/bin/sh", Type: "symlink", Target: "busybox"},
			},
		},
	}
}

// withDigest is img with the manifest digest of part i replaced.
func withDigest(img Image, i int, d digest.Digest) Image {
	c := *img.Composition
	c.Parts = slices.Clone(c.Parts)
	c.Parts[i].Digest = d
	img.Composition = &c
	return img
}

func TestSPDXGolden(t *testing.T) {
	got, err := SPDX(composition())
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "composition.spdx.json", got)
}

func TestCycloneDXGolden(t *testing.T) {
	got, err := CycloneDX(composition())
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "composition.cdx.json", got)
}

// The document must parse as SPDX 2.3 with the standard library for it, and
// say what the composition is.
func TestSPDXParses(t *testing.T) {
	dt, err := SPDX(composition())
	if err != nil {
		t.Fatal(err)
	}
	doc, err := spdxjson.Read(bytes.NewReader(dt))
	if err != nil {
		t.Fatal(err)
	}
	if doc.SPDXVersion != "SPDX-2.3" || doc.CreationInfo.Created != "2023-11-14T22:13:20Z" {
		t.Fatalf("version %q created %q", doc.SPDXVersion, doc.CreationInfo.Created)
	}
	byName := map[string]int{}
	for i, p := range doc.Packages {
		byName[p.PackageName] = i
	}
	musl := doc.Packages[byName["core-musl"]]
	if musl.PackageVersion != "1.2.5" || musl.PackageLicenseDeclared != "MIT" || musl.PackageChecksums[0].Value != strings.Repeat("2", 64) ||
		musl.PackageSupplier.Supplier != "StageX" {
		t.Errorf("core-musl = %+v", musl)
	}
	// The product's CPE and purl, which scanners match on, then the
	// image's purl; Grype and Trivy read the first purl only.
	wantRefs := []string{
		"SECURITY cpe23Type cpe:2.3:a:musl-libc:musl:1.2.5:*:*:*:*:*:*:*",
		"PACKAGE-MANAGER purl pkg:generic/musl@1.2.5",
		"PACKAGE-MANAGER purl pkg:oci/core-musl@sha256%3A" + strings.Repeat("2", 64) + "?arch=amd64&repository_url=docker.io%2Fstagex%2Fcore-musl",
	}
	var refs []string
	for _, r := range musl.PackageExternalReferences {
		refs = append(refs, r.Category+" "+r.RefType+" "+r.Locator)
	}
	if !slices.Equal(refs, wantRefs) {
		t.Errorf("external refs =\n%s\nwant\n%s", strings.Join(refs, "\n"), strings.Join(wantRefs, "\n"))
	}
	if fs := doc.Packages[byName["core-filesystem"]]; len(fs.PackageExternalReferences) != 1 || fs.PackageExternalReferences[0].RefType != "purl" {
		t.Errorf("a package without product identifiers has only its image purl: %+v", fs.PackageExternalReferences)
	}
	if tools := doc.Packages[byName["tools"]]; tools.PackageSupplier.Supplier != "NOASSERTION" || tools.PackageLicenseDeclared != "NOASSERTION" {
		t.Errorf("a package outside the lock must not claim a supplier or license: %+v", tools)
	}
	if jre := doc.Packages[byName["temurin-jre"]]; !strings.Contains(jre.PackageComment, "NOT FROM STAGEX") {
		t.Errorf("the archive does not say it is not from StageX: %q", jre.PackageComment)
	}
	describes := 0
	for _, r := range doc.Relationships {
		if r.Relationship == "DESCRIBES" {
			describes++
		}
	}
	if describes != 1 {
		t.Errorf("%d DESCRIBES relationships, want 1", describes)
	}
}

func TestSPDXIsDeterministicAndTracksInputs(t *testing.T) {
	a, _ := SPDX(composition())
	b, _ := SPDX(composition())
	if !bytes.Equal(a, b) {
		t.Fatal("the same composition gave two documents")
	}
	other := withDigest(composition(), 1, digest.Digest("sha256:"+strings.Repeat("4", 64)))
	c, _ := SPDX(other)
	nsA := string(a[bytes.Index(a, []byte(`"documentNamespace"`)):][:120])
	nsC := string(c[bytes.Index(c, []byte(`"documentNamespace"`)):][:120])
	if nsA == nsC {
		t.Fatal("another package digest kept the same document namespace")
	}
}

// The CycloneDX document says the same as the SPDX one: every package with
// its version, license, digest and purl, and a serial number that is a
// valid version 8 UUID derived from the inputs.
func TestCycloneDXSaysWhatSPDXSays(t *testing.T) {
	dt, err := CycloneDX(composition())
	if err != nil {
		t.Fatal(err)
	}
	var bom struct {
		BOMFormat, SpecVersion, SerialNumber string
		Components                           []struct {
			Name, Version, Purl, CPE string
			Hashes                   []struct{ Alg, Content string }
			Licenses                 []struct{ Expression string }
			Evidence                 struct {
				Identity []struct{ Field, ConcludedValue string }
			}
		}
	}
	if err := json.Unmarshal(dt, &bom); err != nil {
		t.Fatal(err)
	}
	if bom.BOMFormat != "CycloneDX" || bom.SpecVersion != "1.6" || !regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(bom.SerialNumber) {
		t.Fatalf("header = %s %s %s", bom.BOMFormat, bom.SpecVersion, bom.SerialNumber)
	}
	musl := bom.Components[1]
	if musl.Name != "core-musl" || musl.Version != "1.2.5" || musl.Licenses[0].Expression != "MIT" ||
		musl.Hashes[0].Content != strings.Repeat("2", 64) || musl.Purl != "pkg:generic/musl@1.2.5" ||
		musl.CPE != "cpe:2.3:a:musl-libc:musl:1.2.5:*:*:*:*:*:*:*" || len(musl.Evidence.Identity) != 1 ||
		musl.Evidence.Identity[0].Field != "purl" || !strings.HasPrefix(musl.Evidence.Identity[0].ConcludedValue, "pkg:oci/core-musl@sha256%3A") {
		t.Errorf("core-musl = %+v", musl)
	}
	if fs := bom.Components[0]; !strings.HasPrefix(fs.Purl, "pkg:oci/core-filesystem@") || fs.CPE != "" || fs.Evidence.Identity != nil {
		t.Errorf("a package without product identifiers keeps its image purl: %+v", fs)
	}
	other := withDigest(composition(), 1, digest.Digest("sha256:"+strings.Repeat("4", 64)))
	dt2, _ := CycloneDX(other)
	var bom2 struct{ SerialNumber string }
	if err := json.Unmarshal(dt2, &bom2); err != nil {
		t.Fatal(err)
	}
	if bom2.SerialNumber == bom.SerialNumber {
		t.Error("another composition kept the serial number")
	}
}
