// Package rebuild checks a published image the way an independent signer
// does before signing it: it reads the image's BuildKit SLSA provenance,
// builds the same spec and lock (from a checkout, at the recorded git
// revision) with the same build args on a BuildKit of the rebuilder's
// choosing, and compares the platform manifest digests. When they differ
// it names what differs: which config fields, which layers.
package rebuild

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	provtypes "github.com/moby/buildkit/solver/llbsolver/provenance/types"
)

// Annotations BuildKit puts on an attestation manifest in an image index
// and on its layers, and the in-toto predicate types of its provenance.
const (
	annotationRefType   = "vnd.docker.reference.type"
	annotationRefDigest = "vnd.docker.reference.digest"
	refTypeAttestation  = "attestation-manifest"
	// AnnotationPredicate names an attestation layer's in-toto predicate type.
	AnnotationPredicate = "in-toto.io/predicate-type"
	predicateSLSA1      = "https://slsa.dev/provenance/v1"
	predicateSLSA02     = "https://slsa.dev/provenance/v0.2"
)

// ImageManifests returns an index's platform images, leaving out the
// attestation manifests BuildKit adds: those for platform (os/arch[/variant]),
// or all when platform is "".
func ImageManifests(im *v1.IndexManifest, platform string) []v1.Descriptor {
	var out []v1.Descriptor
	for _, m := range im.Manifests {
		if m.Annotations[annotationRefType] == refTypeAttestation || m.Platform == nil {
			continue
		}
		if platform == "" || platformOf(m.Platform) == platform {
			out = append(out, m)
		}
	}
	return out
}

// AttestationManifests returns the attestation manifests of an index that
// BuildKit made for the image manifest image.
func AttestationManifests(im *v1.IndexManifest, image v1.Hash) []v1.Descriptor {
	var out []v1.Descriptor
	for _, m := range im.Manifests {
		if m.Annotations[annotationRefType] == refTypeAttestation && m.Annotations[annotationRefDigest] == image.String() {
			out = append(out, m)
		}
	}
	return out
}

// Published is one platform's image of a published index and what its
// provenance says about how it was built.
type Published struct {
	Ref      name.Digest // the index, by digest
	Platform string      // os/arch[/variant]
	Manifest v1.Hash     // the platform manifest's digest
	Image    v1.Image
	Build    Build
}

// Build is what a rebuild needs from the provenance.
type Build struct {
	// Filename is the spec's path in the build context (configSource.path).
	Filename string
	// Args are the build args (without "build-arg:").
	Args map[string]string
	// Frontend names the frontend that composed the image: the syntax
	// reference the spec's first line gives (source), and what it was
	// replaced with, if anything (a named context: "docker-image://…", or
	// "input:…" for a frontend built in the same bake run).
	Syntax, SyntaxContext string
	// Frontends are images the provenance lists as resolved dependencies
	// under the syntax reference's repository, by digest.
	Frontends []string
	// Revision and ContextDir are the git facts buildx recorded: the commit
	// and the build context's folder inside the repository.
	Revision, ContextDir string
}

// platformOf formats a manifest's platform as os/arch[/variant].
func platformOf(p *v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// readPublished reads the index at ref, picks the platform's manifest (the
// only one when platform is ""), and parses the provenance attached to it.
func readPublished(ref name.Digest, platform string, opts ...remote.Option) (*Published, error) {
	idx, err := remote.Index(ref, opts...)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w (rebuild needs the image index that holds the attestations)", ref, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	images := ImageManifests(im, platform)
	switch {
	case len(images) == 0 && platform != "":
		return nil, fmt.Errorf("%s has no %s image", ref, platform)
	case len(images) == 0:
		return nil, fmt.Errorf("%s holds no platform image", ref)
	case len(images) > 1:
		var ps []string
		for _, m := range images {
			ps = append(ps, platformOf(m.Platform))
		}
		return nil, fmt.Errorf("%s holds images for %s: choose one with --platform", ref, strings.Join(ps, ", "))
	}
	p := &Published{Ref: ref, Platform: platformOf(images[0].Platform), Manifest: images[0].Digest}
	if p.Image, err = idx.Image(p.Manifest); err != nil {
		return nil, err
	}
	for _, m := range AttestationManifests(im, p.Manifest) {
		att, err := idx.Image(m.Digest)
		if err != nil {
			return nil, err
		}
		layers, err := att.Layers()
		if err != nil {
			return nil, err
		}
		am, err := att.Manifest()
		if err != nil {
			return nil, err
		}
		for i, l := range am.Layers {
			pt := l.Annotations[AnnotationPredicate]
			if pt != predicateSLSA1 && pt != predicateSLSA02 {
				continue
			}
			rc, err := layers[i].Uncompressed()
			if err != nil {
				return nil, err
			}
			data, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				return nil, err
			}
			if p.Build, err = parseProvenance(data); err != nil {
				return nil, fmt.Errorf("provenance of %s@%s: %w", ref.Context(), p.Manifest, err)
			}
			return p, nil
		}
	}
	return nil, fmt.Errorf("%s (%s) carries no SLSA provenance: build it with --attest type=provenance,mode=max (the bake file does)", ref, p.Platform)
}

