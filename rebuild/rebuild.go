package rebuild

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"edp.buildth.ing/devfw-cicd/stagex/frontend"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/moby/buildkit/client"
	"github.com/tonistiigi/fsutil"
)

// rebuildLock is the name a lock given with Options.Lock gets beside the
// spec. Which file the lock is read from is not an input of the image
// (only its content is), so the build arg may point elsewhere.
const rebuildLock = ".stagex-rebuild.lock.yaml"

// Options of a rebuild.
type Options struct {
	Image    string // the published image index (a tag is resolved to its digest)
	Platform string // os/arch[/variant]; "" when the index holds one image
	Source   string // a git checkout of the repository the image was built from
	Revision string // the commit to take the spec and lock from; "" for the recorded one
	// ContextDir is the build context's folder in the repository; "" for
	// the recorded one (buildx records it; buildctl does not), else the root.
	ContextDir string
	Addr       string // the BuildKit to rebuild on (best another than the one that built it)
	// Frontend is the frontend image to compose with when the provenance
	// does not pin one (a frontend built in the same bake run is recorded
	// only as an input): best by digest.
	Frontend string
	// Lock replaces the lock read at the revision, e.g. a lock that was
	// never committed (the demo's fixture lock), or a changed one to see
	// what it changes.
	Lock string
	// Args override recorded build args (e.g. STAGEX_REGISTRY: another
	// mirror, which must not change the image).
	Args map[string]string
	// Log receives BuildKit's progress; nil discards it.
	Log    io.Writer
	Remote []remote.Option
}

// Result is a rebuild's outcome.
type Result struct {
	Published *Published
	Revision  string
	Frontend  string
	Args      map[string]string
	// Rebuilt is the rebuilt platform manifest's digest.
	Rebuilt v1.Hash
	// Differences are empty when the digests agree.
	Differences []Difference
}

// Same tells whether the rebuild gave the published platform manifest.
func (r *Result) Same() bool { return r.Rebuilt == r.Published.Manifest }

