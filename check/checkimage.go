package check

import (
	"context"
	"fmt"
	"os"

	"edp.buildth.ing/devfw-cicd/stagex/spec"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ImageRequest says which image CheckImage checks, and how.
type ImageRequest struct {
	// Source names the image (see SourceHelp).
	Source string
	// Platform is the one picked from an index.
	Platform v1.Platform
	// SpecFile is the image's spec, or "": its check.accept entries are
	// accepted, and a static image must have no shell.
	SpecFile string
	// NoShell makes any shell in the image an error.
	NoShell bool
}

// CheckImage opens the image, reads it and checks it: what `stagex check`
// and the pipeline's check step run. The error is for an image or spec that
// cannot be read; a failed check is a report with Failed() true.
func CheckImage(ctx context.Context, req ImageRequest, ropts ...remote.Option) (*Report, error) {
	var accept []Accept
	noShell := req.NoShell
	if req.SpecFile != "" {
		data, err := os.ReadFile(req.SpecFile)
		if err != nil {
			return nil, err
		}
		s, err := spec.ParseSpec(req.SpecFile, data)
		if err == nil {
			err = ValidateSpec(s)
		}
		if err != nil {
			return nil, err
		}
		accept = s.Check.Accept
		noShell = noShell || s.NoShell()
	}
	src, err := Open(ctx, req.Source, req.Platform, ropts...)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	im, err := ReadImage(src.Image)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", req.Source, err)
	}
	opts := im.Options()
	opts.NoShell = noShell
	opts.Accept = accept
	r, err := Run(im.Tree, opts)
	if err != nil {
		return nil, err
	}
	r.Image = src.Name
	if im.Platform.OS != "" {
		r.Platform = im.Platform.String()
	}
	return r, nil
}