// parseProvenance reads an in-toto statement with BuildKit's SLSA v1 or
// v0.2 provenance predicate.
func parseProvenance(statement []byte) (Build, error) {
	var st struct {
		PredicateType string          `json:"predicateType"`
		Predicate     json.RawMessage `json:"predicate"`
	}
	if err := json.Unmarshal(statement, &st); err != nil {
		return Build{}, fmt.Errorf("not an in-toto statement: %w", err)
	}
	var (
		req     provtypes.Parameters
		cfgPath string
		vcs     map[string]string
		deps    []string
	)
	switch st.PredicateType {
	case predicateSLSA1:
		var p provtypes.ProvenancePredicateSLSA1
		if err := json.Unmarshal(st.Predicate, &p); err != nil {
			return Build{}, err
		}
		req, cfgPath = p.BuildDefinition.ExternalParameters.Request, p.BuildDefinition.ExternalParameters.ConfigSource.Path
		if p.RunDetails.Metadata != nil {
			vcs = p.RunDetails.Metadata.BuildKitMetadata.VCS
		}
		for _, d := range p.BuildDefinition.ResolvedDependencies {
			deps = append(deps, d.URI)
		}
	case predicateSLSA02:
		var p provtypes.ProvenancePredicateSLSA02
		if err := json.Unmarshal(st.Predicate, &p); err != nil {
			return Build{}, err
		}
		req, cfgPath = p.Invocation.Parameters, p.Invocation.ConfigSource.EntryPoint
		if p.Metadata != nil {
			vcs = p.Metadata.BuildKitMetadata.VCS
		}
		for _, m := range p.Materials {
			deps = append(deps, m.URI)
		}
	default:
		return Build{}, fmt.Errorf("predicate type %q is not SLSA provenance", st.PredicateType)
	}
	if cfgPath == "" {
		return Build{}, fmt.Errorf("no spec file name (configSource) recorded")
	}
	b := Build{Filename: cfgPath, Args: map[string]string{}, Revision: vcs["revision"], ContextDir: vcs["localdir:context"]}
	for _, k := range slices.Sorted(maps.Keys(req.Args)) {
		if a, ok := strings.CutPrefix(k, "build-arg:"); ok {
			b.Args[a] = req.Args[k]
		}
	}
	b.Syntax = req.Args["source"]
	if b.Syntax != "" {
		b.SyntaxContext = req.Args["context:"+b.Syntax]
		if named, err := name.ParseReference(b.Syntax); err == nil {
			repo := named.Context().RepositoryStr()
			for _, d := range deps {
				if ref, ok := dependencyImage(d); ok && strings.HasSuffix(ref.Context().RepositoryStr(), repo) {
					b.Frontends = append(b.Frontends, ref.String())
				}
			}
		}
	}
	return b, nil
}

// dependencyImage turns a resolved dependency's purl,
// "pkg:docker/<repo>@<tag>?digest=sha256:…&platform=…", into a reference by
// digest.
func dependencyImage(uri string) (name.Digest, bool) {
	rest, ok := strings.CutPrefix(uri, "pkg:docker/")
	if !ok {
		return name.Digest{}, false
	}
	repo, query, _ := strings.Cut(rest, "?")
	repo, _, _ = strings.Cut(repo, "@")
	for _, kv := range strings.Split(query, "&") {
		if d, ok := strings.CutPrefix(kv, "digest="); ok {
			ref, err := name.NewDigest(repo + "@" + d)
			return ref, err == nil
		}
	}
	return name.Digest{}, false
}
