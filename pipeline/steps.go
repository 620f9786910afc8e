package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strings"

	"edp.buildth.ing/devfw-cicd/stagex/check"
	"edp.buildth.ing/devfw-cicd/stagex/signing"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Check runs the composition check (package check) on every image's
// platform image, with its spec's accepted findings; root is the folder
// the specs' paths are relative to. Reports go to w.
func Check(ctx context.Context, s *State, root string, w io.Writer, opts ...remote.Option) error {
	return s.Run(StepCheck, func(img *Image) (string, error) {
		req := check.ImageRequest{
			Source:   img.Repo + "@" + img.Digest,
			Platform: v1.Platform{OS: "linux", Architecture: runtime.GOARCH},
		}
		if img.Spec != "" {
			req.SpecFile = filepath.Join(root, filepath.FromSlash(img.Spec))
		}
		if err := onlyPlatform(ctx, img, req.Platform, opts); err != nil {
			return "", err
		}
		r, err := check.CheckImage(ctx, req, opts...)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(w, "== %s\n", img.Target)
		if err := r.WriteTable(w); err != nil {
			return "", err
		}
		if r.Failed() {
			return "", fmt.Errorf("the check failed (%d errors)", r.Summary["error"])
		}
		return fmt.Sprintf("%d warnings, %d accepted", r.Summary["warning"], r.Summary["accepted"]), nil
	})
}

// onlyPlatform refuses an index holding a platform image other than p: the
// check reads one platform image, and Tag would publish the others
// unchecked. BuildKit's attestation manifests (unknown/unknown) are not
// images.
func onlyPlatform(ctx context.Context, img *Image, p v1.Platform, opts []remote.Option) error {
	d, err := img.Ref()
	if err != nil {
		return err
	}
	desc, err := remote.Get(d, append([]remote.Option{remote.WithContext(ctx)}, opts...)...)
	if err != nil {
		return fmt.Errorf("reading %s: %w", d, err)
	}
	if !desc.MediaType.IsIndex() {
		return nil
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	var other []string
	for _, mf := range m.Manifests {
		if mf.Platform == nil || mf.Platform.OS == "unknown" || (mf.Platform.OS == p.OS && mf.Platform.Architecture == p.Architecture) {
			continue
		}
		other = append(other, mf.Platform.String())
	}
	if len(other) > 0 {
		return fmt.Errorf("the index holds %s, which the check (of %s only) does not read\nhint: run the check step on a runner of each platform, or build %s only", strings.Join(other, ", "), p.String(), p.String())
	}
	return nil
}

// Key is a signing key with the name it is known by in messages.
type Key struct {
	Name string
	Key  *signing.PrivateKey
}

// Sign signs every image's digest with every key, in format f.
func Sign(ctx context.Context, s *State, keys []Key, f signing.Format, w io.Writer, opts ...remote.Option) error {
	if len(keys) == 0 {
		return errors.New("sign: no key\nhint: name the signing keys (SIGN_KEYS)")
	}
	return s.Run(StepSign, func(img *Image) (string, error) {
		d, err := img.Ref()
		if err != nil {
			return "", err
		}
		var by []string
		for _, k := range keys {
			res, err := signing.Sign(ctx, d, k.Key, f, opts...)
			if err != nil {
				return "", fmt.Errorf("%s: %w", k.Name, err)
			}
			fmt.Fprintf(w, "%s: signed by %s (%s), %s format, %d signatures in all\n", img.Target, k.Name, k.Key.Fingerprint, res.Format, res.Signatures)
			by = append(by, k.Key.Fingerprint)
		}
		return "signed by " + strings.Join(by, ", "), nil
	})
}

// Attest signs the SLSA provenance and the SPDX SBOMs BuildKit attached to
// every image as attestations of its digest (what `cosign attest --type
// slsaprovenance1` and `--type spdxjson` write), with every key, in format f.
func Attest(ctx context.Context, s *State, keys []Key, f signing.Format, w io.Writer, opts ...remote.Option) error {
	if len(keys) == 0 {
		return errors.New("attest: no key\nhint: name the attesting key (ATTEST_KEYS)")
	}
	return s.Run(StepAttest, func(img *Image) (string, error) {
		d, err := img.Ref()
		if err != nil {
			return "", err
		}
		var n, m int
		for _, k := range keys {
			if n, err = AttestProvenance(ctx, d, k.Key, f, opts...); err == nil {
				m, err = attestSBOMs(ctx, d, k.Key, f, opts)
			}
			if err != nil {
				return "", fmt.Errorf("%s: %w", k.Name, err)
			}
			fmt.Fprintf(w, "%s: %d provenance and %d SBOM attestation(s) signed by %s (%s)\n", img.Target, n, m, k.Name, k.Key.Fingerprint)
		}
		return fmt.Sprintf("%d provenance, %d SBOM", n, m), nil
	})
}

// AttestProvenance signs each platform image's BuildKit provenance of the
// index d as an attestation of d; it returns how many it attested.
func AttestProvenance(ctx context.Context, d name.Digest, key *signing.PrivateKey, f signing.Format, opts ...remote.Option) (int, error) {
	provs, err := signing.Provenance(ctx, d, opts...)
	if err != nil {
		return 0, err
	}
	for _, p := range provs {
		st, err := signing.AttestStatement(d, p)
		if err != nil {
			return 0, err
		}
		if _, err := signing.Attest(ctx, d, key, f, signing.ProvenanceType, st, opts...); err != nil {
			return 0, err
		}
	}
	return len(provs), nil
}

// attestSBOMs signs each SPDX SBOM BuildKit attached to the index d as an
// attestation of d (an image built without one, such as the frontend,
// has none); it returns how many it attested.
func attestSBOMs(ctx context.Context, d name.Digest, key *signing.PrivateKey, f signing.Format, opts []remote.Option) (int, error) {
	sboms, _, err := signing.Attached(ctx, d, SPDXType, opts...)
	if err != nil {
		return 0, err
	}
	for _, sb := range sboms {
		st, err := signing.Statement(d, SPDXType, sb.Predicate)
		if err != nil {
			return 0, err
		}
		if _, err := signing.Attest(ctx, d, key, f, SPDXType, st, opts...); err != nil {
			return 0, err
		}
	}
	return len(sboms), nil
}

// Verify requires policy (N of M signers) on every image's digest.
func Verify(ctx context.Context, s *State, policy signing.Policy, w io.Writer, opts ...remote.Option) error {
	if err := policy.Check(); err != nil {
		return err
	}
	return s.Run(StepVerify, func(img *Image) (string, error) {
		r, err := signing.Verify(ctx, img.Repo+"@"+img.Digest, policy, opts...)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(w, "%s: %d of %d signers (threshold %d)\n", img.Target, len(r.Matched), len(r.Matched)+len(r.Unmatched), r.Threshold)
		return fmt.Sprintf("%d signers of %d", len(r.Matched), len(r.Matched)+len(r.Unmatched)), nil
	})
}

// Tag points every tag of every image that passed every step at its pushed
// digest (the manifest as pushed: nothing is rebuilt or re-encoded). An
// image any step did not pass gets no tag; the error names each.
func Tag(ctx context.Context, s *State, w io.Writer, opts ...remote.Option) error {
	var failed []string
	for _, img := range s.Images {
		if !img.Passed() {
			failed = append(failed, fmt.Sprintf("%s: not tagged: %s", img.Target, img.why()))
			continue
		}
		d, err := img.Ref()
		if err == nil {
			err = tagImage(ctx, img, d, opts)
		}
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", img.Target, err))
			continue
		}
		for _, t := range img.Tagged {
			fmt.Fprintf(w, "%s: %s -> %s\n", img.Target, t, img.Digest)
		}
	}
	if err := s.Save(); err != nil {
		return err
	}
	if len(failed) > 0 {
		return fmt.Errorf("tag: %d image(s) not tagged:\n  %s", len(failed), strings.Join(failed, "\n  "))
	}
	return nil
}

