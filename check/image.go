package check

import (
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Generated is the package name of the layer the frontend generates
// (accounts, paths, copies). It writes over the base's /etc/passwd and
// /etc/group by design, so its overwrites are never package conflicts.
const Generated = "generated"

// Image is an image read for checking: its layers applied into a Tree and
// what its config says.
type Image struct {
	Tree     *Tree
	Config   Config
	Packages []string // by layer index, from the history; "" when unknown
	Platform v1.Platform
}

// ReadImage applies img's layers in order into a Tree. Layers are read
// uncompressed, one at a time, through go-containerregistry.
func ReadImage(img v1.Image) (*Image, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("image layers: %w", err)
	}
	t := NewTree()
	for i, l := range layers {
		diffID, err := l.DiffID()
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		rc, err := l.Uncompressed()
		if err != nil {
			return nil, fmt.Errorf("layer %d (%s): %w", i, diffID, err)
		}
		err = t.Apply(rc, diffID.String())
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("%w (%s)", err, diffID)
		}
	}
	im := &Image{
		Tree: t,
		Config: Config{
			Entrypoint: cf.Config.Entrypoint,
			Cmd:        cf.Config.Cmd,
			User:       cf.Config.User,
			WorkingDir: cf.Config.WorkingDir,
			Env:        cf.Config.Env,
		},
		Packages: historyPackages(cf.History, len(layers)),
	}
	if cf.Platform() != nil {
		im.Platform = *cf.Platform()
	}
	return im, nil
}

// Options returns the options the image itself implies: its architecture,
// config and layer packages.
func (im *Image) Options() Options {
	return Options{
		Arch:     MuslArch(im.Platform.Architecture, im.Platform.Variant),
		Config:   im.Config,
		Packages: im.Packages,
	}
}

// historyPackages names each layer's package from the history entries the
// frontend writes ("stagex: diff core-musl 1.2.5 from <ref> (layer …)",
// "stagex: archive <name> …", "stagex: generated layer …"). When the
// history does not line up with the layers, no layer is named.
func historyPackages(h []v1.History, layers int) []string {
	var names []string
	for _, e := range h {
		if e.EmptyLayer {
			continue
		}
		names = append(names, HistoryPackage(e.CreatedBy))
	}
	if len(names) != layers {
		return nil
	}
	return names
}

// HistoryPackage names the package of one history line the frontend
// writes (llb's history lines; its tests hold the two together): the
// package name, the archive name, Generated, or "" for any other line.
func HistoryPackage(createdBy string) string {
	rest, ok := strings.CutPrefix(createdBy, "stagex: ")
	if !ok {
		return ""
	}
	f := strings.Fields(rest)
	switch {
	case len(f) >= 2 && f[0] == "generated":
		return Generated
	case len(f) >= 2 && (f[0] == "base" || f[0] == "diff" || f[0] == "whole" || f[0] == "archive"):
		return f[1]
	}
	return ""
}

// MuslArch returns musl's name for an OCI architecture and variant, the
// <arch> of /lib/ld-musl-<arch>.so.1; "" when unknown.
func MuslArch(arch, variant string) string {
	switch arch {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	case "386":
		return "i386"
	case "arm":
		// StageX and the common distributions build arm for hard float.
		return "armhf"
	case "riscv64", "s390x":
		return arch
	case "loong64":
		return "loongarch64"
	case "ppc64le":
		return "powerpc64le"
	case "ppc64":
		return "powerpc64"
	case "mips64le":
		return "mips64el"
	}
	return ""
}
