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

// dependencyOnly reports whether bake builds t only as another target's
// context (`bake --print` gives it the output type=cacheonly): it is not
// pushed, so not published.
func dependencyOnly(t bake.Target) bool {
	return len(t.Output) == 1 && t.Output[0]["type"] == "cacheonly"
}

// DigestOutputs are the --set overrides that push every image target of
// targets by digest to its repository (repos, by target): its own output of
// the bake file (attributes kept, in a fixed order), named by the
// repository without a tag, plus byDigest. A target with another output, or
// more than one, is refused: its result could not be signed and tagged.
func DigestOutputs(targets map[string]bake.Target, repos map[string]string) ([]string, error) {
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
		attrs := []string{"type=image", "name=" + repos[n]}
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
		// No tags: buildx would name the pushed image by them, and a tagged
		// name cannot be pushed by digest.
		set = append(set, n+".tags=", n+".output="+strings.Join(attrs, ",")+","+byDigest)
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
	for n, t := range targets {
		if dependencyOnly(t) {
			delete(targets, n)
		}
	}
	imgs := map[string]*Image{}
	repos := map[string]string{}
	for n, t := range targets {
		if imgs[n], err = imageOf(n, t); err != nil {
			return nil, err
		}
		repos[n] = imgs[n].Repo
	}
	set, err := DigestOutputs(targets, repos)
	if err != nil {
		return nil, err
	}
	bk.Set = append(bk.Set, set...)
	results, err := b.Run(ctx, bk)
	if err != nil {
		return nil, err
	}
	var built []*Image
	for n, img := range imgs {
		r, ok := results[n]
		if !ok {
			return nil, fmt.Errorf("bake target %s: no digest in the bake metadata", n)
		}
		img.Digest = r.Digest
		if _, err := img.Ref(); err != nil {
			return nil, fmt.Errorf("bake target %s: digest %q: %w", n, r.Digest, err)
		}
		built = append(built, img)
	}
	s := NewState(dir, built)
	return s, s.Save()
}

// imageOf is the state entry of one built target: the repository of its
// tags (all in one repository: a tag is written by pointing it at the
// pushed digest, never by copying), and its spec when it is built from one.
func imageOf(target string, t bake.Target) (*Image, error) {
	if len(t.Tags) == 0 {
		return nil, fmt.Errorf("bake target %s has no tags: nothing to publish it as", target)
	}
	img := &Image{Target: target}
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
	return img, nil
}