// Run rebuilds the image and compares it with the published one. An error
// means the rebuild could not be run; a mismatch is a Result with
// Differences.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Source == "" || o.Addr == "" {
		return nil, errors.New("rebuild needs a checkout (--source) and a BuildKit address (--addr)")
	}
	ref, err := resolveDigest(o.Image, o.Remote...)
	if err != nil {
		return nil, err
	}
	pub, err := readPublished(ref, o.Platform, o.Remote...)
	if err != nil {
		return nil, err
	}
	res := &Result{Published: pub, Args: maps.Clone(pub.Build.Args)}
	maps.Copy(res.Args, o.Args)

	res.Revision = o.Revision
	if res.Revision == "" {
		res.Revision = pub.Build.Revision
	}
	switch {
	case res.Revision == "":
		return nil, errors.New("the provenance records no git revision (the image was not built by buildx from a git checkout): pass --revision COMMIT")
	case strings.HasSuffix(res.Revision, "-dirty"):
		return nil, fmt.Errorf("the image was built from uncommitted changes (revision %s): nobody can rebuild it from git", res.Revision)
	}
	if res.Frontend, err = frontendImage(pub.Build, o.Frontend, o.Remote...); err != nil {
		return nil, err
	}

	work, err := os.MkdirTemp("", "stagex-rebuild-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	dir := o.ContextDir
	if dir == "" {
		dir = pub.Build.ContextDir
	}
	ctxDir, err := checkout(ctx, o.Source, res.Revision, dir, filepath.Join(work, "src"))
	if err != nil {
		return nil, err
	}
	if err := placeLock(ctxDir, pub.Build.Filename, o.Lock, res.Args); err != nil {
		return nil, err
	}
	out := filepath.Join(work, "oci")
	if err := solve(ctx, o, pub, res, ctxDir, out); err != nil {
		return nil, err
	}
	img, err := layoutImage(out, pub.Platform)
	if err != nil {
		return nil, err
	}
	if res.Rebuilt, err = img.Digest(); err != nil {
		return nil, err
	}
	if !res.Same() {
		if res.Differences, err = Compare(pub.Image, img); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// resolveDigest parses an image reference and pins a tag to the digest it
// points to now.
func resolveDigest(image string, opts ...remote.Option) (name.Digest, error) {
	ref, err := name.ParseReference(image)
	if err != nil {
		return name.Digest{}, fmt.Errorf("image %q: %w", image, err)
	}
	if d, ok := ref.(name.Digest); ok {
		return d, nil
	}
	desc, err := remote.Head(ref, opts...)
	if err != nil {
		return name.Digest{}, fmt.Errorf("resolve %s: %w", ref, err)
	}
	return ref.Context().Digest(desc.Digest.String()), nil
}

// frontendImage picks the frontend to compose with: the one given, else the
// one the provenance pins (a docker-image:// named context over the syntax
// line, or the syntax image among the resolved dependencies). It is
// returned by digest.
func frontendImage(b Build, given string, opts ...remote.Option) (string, error) {
	if given == "" {
		switch {
		case strings.HasPrefix(b.SyntaxContext, "docker-image://"):
			given = strings.TrimPrefix(b.SyntaxContext, "docker-image://")
		case len(b.Frontends) == 1:
			given = b.Frontends[0]
		case strings.HasPrefix(b.SyntaxContext, "input:"):
			return "", fmt.Errorf("the frontend (%s) was built in the same bake run, and the provenance records it only as an input: pass --frontend <the frontend image published with it>@sha256:…", b.Syntax)
		default:
			return "", fmt.Errorf("the provenance names no frontend image by digest (syntax %q): pass --frontend IMAGE@sha256:…", b.Syntax)
		}
	}
	d, err := resolveDigest(given, opts...)
	if err != nil {
		return "", fmt.Errorf("frontend: %w", err)
	}
	return d.String(), nil
}

// checkout writes the files of dir (the build context, relative to the
// repository root) at revision into dst, from the checkout's git objects,
// so that neither its work tree nor its index can change the build.
func checkout(ctx context.Context, repo, revision, dir, dst string) (string, error) {
	if dir == "" {
		dir = "."
	}
	if out, err := exec.CommandContext(ctx, "git", "-C", repo, "rev-parse", "--verify", "--quiet", revision+"^{commit}").Output(); err != nil || len(bytes.TrimSpace(out)) == 0 {
		return "", fmt.Errorf("%s has no commit %s: fetch it (git -C %s fetch origin %s) or pass --source with a checkout that has it", repo, revision, repo, revision)
	}
	cmd := exec.CommandContext(ctx, "git", "-C", repo, "archive", "--format=tar", revision, "--", dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	data, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git archive %s -- %s: %v: %s", revision, dir, err, strings.TrimSpace(stderr.String()))
	}
	if err := untar(bytes.NewReader(data), dst); err != nil {
		return "", err
	}
	return filepath.Join(dst, filepath.FromSlash(dir)), nil
}

// untar writes a git archive's files, folders and symlinks below dst.
func untar(r io.Reader, dst string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		rel := path.Clean(h.Name)
		if path.IsAbs(rel) || rel == ".." || strings.HasPrefix(rel, "../") {
			return fmt.Errorf("git archive: entry %q leaves the folder", h.Name)
		}
		p := filepath.Join(dst, filepath.FromSlash(rel))
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, 0o755)
		case tar.TypeReg:
			if err = os.MkdirAll(filepath.Dir(p), 0o755); err == nil {
				var data []byte
				if data, err = io.ReadAll(tr); err == nil {
					err = os.WriteFile(p, data, os.FileMode(h.Mode)&0o777)
				}
			}
		case tar.TypeSymlink:
			if err = os.MkdirAll(filepath.Dir(p), 0o755); err == nil {
				err = os.Symlink(h.Linkname, p)
			}
		}
		if err != nil {
			return err
		}
	}
}

