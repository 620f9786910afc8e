package lock

import (
	"context"
	"fmt"
	"strings"

	"github.com/containerd/platforms"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Resolve returns the image manifest digest of each asked platform that
// ref (a tag: <registry>/<name>:<version>) publishes, keyed by the platform
// as asked. A multi-platform index gives one per platform; a single image
// gives its own for the platform its config names. Platforms the image
// does not publish are left out: the caller decides whether that is an
// error.
func Resolve(ctx context.Context, ref string, want []string, opts ...remote.Option) (map[string]string, error) {
	tag, err := name.NewTag(ref, name.StrictValidation)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", ref, err)
	}
	opts = append([]remote.Option{remote.WithContext(ctx)}, opts...)
	desc, err := remote.Get(tag, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	published := map[string]string{} // canonical platform -> digest
	add := func(p v1.Platform, digest string) error {
		key := canonical(p)
		if first, dup := published[key]; dup && first != digest {
			return fmt.Errorf("%s: the index lists platform %s twice (%s and %s)", ref, key, first, digest)
		}
		published[key] = digest
		return nil
	}
	switch {
	case desc.MediaType.IsIndex():
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ref, err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ref, err)
		}
		for _, m := range im.Manifests {
			// Attestation manifests (platform unknown/unknown) and
			// nested indexes are not images of a platform.
			if m.Platform == nil || !m.MediaType.IsImage() || m.Platform.OS == "unknown" {
				continue
			}
			if err := add(*m.Platform, m.Digest.String()); err != nil {
				return nil, err
			}
		}
	case desc.MediaType.IsImage():
		img, err := desc.Image()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ref, err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ref, err)
		}
		p := v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
		if err := add(p, desc.Digest.String()); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%s: media type %s is neither an image nor an index", ref, desc.MediaType)
	}
	out := map[string]string{}
	for _, w := range want {
		p, err := platforms.Parse(w)
		if err != nil {
			return nil, fmt.Errorf("platform %q: %v", w, err)
		}
		key := platforms.Format(platforms.Normalize(p))
		if d, ok := published[key]; ok {
			out[w] = d
		}
	}
	return out, nil
}

// canonical is a registry platform in containerd's normalized form, so
// that "arm64" with and without variant "v8" compare equal.
func canonical(p v1.Platform) string {
	return platforms.Format(platforms.Normalize(platforms.Platform{
		OS: strings.ToLower(p.OS), Architecture: strings.ToLower(p.Architecture), Variant: p.Variant,
	}))
}
