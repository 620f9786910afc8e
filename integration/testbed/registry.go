package testbed

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Registry readers. References are parsed with name.Insecure, so the bed's
// loopback registry is spoken to over plain HTTP. An image reference that
// names an index resolves to its linux/amd64 manifest.

// RegistryTimeout bounds the registry reads that fetch no blob.
var RegistryTimeout = 2 * time.Minute

// DefaultPlatform is the platform picked out of an index.
var DefaultPlatform = v1.Platform{OS: "linux", Architecture: "amd64"}

// ParseRef parses a reference for the (insecure, loopback) test registry.
func ParseRef(ref string) (name.Reference, error) {
	return name.ParseReference(ref, name.Insecure)
}

func remoteOpts(ctx context.Context) []remote.Option {
	return []remote.Option{remote.WithContext(ctx), remote.WithPlatform(DefaultPlatform)}
}

// Image returns the image at ref (the linux/amd64 one of an index). Its
// blobs are fetched lazily, when read.
func Image(ref string) (v1.Image, error) {
	r, err := ParseRef(ref)
	if err != nil {
		return nil, err
	}
	img, err := remote.Image(r, remoteOpts(context.Background())...)
	if err != nil {
		return nil, fmt.Errorf("read image %s: %w", ref, err)
	}
	return img, nil
}

// Manifest returns the image manifest at ref.
func Manifest(ref string) (*v1.Manifest, error) {
	img, err := Image(ref)
	if err != nil {
		return nil, err
	}
	return img.Manifest()
}

// Config returns the image config at ref.
func Config(ref string) (*v1.ConfigFile, error) {
	img, err := Image(ref)
	if err != nil {
		return nil, err
	}
	return img.ConfigFile()
}

// Index returns the image index at ref (an error when ref names a single
// manifest).
func Index(ref string) (*v1.IndexManifest, error) {
	r, err := ParseRef(ref)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), RegistryTimeout)
	defer cancel()
	idx, err := remote.Index(r, remote.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("read index %s: %w", ref, err)
	}
	return idx.IndexManifest()
}

// Descriptor returns the descriptor (media type, digest, size) that ref
// resolves to, without choosing a platform.
func Descriptor(ref string) (*v1.Descriptor, error) {
	r, err := ParseRef(ref)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), RegistryTimeout)
	defer cancel()
	d, err := remote.Head(r, remote.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("head %s: %w", ref, err)
	}
	return d, nil
}

// LayerDigests returns the compressed layer digests ("sha256:…") of the
// image at ref, bottom first.
func LayerDigests(ref string) ([]string, error) {
	m, err := Manifest(ref)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(m.Layers))
	for _, l := range m.Layers {
		out = append(out, l.Digest.String())
	}
	return out, nil
}

// ErrNotFound is returned by ReadFile when the path is not in the image.
var ErrNotFound = errors.New("file not found in image")

// ReadFile reads a regular file out of the flattened layers of the image at
// ref (whiteouts applied; symlinks followed).
func ReadFile(ref, file string) ([]byte, error) {
	img, err := Image(ref)
	if err != nil {
		return nil, err
	}
	p := strings.TrimPrefix(path.Clean("/"+file), "/")
	for hop := 0; hop < 16; hop++ {
		data, link, err := findInImage(img, p)
		if err != nil {
			return nil, fmt.Errorf("%s in %s: %w", file, ref, err)
		}
		if link == "" {
			return data, nil
		}
		if path.IsAbs(link) {
			p = strings.TrimPrefix(path.Clean(link), "/")
		} else {
			p = strings.TrimPrefix(path.Clean("/"+path.Join(path.Dir(p), link)), "/")
		}
	}
	return nil, fmt.Errorf("%s in %s: too many symlinks", file, ref)
}

// findInImage returns the content of p, or the target when p is a symlink.
func findInImage(img v1.Image, p string) (data []byte, link string, err error) {
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil, "", ErrNotFound
		}
		if err != nil {
			return nil, "", err
		}
		if strings.TrimPrefix(path.Clean("/"+h.Name), "/") != p {
			continue
		}
		switch h.Typeflag {
		case tar.TypeSymlink:
			return nil, h.Linkname, nil
		case tar.TypeReg:
			b, err := io.ReadAll(tr)
			return b, "", err
		case tar.TypeLink:
			return nil, "/" + strings.TrimPrefix(h.Linkname, "/"), nil
		default:
			return nil, "", fmt.Errorf("not a regular file (tar type %q)", h.Typeflag)
		}
	}
}
