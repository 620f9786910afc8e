package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	slsa1 "github.com/in-toto/in-toto-golang/in_toto/slsa_provenance/v1"
	spdxjson "github.com/spdx/tools-golang/json"

	"edp.buildth.ing/devfw-cicd/stagex/internal/bed"
	"edp.buildth.ing/devfw-cicd/stagex/internal/fixtures"
	"edp.buildth.ing/devfw-cicd/stagex/internal/solve"
)

const (
	predicateSPDX      = "https://spdx.dev/Document"
	predicateCycloneDX = "https://cyclonedx.org/bom"
	predicateSLSA      = "https://slsa.dev/provenance/v1"
)

// attestedBuild builds appSpec with an SBOM (with the given attest:sbom
// parameters) and provenance of the given mode, on the first or second
// daemon, and returns the pushed reference and the build log.
func attestedBuild(ctx context.Context, t *testing.T, b *bed.Bed, dir, tag, sbomParams, mode string, second bool) (string, string) {
	t.Helper()
	cl := client1(ctx, t)
	if second {
		var err error
		if cl, err = requireSecondBed(t).Client(ctx); err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
	}
	ref := b.Ref("it/attested:" + tag)
	res, err := solve.Dockerfile(ctx, cl, solve.DockerfileBuild{
		DockerfileDir: dir,
		ContextDir:    dir,
		Filename:      "stagex.yaml",
		BuildArgs:     map[string]string{"SOURCE_DATE_EPOCH": "1700000000", "VERSION": "1.0.0"},
		Attrs:         map[string]string{"attest:sbom": sbomParams, "attest:provenance": "mode=" + mode},
		Push:          ref,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.Ref("it/attested@" + res.Digest), res.Log
}

// TestAttestations builds with an SBOM and SLSA provenance, reads both back
// from the registry and checks them against the fixture lock.
func TestAttestations(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	b := requireBed(t)
	fx := pushedFixtures(t)
	fe := frontendImage(t)
	dir := specDir(t, fe, appSpec)

	ref, log := attestedBuild(ctx, t, b, dir, "max", "", "max", false)
	// Offline proof: this bed reaches no registry but its own, so a scanner
	// image could not even be pulled; BuildKit must not have tried.
	if strings.Contains(log, "generating sbom using") {
		t.Fatalf("BuildKit ran its SBOM scanner:\n%s", log)
	}
	imageDigest, atts, err := attestations(ref)
	if err != nil {
		t.Fatal(err)
	}
	byType := map[string]attestation{}
	for _, a := range atts {
		byType[a.PredicateType] = a
	}

	// The SBOM: every package by name, version, license and digest, as the
	// lock says, and the statement is about this image.
	sbomAtt, ok := byType[predicateSPDX]
	if !ok {
		t.Fatalf("no SPDX attestation among %d", len(atts))
	}
	var st struct {
		Subject []struct {
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
	}
	if err := json.Unmarshal(sbomAtt.Statement, &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Subject) != 1 || "sha256:"+st.Subject[0].Digest["sha256"] != imageDigest {
		t.Errorf("SBOM subject = %+v, want the image %s", st.Subject, imageDigest)
	}
	doc, err := spdxjson.Read(bytes.NewReader(sbomAtt.Predicate))
	if err != nil {
		t.Fatalf("the SBOM is not SPDX: %v", err)
	}
	lock := fixtures.NewLock(b.RegistryAddr, fx)
	seen := map[string]bool{}
	for _, p := range doc.Packages {
		f, ok := fx[p.PackageName]
		if !ok {
			continue
		}
		seen[p.PackageName] = true
		lp := lock.Packages[p.PackageName]
		if p.PackageVersion != lp.Version || p.PackageLicenseDeclared != lp.License ||
			len(p.PackageChecksums) != 1 || "sha256:"+p.PackageChecksums[0].Value != f.Digest {
			t.Errorf("SBOM package %s = version %q license %q checksums %v; lock says %q %q %s",
				p.PackageName, p.PackageVersion, p.PackageLicenseDeclared, p.PackageChecksums, lp.Version, lp.License, f.Digest)
		}
		if !strings.HasPrefix(p.PackageExternalReferences[0].Locator, "pkg:oci/"+p.PackageName+"@sha256%3A") {
			t.Errorf("purl of %s = %s", p.PackageName, p.PackageExternalReferences[0].Locator)
		}
	}
	for _, want := range []string{"core-filesystem", "core-musl", "core-busybox", "pallet-tools"} {
		if !seen[want] {
			t.Errorf("the SBOM lacks %s", want)
		}
	}
	if doc.CreationInfo.Created != "2023-11-14T22:13:20Z" {
		t.Errorf("SBOM created %q, want the epoch", doc.CreationInfo.Created)
	}

	// The provenance: SLSA v1, every package and the frontend image among
	// the resolved dependencies, by digest.
	provAtt, ok := byType[predicateSLSA]
	if !ok {
		t.Fatalf("no SLSA v1 provenance among %d attestations", len(atts))
	}
	var prov slsa1.ProvenancePredicate
	if err := json.Unmarshal(provAtt.Predicate, &prov); err != nil {
		t.Fatal(err)
	}
	deps := map[string]bool{}
	for _, d := range prov.BuildDefinition.ResolvedDependencies {
		deps["sha256:"+d.Digest["sha256"]] = true
	}
	for _, name := range []string{"core-filesystem", "core-musl", "core-busybox", "pallet-tools"} {
		if !deps[fx[name].Digest] {
			t.Errorf("provenance does not list %s (%s); it lists %+v", name, fx[name].Digest, prov.BuildDefinition.ResolvedDependencies)
		}
	}
	if feDigest := fe[strings.LastIndex(fe, "@")+1:]; !deps[feDigest] {
		t.Errorf("provenance does not list the frontend image %s", feDigest)
	}
	// mode=max carries the LLB with the spec as its source, so each step
	// points back to the spec line that asked for it.
	if !bytes.Contains(provAtt.Predicate, []byte(`"locations"`)) || !bytes.Contains(provAtt.Predicate, []byte(`stagex.yaml`)) {
		t.Error("mode=max provenance has no source locations into stagex.yaml")
	}

	// The same SBOM, byte for byte, from the second daemon. It is pushed
	// under the same name, because the in-toto statement names the image.
	if haveSecondBed() {
		ref2, _ := attestedBuild(ctx, t, b, dir, "max", "", "max", true)
		_, atts2, err := attestations(ref2)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range atts2 {
			if a.PredicateType == predicateSPDX && (a.LayerDigest != sbomAtt.LayerDigest || !bytes.Equal(a.Predicate, sbomAtt.Predicate)) {
				t.Errorf("SBOM differs between daemons: %s vs %s", sbomAtt.LayerDigest, a.LayerDigest)
			}
		}
	} else if bed.InCI() {
		t.Fatal("CI: no second daemon to compare the SBOM with")
	}

	// mode=min works too.
	refMin, _ := attestedBuild(ctx, t, b, dir, "min", "", "min", false)
	_, attsMin, err := attestations(refMin)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range attsMin {
		found = found || a.PredicateType == predicateSLSA
	}
	if !found {
		t.Error("no provenance with mode=min")
	}
}

// TestCycloneDXOnRequest: `--attest type=sbom,cyclonedx=true` adds a
// CycloneDX 1.6 document beside the SPDX one, saying the same.
func TestCycloneDXOnRequest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b := requireBed(t)
	fx := pushedFixtures(t)
	dir := specDir(t, frontendImage(t), appSpec)
	ref, _ := attestedBuild(ctx, t, b, dir, "cdx", "cyclonedx=true", "min", false)
	_, atts, err := attestations(ref)
	if err != nil {
		t.Fatal(err)
	}
	var bom struct {
		SpecVersion string `json:"specVersion"`
		Components  []struct {
			Name   string `json:"name"`
			Hashes []struct {
				Content string `json:"content"`
			} `json:"hashes"`
		} `json:"components"`
	}
	types := map[string]bool{}
	for _, a := range atts {
		types[a.PredicateType] = true
		if a.PredicateType == predicateCycloneDX {
			if err := json.Unmarshal(a.Predicate, &bom); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !types[predicateSPDX] || !types[predicateCycloneDX] {
		t.Fatalf("predicate types = %v, want SPDX and CycloneDX", types)
	}
	if bom.SpecVersion != "1.6" {
		t.Errorf("specVersion = %q", bom.SpecVersion)
	}
	found := false
	for _, c := range bom.Components {
		if c.Name == "core-musl" {
			found = len(c.Hashes) == 1 && "sha256:"+c.Hashes[0].Content == fx["core-musl"].Digest
		}
	}
	if !found {
		t.Errorf("CycloneDX lacks core-musl at %s: %+v", fx["core-musl"].Digest, bom.Components)
	}
}