func tagImage(ctx context.Context, img *Image, d name.Digest, opts []remote.Option) error {
	img.Tagged = nil
	desc, err := remote.Get(d, append([]remote.Option{remote.WithContext(ctx)}, opts...)...)
	if err != nil {
		return fmt.Errorf("reading %s: %w", d, err)
	}
	for _, t := range img.Tags {
		tag, err := name.NewTag(t, name.StrictValidation)
		if err != nil {
			return err
		}
		if tag.Context().String() != d.Context().String() {
			return fmt.Errorf("tag %s is not in %s", t, d.Context())
		}
		if err := remote.Tag(tag, desc, append([]remote.Option{remote.WithContext(ctx)}, opts...)...); err != nil {
			return fmt.Errorf("tagging %s: %w", t, err)
		}
		img.Tagged = append(img.Tagged, t)
	}
	return nil
}

// why says which steps did not pass.
func (i *Image) why() string {
	var out []string
	for _, s := range Steps {
		r, ok := i.Steps[s]
		switch {
		case !ok || r.NotRun:
			out = append(out, string(s)+" not run")
		case !r.Passed:
			out = append(out, string(s)+" failed")
		}
	}
	return strings.Join(out, ", ")
}

// Digests renders the digests table: every image built, its pushed
// digest, each step's outcome and the tags written.
func Digests(s *State) []byte {
	var b strings.Builder
	b.WriteString("| target | image | digest |")
	for _, st := range Steps {
		b.WriteString(" " + string(st) + " |")
	}
	b.WriteString(" tags |\n|---|---|---|")
	for range Steps {
		b.WriteString("---|")
	}
	b.WriteString("---|\n")
	for _, img := range s.Images {
		fmt.Fprintf(&b, "| %s | `%s` | `%s` |", img.Target, img.Repo, img.Digest)
		for _, st := range Steps {
			r, ok := img.Steps[st]
			switch {
			case !ok || r.NotRun:
				b.WriteString(" not run |")
			case r.Passed:
				b.WriteString(" passed |")
			default:
				b.WriteString(" **failed** |")
			}
		}
		var tags []string
		for _, t := range img.Tagged {
			tags = append(tags, "`"+t[strings.LastIndex(t, ":")+1:]+"`")
		}
		if len(tags) == 0 {
			tags = []string{"none"}
		}
		b.WriteString(" " + strings.Join(tags, ", ") + " |\n")
	}
	return []byte(b.String())
}