// placeLock puts the lock given with --lock beside the spec (and points
// STAGEX_LOCK at it), or checks that the recorded STAGEX_LOCK exists at the
// revision.
func placeLock(ctxDir, specFile, lock string, args map[string]string) error {
	specDir := filepath.Join(ctxDir, filepath.FromSlash(path.Dir(specFile)))
	if lock != "" {
		data, err := os.ReadFile(lock)
		if err != nil {
			return fmt.Errorf("--lock: %w", err)
		}
		args[frontend.ArgLock] = rebuildLock
		return os.WriteFile(filepath.Join(specDir, rebuildLock), data, 0o644)
	}
	if l := args[frontend.ArgLock]; l != "" {
		if _, err := os.Stat(filepath.Join(specDir, filepath.FromSlash(l))); err != nil {
			return fmt.Errorf("the lock %s (%s) is not in git at that revision (a local file, such as the demo's fixture lock): pass it with --lock FILE", path.Join(path.Dir(specFile), l), frontend.ArgLock)
		}
	}
	return nil
}

// solve builds the spec with the frontend image through BuildKit's gateway
// frontend and exports the image as an OCI layout into out. No
// attestations: the platform manifest does not depend on them.
func solve(ctx context.Context, o Options, pub *Published, res *Result, ctxDir, out string) error {
	c, err := client.New(ctx, o.Addr)
	if err != nil {
		return fmt.Errorf("buildkit %s: %w", o.Addr, err)
	}
	defer c.Close()
	fs, err := fsutil.NewFS(ctxDir)
	if err != nil {
		return err
	}
	attrs := map[string]string{
		"source":   res.Frontend,
		"filename": pub.Build.Filename,
		"platform": pub.Platform,
	}
	for _, k := range slices.Sorted(maps.Keys(res.Args)) {
		attrs["build-arg:"+k] = res.Args[k]
	}
	opt := client.SolveOpt{
		Frontend:      "gateway.v0",
		FrontendAttrs: attrs,
		LocalMounts:   map[string]fsutil.FS{"context": fs, "dockerfile": fs},
		Exports: []client.ExportEntry{{
			Type:      client.ExporterOCI,
			Attrs:     map[string]string{"tar": "false", "oci-mediatypes": "true"},
			OutputDir: out,
		}},
	}
	ch := make(chan *client.SolveStatus)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for s := range ch {
			if o.Log == nil {
				continue
			}
			for _, v := range s.Vertexes {
				if v.Completed != nil {
					fmt.Fprintf(o.Log, "  %s\n", v.Name)
				}
				if v.Error != "" {
					fmt.Fprintf(o.Log, "  %s: %s\n", v.Name, v.Error)
				}
			}
		}
	}()
	_, err = c.Solve(ctx, nil, opt, ch)
	<-done
	if err != nil {
		return fmt.Errorf("rebuild on %s: %w", o.Addr, err)
	}
	return nil
}

// layoutImage reads the platform image out of the OCI layout the exporter
// wrote: the image itself, or the platform's entry of an index.
func layoutImage(dir, platform string) (v1.Image, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	if len(im.Manifests) != 1 {
		return nil, fmt.Errorf("the rebuilt layout holds %d entries, want 1", len(im.Manifests))
	}
	d := im.Manifests[0]
	if !d.MediaType.IsIndex() {
		return idx.Image(d.Digest)
	}
	inner, err := idx.ImageIndex(d.Digest)
	if err != nil {
		return nil, err
	}
	iim, err := inner.IndexManifest()
	if err != nil {
		return nil, err
	}
	if ms := ImageManifests(iim, platform); len(ms) == 1 {
		return inner.Image(ms[0].Digest)
	}
	return nil, fmt.Errorf("the rebuilt layout has no single %s image", platform)
}
