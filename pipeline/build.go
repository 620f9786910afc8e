package pipeline

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"

	"edp.buildth.ing/devfw-cicd/stagex/bake"
	"github.com/google/go-containerregistry/pkg/name"
)

// byDigest is what the build adds to every image output of the bake file:
// push by digest only, so that no tag exists before Tag writes it.
const byDigest = "push-by-digest=true,name-canonical=true,push=true"

// DigestOutputs are the --set overrides that push every image target of
// targets by digest: its own output of the bake file (attributes kept, in
// a fixed order) plus byDigest. A target with another output, or more
// than one, is refused: its result could not be signed and tagged.
func DigestOutputs(targets map[string]bake.Target) ([]string, error) {
	names := make([]string, 0, len(targets))
	for n := range targets {
		names = append(names, n)
	}
	sort.Strings(names)
	var set []string
	for _, n := range names {
		outs := targets[n].Output
		if len(outs) != 1 || outs[0]["type"] != "image" {
			return nil, fmt.Errorf("bake target %s: output %v; the pipeline pushes targets with one type=image output\nhint: build the pipeline's targets only (TARGETS)", n, outs)
		}
		attrs := []string{"type=image"}
		keys := make([]string, 0, len(outs[0]))
		for k := range outs[0] {
			switch k {
			case "type", "push", "push-by-digest", "name-canonical", "name":
				continue // the pipeline's own
			}
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			attrs = append(attrs, k+"="+outs[0][k])
		}
		set = append(set, n+".output="+strings.Join(attrs, ",")+","+byDigest)
	}
	return set, nil
}

// Build bakes bk by digest on b and writes the state into dir: every
// target's repository, pushed digest, tags and spec.
func Build(ctx context.Context, b *bake.Builder, bk bake.Bake, dir string) (*State, error) {
	bk.Push = false // the outputs push, by digest
	targets, err := b.Print(ctx, bk)
	if err != nil {
		return nil, err
	}
	set, err := DigestOutputs(targets)
	if err != nil {
		return nil, err
	}
	bk.Set = append(bk.Set, set...)
	results, err := b.Run(ctx, bk)
	if err != nil {
		return nil, err
	}
	var imgs []*Image
	for n, t := range targets {
		r, ok := results[n]
		if !ok {
			return nil, fmt.Errorf("bake target %s: no digest in the bake metadata", n)
		}
		img, err := imageOf(n, t, r.Digest)
		if err != nil {
			return nil, err
		}
		imgs = append(imgs, img)
	}
	s := NewState(dir, imgs)
	return s, s.Save()
}

// imageOf is the state entry of one built target: the repository of its
// tags (all in one repository: a tag is written by pointing it at the
// pushed digest, never by copying), and its spec when it is built from one.
func imageOf(target string, t bake.Target, digest string) (*Image, error) {
	if len(t.Tags) == 0 {
		return nil, fmt.Errorf("bake target %s has no tags: nothing to publish it as", target)
	}
	img := &Image{Target: target, Digest: digest}
	for _, tag := range t.Tags {
		ref, err := name.NewTag(tag, name.StrictValidation)
		if err != nil {
			return nil, fmt.Errorf("bake target %s: tag %q: %w", target, tag, err)
		}
		repo := ref.Context().String()
		if img.Repo == "" {
			img.Repo = repo
		} else if repo != img.Repo {
			return nil, fmt.Errorf("bake target %s: tags in %s and %s; the pipeline tags the pushed digest in its one repository", target, img.Repo, repo)
		}
		img.Tags = append(img.Tags, ref.String())
	}
	if strings.HasSuffix(t.Dockerfile, ".yaml") && !path.IsAbs(t.Dockerfile) {
		img.Spec = path.Join(t.Context, t.Dockerfile)
	}
	if _, err := img.Ref(); err != nil {
		return nil, fmt.Errorf("bake target %s: digest %q: %w", target, digest, err)
	}
	return img, nil
}
