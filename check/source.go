package check

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/containerd/platforms"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// SourceHelp describes the image sources Open accepts.
const SourceHelp = `IMAGE is one of:
  oci:DIR[:REF]            an OCI image layout folder; REF picks a manifest by its
                           org.opencontainers.image.ref.name annotation
  oci-archive:FILE[:REF]   the same, as a tar file (buildctl --output type=oci)
  docker-archive:FILE      a docker save tar (buildctl --output type=docker)
  REFERENCE                an image in a registry: host/repo:tag or host/repo@sha256:…`

// Source is an image opened for checking. Close releases what Open took.
type Source struct {
	Image v1.Image
	Name  string // what the user named, for the report
	close func() error
}

// Close removes anything Open unpacked.
func (s *Source) Close() error {
	if s.close == nil {
		return nil
	}
	return s.close()
}

// Open opens the image src names (see SourceHelp) for platform, the one
// picked from an index. Registry reads use ctx, so its deadline bounds them;
// ropts add authentication and transport.
func Open(ctx context.Context, src string, platform v1.Platform, ropts ...remote.Option) (*Source, error) {
	switch {
	case strings.HasPrefix(src, "oci:"):
		dir, ref := splitRef(strings.TrimPrefix(src, "oci:"))
		img, err := fromLayout(dir, ref, platform)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src, err)
		}
		return &Source{Image: img, Name: src}, nil
	case strings.HasPrefix(src, "oci-archive:"):
		file, ref := splitRef(strings.TrimPrefix(src, "oci-archive:"))
		dir, err := os.MkdirTemp("", "stagex-check-oci-")
		if err != nil {
			return nil, err
		}
		cleanup := func() error { return os.RemoveAll(dir) }
		// Only the archive's blobs are unpacked, to read it as a layout;
		// the image's layers are applied in memory, never here.
		if err := untarBlobs(file, dir); err != nil {
			cleanup()
			return nil, fmt.Errorf("%s: %w", src, err)
		}
		img, err := fromLayout(dir, ref, platform)
		if err != nil {
			cleanup()
			return nil, fmt.Errorf("%s: %w", src, err)
		}
		return &Source{Image: img, Name: src, close: cleanup}, nil
	case strings.HasPrefix(src, "docker-archive:"):
		file := strings.TrimPrefix(src, "docker-archive:")
		img, err := tarball.ImageFromPath(file, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %w (a docker save tar holding one image)", src, err)
		}
		return &Source{Image: img, Name: src}, nil
	}
	ref, err := name.ParseReference(src)
	if err != nil {
		return nil, fmt.Errorf("%s: not an image reference (%w)\n%s", src, err, SourceHelp)
	}
	opts := append([]remote.Option{remote.WithContext(ctx), remote.WithPlatform(platform)}, ropts...)
	img, err := remote.Image(ref, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	return &Source{Image: img, Name: src}, nil
}

// splitRef splits "PATH:REF" at the last ':' when PATH alone does not
// exist; "PATH" alone when it does.
func splitRef(s string) (string, string) {
	if _, err := os.Stat(s); err == nil {
		return s, ""
	}
	if i := strings.LastIndexByte(s, ':'); i > 0 && !strings.Contains(s[i+1:], "/") {
		return s[:i], s[i+1:]
	}
	return s, ""
}

// fromLayout picks one image from an OCI layout: the manifests whose ref
// name annotation is ref (all when ref is ""), then the one for platform.
func fromLayout(dir, ref string, platform v1.Platform) (v1.Image, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, err
	}
	img, err := pick(idx, ref, platform)
	if err != nil {
		return nil, err
	}
	return img, nil
}

func pick(idx v1.ImageIndex, ref string, platform v1.Platform) (v1.Image, error) {
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	match := platforms.Only(ocispecs.Platform{OS: platform.OS, Architecture: platform.Architecture, Variant: platform.Variant})
	var found []v1.Image
	var seen []string
	for _, d := range m.Manifests {
		if ref != "" && d.Annotations[ocispecs.AnnotationRefName] != ref {
			continue
		}
		switch {
		case d.MediaType.IsIndex():
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return nil, err
			}
			img, err := pick(child, "", platform)
			if err != nil {
				return nil, err
			}
			found = append(found, img)
		case d.MediaType.IsImage():
			img, err := idx.Image(d.Digest)
			if err != nil {
				return nil, err
			}
			p := d.Platform
			if p == nil {
				cf, err := img.ConfigFile()
				if err != nil {
					return nil, err
				}
				p = cf.Platform()
			}
			if p != nil {
				seen = append(seen, p.String())
				if !match.Match(ocispecs.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}) {
					continue
				}
			}
			found = append(found, img)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		if ref != "" {
			return nil, fmt.Errorf("no manifest named %q for %s (platforms here: %v)", ref, platform.String(), seen)
		}
		return nil, fmt.Errorf("no image for %s (platforms here: %v)", platform.String(), seen)
	}
	return nil, fmt.Errorf("%d images match %s; name one with :REF", len(found), platform.String())
}

// untarBlobs unpacks an OCI archive's layout files (oci-layout, index.json,
// blobs/…) into dir, refusing any other path.
func untarBlobs(file, dir string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	sawLayout := false
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading the archive: %w", err)
		}
		n := filepath.Clean(strings.TrimPrefix(h.Name, "./"))
		if h.Typeflag == tar.TypeDir {
			continue
		}
		if h.Typeflag != tar.TypeReg {
			return fmt.Errorf("%s: unexpected entry type in an OCI archive", h.Name)
		}
		ok := n == "oci-layout" || n == "index.json" || strings.HasPrefix(n, "blobs"+string(filepath.Separator)) && !strings.Contains(n, "..")
		if !ok {
			continue
		}
		sawLayout = sawLayout || n == "oci-layout"
		out := filepath.Join(dir, n)
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		w, err := os.Create(out)
		if err != nil {
			return err
		}
		_, err = io.Copy(w, tr)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	if !sawLayout {
		return errors.New("no oci-layout file: not an OCI archive (a docker save tar is docker-archive:FILE)")
	}
	return nil
}
