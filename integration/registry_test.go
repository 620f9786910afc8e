package integration

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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

// registryTimeout bounds the registry reads that fetch no blob.
var registryTimeout = 2 * time.Minute

// defaultPlatform is the platform picked out of an index.
var defaultPlatform = v1.Platform{OS: "linux", Architecture: "amd64"}

// parseRef parses a reference for the (insecure, loopback) test registry.
func parseRef(ref string) (name.Reference, error) {
	return name.ParseReference(ref, name.Insecure)
}

func remoteOpts(ctx context.Context) []remote.Option {
	return []remote.Option{remote.WithContext(ctx), remote.WithPlatform(defaultPlatform)}
}

// remoteImage returns the image at ref (the linux/amd64 one of an index). Its
// blobs are fetched lazily, when read.
func remoteImage(ref string) (v1.Image, error) {
	r, err := parseRef(ref)
	if err != nil {
		return nil, err
	}
	img, err := remote.Image(r, remoteOpts(context.Background())...)
	if err != nil {
		return nil, fmt.Errorf("read image %s: %w", ref, err)
	}
	return img, nil
}

// imageManifest returns the image manifest at ref.
func imageManifest(ref string) (*v1.Manifest, error) {
	img, err := remoteImage(ref)
	if err != nil {
		return nil, err
	}
	return img.Manifest()
}

// imageConfig returns the image config at ref.
func imageConfig(ref string) (*v1.ConfigFile, error) {
	img, err := remoteImage(ref)
	if err != nil {
		return nil, err
	}
	return img.ConfigFile()
}

// imageIndex returns the image index at ref (an error when ref names a single
// manifest).
func imageIndex(ref string) (*v1.IndexManifest, error) {
	r, err := parseRef(ref)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), registryTimeout)
	defer cancel()
	idx, err := remote.Index(r, remote.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("read index %s: %w", ref, err)
	}
	return idx.IndexManifest()
}

// descriptorOf returns the descriptor (media type, digest, size) that ref
// resolves to, without choosing a platform.
func descriptorOf(ref string) (*v1.Descriptor, error) {
	r, err := parseRef(ref)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), registryTimeout)
	defer cancel()
	d, err := remote.Head(r, remote.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("head %s: %w", ref, err)
	}
	return d, nil
}

// layerDigests returns the compressed layer digests ("sha256:…") of the
// image at ref, bottom first.
func layerDigests(ref string) ([]string, error) {
	m, err := imageManifest(ref)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(m.Layers))
	for _, l := range m.Layers {
		out = append(out, l.Digest.String())
	}
	return out, nil
}

// errNotInImage is returned by readImageFile when the path is not in the image.
var errNotInImage = errors.New("file not found in image")

// readImageFile reads a regular file out of the flattened layers of the image at
// ref (whiteouts applied; symlinks followed).
func readImageFile(ref, file string) ([]byte, error) {
	img, err := remoteImage(ref)
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
			return nil, "", errNotInImage
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

// layerEntry is one tar entry of a layer.
type layerEntry struct {
	Name     string // clean, absolute: "/usr/bin/app"
	Type     byte   // tar type flag
	Mode     int64
	UID, GID int
	Linkname string
	SHA256   string // hex digest of a regular file's content
	ModTime  time.Time
}

// layerEntries lists the entries of the image's layer at index (negative
// counts from the top: -1 is the last layer).
func layerEntries(ref string, index int) ([]layerEntry, error) {
	img, err := remoteImage(ref)
	if err != nil {
		return nil, err
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	if index < 0 {
		index += len(layers)
	}
	if index < 0 || index >= len(layers) {
		return nil, fmt.Errorf("%s has %d layers, no layer %d", ref, len(layers), index)
	}
	rc, err := layers[index].Uncompressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var out []layerEntry
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		e := layerEntry{
			Name:     path.Clean("/" + strings.TrimSuffix(h.Name, "/")),
			Type:     h.Typeflag,
			Mode:     h.Mode,
			UID:      h.Uid,
			GID:      h.Gid,
			Linkname: h.Linkname,
			ModTime:  h.ModTime,
		}
		if h.Typeflag == tar.TypeReg {
			sum := sha256.New()
			if _, err := io.Copy(sum, tr); err != nil {
				return nil, err
			}
			e.SHA256 = hex.EncodeToString(sum.Sum(nil))
		}
		out = append(out, e)
	}
}

// attestation is one in-toto statement of an image's attestation manifest.
type attestation struct {
	PredicateType string
	Statement     []byte // the whole in-toto statement as stored
	Predicate     []byte // its "predicate" field
	LayerDigest   string // the blob that holds it
}

// attestations reads the attestation manifest that BuildKit attaches to the
// linux/amd64 image of the index at ref, and returns its statements. It
// checks that the attestation manifest's subject reference names the image
// manifest it sits beside.
func attestations(ref string) (imageDigest string, _ []attestation, _ error) {
	idx, err := imageIndex(ref)
	if err != nil {
		return "", nil, err
	}
	var image, att *v1.Descriptor
	for i, m := range idx.Manifests {
		switch {
		case m.Annotations["vnd.docker.reference.type"] == "attestation-manifest":
			att = &idx.Manifests[i]
		case m.Platform != nil && m.Platform.OS == defaultPlatform.OS && m.Platform.Architecture == defaultPlatform.Architecture:
			image = &idx.Manifests[i]
		}
	}
	if image == nil || att == nil {
		return "", nil, fmt.Errorf("%s: index has no linux/amd64 image with an attestation manifest (%d manifests)", ref, len(idx.Manifests))
	}
	if got := att.Annotations["vnd.docker.reference.digest"]; got != image.Digest.String() {
		return "", nil, fmt.Errorf("%s: attestation manifest is for %s, not the image %s", ref, got, image.Digest)
	}
	r, err := parseRef(ref)
	if err != nil {
		return "", nil, err
	}
	img, err := remoteImage(r.Context().Name() + "@" + att.Digest.String())
	if err != nil {
		return "", nil, err
	}
	m, err := img.Manifest()
	if err != nil {
		return "", nil, err
	}
	var out []attestation
	for _, l := range m.Layers {
		layer, err := img.LayerByDigest(l.Digest)
		if err != nil {
			return "", nil, err
		}
		rc, err := layer.Compressed() // in-toto layers are stored uncompressed
		if err != nil {
			return "", nil, err
		}
		dt, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return "", nil, err
		}
		var st struct {
			PredicateType string          `json:"predicateType"`
			Predicate     json.RawMessage `json:"predicate"`
		}
		if err := json.Unmarshal(dt, &st); err != nil {
			return "", nil, fmt.Errorf("attestation layer %s: %w", l.Digest, err)
		}
		if st.PredicateType != l.Annotations["in-toto.io/predicate-type"] {
			return "", nil, fmt.Errorf("attestation layer %s: predicate %q, annotated %q", l.Digest, st.PredicateType, l.Annotations["in-toto.io/predicate-type"])
		}
		out = append(out, attestation{PredicateType: st.PredicateType, Statement: dt, Predicate: st.Predicate, LayerDigest: l.Digest.String()})
	}
	return image.Digest.String(), out, nil
}
