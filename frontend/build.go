// Package frontend is the BuildKit gateway glue: it reads the spec and its
// lock, handles options and subrequests through BuildKit's dockerui, asks
// package llb for each platform's composition, solves it and returns the
// result with its image config.
package frontend

import (
	"context"
	"maps"
	"slices"
	"sync"

	"edp.buildth.ing/devfw-cicd/stagex/check"
	"edp.buildth.ing/devfw-cicd/stagex/llb"
	"edp.buildth.ing/devfw-cicd/stagex/spec"
	"github.com/containerd/platforms"
	bkllb "github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/exporter/containerimage/exptypes"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/solver/result"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// request is one build's parsed inputs, shared by the build and the
// subrequests.
type request struct {
	bc    *dockerui.Client
	src   *dockerui.Source
	spec  *spec.Spec
	lock  *spec.Lock
	opts  Options
	files map[string][]byte // file name → content, for error sources
	// lockSrc is the lock as a source, for lint errors located in it.
	lockSrc *bkllb.SourceMap
	// read are the files the spec's transfer sent along with the spec
	// (entrypointPaths), nil when the spec came from elsewhere.
	read []string
	// loadErr is why the spec, options or lock did not load; the fields
	// after the first that failed are zero.
	loadErr error

	mu     sync.Mutex
	sbom   map[string][]result.Attestation[client.Reference] // by platform
	checks map[string]result.Attestation[client.Reference]   // by platform (STAGEX_CHECK)
	warned map[string]bool                                   // warnings shown, by message

	sigCheck signatureCheck
}

// Build is the frontend's entry point (grpcclient.RunFromEnvironment).
func Build(ctx context.Context, c client.Client) (*client.Result, error) {
	bc, err := dockerui.NewClient(c)
	if err != nil {
		return nil, err
	}
	c = withCacheImports(c, bc.CacheImports)
	req, err := load(ctx, bc, c)
	if req == nil {
		return nil, err
	}
	// Subrequests answer on a spec or lock that does not load: the outline
	// and targets need little of it, and lint reports its errors as the
	// lint result's error, as the Dockerfile frontend does.
	if res, handled, err := bc.HandleSubrequest(ctx, dockerui.RequestHandler{
		Outline:     req.outline,
		ListTargets: req.targets,
		Lint:        req.lint,
	}); handled || err != nil {
		return res, err
	}
	if req.loadErr != nil {
		return nil, req.loadErr
	}
	// The subrequests above solve no merge; a build does.
	if err := checkCaps(c.BuildOpts().LLBCaps); err != nil {
		return nil, err
	}

	rb, err := bc.Build(ctx, func(ctx context.Context, p *ocispecs.Platform, _ int) (*dockerui.BuildResult, error) {
		platform := platforms.DefaultSpec()
		if p != nil {
			platform = *p
		}
		return req.buildPlatform(ctx, c, platforms.Normalize(platform))
	})
	if err != nil {
		return nil, err
	}
	if err := rb.EachPlatform(ctx, func(_ context.Context, id string, p ocispecs.Platform) error {
		for _, att := range req.sbomFor(p) {
			rb.AddAttestation(id, att)
		}
		if att, ok := req.checkFor(p); ok {
			rb.AddAttestation(id, att)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	// Manifest annotations without a platform apply to every platform's
	// manifest; the exporter ignores platform-keyed ones for a single-platform
	// result.
	for _, k := range slices.Sorted(maps.Keys(req.spec.Annotations)) {
		rb.AddMeta(exptypes.AnnotationManifestKey(nil, k), []byte(req.spec.Annotations[k]))
	}
	return rb.Finalize()
}

// load reads the spec, the options and the lock. It returns a nil request
// only when the spec file cannot be read; a spec, options or lock that do
// not load leave the request with loadErr set (and spec or lock nil), for
// the subrequests to report.
func load(ctx context.Context, bc *dockerui.Client, c client.Client) (*request, error) {
	name := specFilename(c.BuildOpts().Opts)
	read := entrypointPaths(name, bc.BuildArgs[ArgLock])
	src, err := bc.ReadEntrypoint(ctx, specLanguage, bkllb.FollowPaths(read))
	if err != nil {
		return nil, err
	}
	r := &request{bc: bc, src: src, files: map[string][]byte{src.Filename: src.Data}}
	if src.Filename == name {
		r.read = read
	}
	r.loadErr = r.loadRest(ctx, c)
	return r, r.loadErr
}

func (r *request) loadRest(ctx context.Context, c client.Client) error {
	s, err := spec.ParseSpec(r.src.Filename, r.src.Data)
	if err != nil {
		return withSource(err, r.files)
	}
	r.spec = s
	if err := check.ValidateSpec(s); err != nil {
		return withSource(err, r.files)
	}
	if r.opts, err = parseOptions(r.bc.BuildArgs, c.BuildOpts().Opts); err != nil {
		return err
	}
	lp, err := lockPath(r.spec, r.opts)
	if err != nil {
		return withSource(err, r.files)
	}
	data, lockSrc, err := r.readLock(ctx, c, lp)
	if err != nil {
		return withSource(lockReadError(r.spec, r.opts, lp, err), r.files)
	}
	r.files[lp], r.lockSrc = data, lockSrc
	if r.lock, err = spec.ParseLock(lp, data); err != nil {
		return withSource(err, r.files)
	}
	return nil
}

func (r *request) resolve(p ocispecs.Platform) (*spec.Resolved, error) {
	res, err := spec.Resolve(r.spec, r.lock, spec.ResolveOptions{
		Platform:      platforms.Format(p),
		Registry:      r.opts.Registry,
		AllowUnpinned: r.opts.AllowUnpinned,
	})
	if err != nil {
		return nil, withSource(err, r.files)
	}
	return res, nil
}

// buildPlatform composes, solves and describes one platform's image.
func (r *request) buildPlatform(ctx context.Context, c client.Client, p ocispecs.Platform) (*dockerui.BuildResult, error) {
	resolved, err := r.resolve(p)
	if err != nil {
		return nil, err
	}
	// Every lint rule that needs no daemon is a build warning, as the
	// Dockerfile frontend's checks are, not only a --check finding.
	for _, w := range spec.Lint(r.spec, resolved) {
		r.warn(ctx, w)
	}
	if err := r.verifySignatures(ctx, c, p, resolved); err != nil {
		return nil, withSource(err, r.files)
	}
	images, err := resolveImages(ctx, c, r.spec, resolved, p)
	if err != nil {
		return nil, withSource(err, r.files)
	}
	contexts, err := r.contexts(ctx, p)
	if err != nil {
		return nil, err
	}
	// Each context is read through the gateway only to check that the
	// copies' sources are there; BuildKit solves it once for both.
	contextFS := map[string]llb.BaseFS{}
	for name, st := range contexts {
		contextFS[name] = &baseFS{c: c, st: st, p: p}
	}
	in := &llb.Input{
		ContextFS: contextFS,
		Spec:      r.spec,
		Resolved:  resolved,
		Images:    images,
		Platform:  p,
		Epoch:     r.opts.Epoch,
		Contexts:  contexts,
		SourceMap: r.src.SourceMap,
		Meta:      llb.Meta{Version: r.opts.Version, Revision: r.opts.Revision, Source: r.opts.Source},
	}
	parts, err := llb.Plan(resolved, images)
	if err != nil {
		return nil, err
	}
	in.BaseFS = r.packagesFS(c, llb.Packages(parts, p), p)
	out, err := llb.Compose(ctx, in)
	if err != nil {
		return nil, withSource(err, r.files)
	}
	if out.NeedsCopyCheck() {
		layer := &baseFS{c: c, st: *out.GeneratedLayer, p: p}
		if err := out.CheckCopies(ctx, in.BaseFS, layer); err != nil {
			return nil, withSource(err, r.files)
		}
	}
	def, err := marshal(ctx, c, out.State, bkllb.Platform(p))
	if err != nil {
		return nil, err
	}
	// The image, its check and its SBOM are three independent solves, all
	// from out: run at once, a warm build waits for the slowest round trip
	// instead of their sum. Each runs to its end (no cancelling the others),
	// and the errors are reported in the order the steps had when they ran
	// one after the other: the image's, the check's, the SBOM's. Nothing is
	// returned (or exported) before all three are done, so a failing check
	// still stops the build.
	var (
		ref                         client.Reference
		solveErr, checkErr, sbomErr error
		wg                          sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		var res *client.Result
		if res, solveErr = c.Solve(ctx, client.SolveRequest{Definition: def.ToPB()}); solveErr == nil {
			ref, solveErr = res.SingleRef()
		}
	}()
	if r.opts.Check != CheckOff {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var att *result.Attestation[client.Reference]
			if att, checkErr = r.checkImage(ctx, c, p, out); checkErr != nil {
				return
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			if r.checks == nil {
				r.checks = map[string]result.Attestation[client.Reference]{}
			}
			r.checks[platforms.Format(p)] = *att
		}()
	}
	if r.bc.SBOM != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var atts []result.Attestation[client.Reference]
			if atts, sbomErr = r.sbomAttestations(ctx, c, p, out); sbomErr != nil {
				return
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			if r.sbom == nil {
				r.sbom = map[string][]result.Attestation[client.Reference]{}
			}
			r.sbom[platforms.Format(p)] = atts
		}()
	}
	wg.Wait()
	for _, err := range []error{solveErr, checkErr, sbomErr} {
		if err != nil {
			return nil, err
		}
	}
	epoch := r.opts.Epoch
	return &dockerui.BuildResult{Reference: ref, Image: &out.Image, Epoch: &epoch}, nil
}

// sbomAttestations writes the SBOM of out in every format the client asked
// for and returns them as attestations.
func (r *request) sbomAttestations(ctx context.Context, c client.Client, p ocispecs.Platform, out *llb.Result) ([]result.Attestation[client.Reference], error) {
	formats, err := sbomFormats(r.bc.SBOM.Parameters)
	if err != nil {
		return nil, err
	}
	img := sbomImage(r.spec, r.opts, p, out)
	var atts []result.Attestation[client.Reference]
	for _, f := range formats {
		doc, err := f.write(img)
		if err != nil {
			return nil, err
		}
		att, err := sbomAttestation(ctx, c, f, doc, r.opts.Epoch)
		if err != nil {
			return nil, err
		}
		atts = append(atts, *att)
	}
	return atts, nil
}

// packagesFS reads the packages merged: with the facts exec when the
// daemon can run it and the frontend can name its own image, else through
// the gateway only. Either answers the same; only the exec is cached.
func (r *request) packagesFS(c client.Client, st bkllb.State, p ocispecs.Platform) *baseFS {
	fsys := &baseFS{c: c, st: st, p: p}
	if !factsSupported(c.BuildOpts().LLBCaps) {
		return fsys
	}
	if self, err := currentFrontend(c); err == nil {
		fsys.self = &self
	}
	return fsys
}

// sbomFor returns the SBOM attestations built for platform p, if any.
func (r *request) sbomFor(p ocispecs.Platform) []result.Attestation[client.Reference] {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sbom[platforms.Format(platforms.Normalize(p))]
}

// checkFor returns the check attestation built for platform p, if any.
func (r *request) checkFor(p ocispecs.Platform) (result.Attestation[client.Reference], bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	att, ok := r.checks[platforms.Format(platforms.Normalize(p))]
	return att, ok
}

// contexts loads the build contexts that the spec's copies read from: the
// main context, limited to the copied paths, and named contexts. A named
// context the client did not pass is left out, for llb.Compose to report at
// every copy that names it.
func (r *request) contexts(ctx context.Context, p ocispecs.Platform) (map[string]bkllb.State, error) {
	out := map[string]bkllb.State{}
	var mainPaths []string
	for _, cp := range r.spec.Copy {
		if cp.From == spec.DefaultCopyFrom {
			mainPaths = append(mainPaths, cp.Src)
			continue
		}
		if _, ok := out[cp.From]; ok {
			continue
		}
		nc, err := r.bc.NamedContext(cp.From, dockerui.ContextOpt{Platform: &p})
		if err != nil {
			return nil, err
		}
		if nc == nil {
			continue
		}
		st, _, err := nc.Load(ctx)
		if err != nil {
			return nil, err
		}
		out[cp.From] = *st
	}
	if len(mainPaths) > 0 {
		st, err := r.bc.MainContext(ctx, bkllb.FollowPaths(mainPaths))
		if err != nil {
			return nil, err
		}
		out[spec.DefaultCopyFrom] = *st
	}
	return out, nil
}

// warn shows a spec warning in the build output, pointing at its line,
// once per build however many platforms find it.
func (r *request) warn(ctx context.Context, w spec.Warning) {
	msg := w.Rule + ": " + w.Error.Error()
	r.mu.Lock()
	seen := r.warned[msg]
	if r.warned == nil {
		r.warned = map[string]bool{}
	}
	r.warned[msg] = true
	r.mu.Unlock()
	if seen {
		return
	}
	r.src.Warn(ctx, msg, client.WarnOpts{
		URL:   w.URL,
		Range: []*pb.Range{lineRange(w.Pos)},
	})
}

func lineRange(pos spec.Pos) *pb.Range {
	return &pb.Range{
		Start: &pb.Position{Line: int32(pos.Line), Character: int32(max(pos.Column-1, 0))},
		End:   &pb.Position{Line: int32(pos.Line), Character: int32(max(pos.Column-1, 0))},
	}
}
