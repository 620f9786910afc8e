package testbed

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"strings"
)

// LayerEntry is one tar entry of a layer.
type LayerEntry struct {
	Name     string // clean, absolute: "/usr/bin/app"
	Type     byte   // tar type flag
	Mode     int64
	UID, GID int
	Linkname string
	SHA256   string // hex digest of a regular file's content
}

// LayerEntries lists the entries of the image's layer at index (negative
// counts from the top: -1 is the last layer).
func LayerEntries(ref string, index int) ([]LayerEntry, error) {
	img, err := Image(ref)
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
	var out []LayerEntry
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		e := LayerEntry{
			Name:     path.Clean("/" + strings.TrimSuffix(h.Name, "/")),
			Type:     h.Typeflag,
			Mode:     h.Mode,
			UID:      h.Uid,
			GID:      h.Gid,
			Linkname: h.Linkname,
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
