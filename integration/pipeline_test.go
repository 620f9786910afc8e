package integration

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/hack/imageset"
	"edp.buildth.ing/devfw-cicd/stagex/internal/bed"
	"edp.buildth.ing/devfw-cicd/stagex/internal/repo"
	"edp.buildth.ing/devfw-cicd/stagex/internal/solve"
	"edp.buildth.ing/devfw-cicd/stagex/pipeline"
	"edp.buildth.ing/devfw-cicd/stagex/signing"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// pipelineRun is one run of the pipeline's make targets against the bed.
type pipelineRun struct {
	t    *testing.T
	root string
	dir  string   // PIPELINE_DIR
	vars []string // make variables
	env  []string
}

// newPipelineRun sets up a run pushing targets to <bed>/<prefix>: the
// bed's BuildKit through buildx's remote driver, the fixture packages and
// lock, the frontend packed from a local binary (what `make demo` bakes
// with), Grype with an offline database from the scan fixtures, keys k1
// and k2 signing, k1..k3 trusted, N = 2.
func newPipelineRun(t *testing.T, off *imageset.Offline, prefix string, keys, pubs []string, grypeEnv []string, targets ...string) *pipelineRun {
	t.Helper()
	b := requireBed(t)
	dir := filepath.Join(t.TempDir(), "pipeline")
	flags := []string{"--var STAGEX_LOCK=" + off.Fixtures.LockPath, "--var STAGEX_REGISTRY=" + off.Fixtures.Mirror}
	for _, s := range append(append([]string{}, off.FrontendSet...), imageset.FixtureSet(targets)...) {
		flags = append(flags, "--set "+s)
	}
	path := os.Getenv("PATH")
	if d := os.Getenv(envSignToolsPath); d != "" {
		path = d + ":" + path
	}
	return &pipelineRun{
		t: t, root: off.Root, dir: dir,
		vars: []string{
			"PIPELINE_DIR=" + dir,
			"STAGEX=" + stagexCLI(t),
			"REGISTRY=" + b.RegistryAddr + "/" + prefix,
			"BUILDKIT_ADDR=" + b.BuildkitAddr,
			"TARGETS=" + strings.Join(targets, " "),
			"BAKE_FLAGS=" + strings.Join(flags, " "),
			"SIGN_KEYS=" + strings.Join(keys, " "),
			"VERIFY_KEYS=" + strings.Join(pubs, " "),
			"SIGN_THRESHOLD=2",
			"SCANNERS=grype",
			"FAIL_SEVERITY=high",
		},
		env: append(append([]string{"PATH=" + path}, passwordEnv...), grypeEnv...),
	}
}

// make runs make targets with the run's variables (and extra ones) and
// returns the output and exit code.
func (r *pipelineRun) make(extra []string, targets ...string) cliResult {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	args := append(append([]string{"-C", r.root, "--no-print-directory"}, r.vars...), extra...)
	res := run(ctx, r.t, r.env, "make", append(args, targets...)...)
	r.t.Logf("make %s: exit %d\n%s", strings.Join(targets, " "), res.code, solve.TailLines(res.out, 25))
	return res
}

func (r *pipelineRun) state() *pipeline.State {
	r.t.Helper()
	s, err := pipeline.Load(r.dir)
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

// tagsOf lists the tags of repo in the registry, without the referrers
// and signature tags (sha256-…).
func tagsOf(t *testing.T, repo string) []string {
	t.Helper()
	r, err := name.NewRepository(repo)
	if err != nil {
		t.Fatal(err)
	}
	all, err := remote.List(r)
	var terr *transport.Error
	if errors.As(err, &terr) && len(terr.Errors) > 0 && terr.Errors[0].Code == transport.NameUnknownErrorCode {
		return nil // pushed by digest only: the registry knows no tag of it
	}
	if err != nil {
		t.Fatalf("listing the tags of %s: %v", repo, err)
	}
	var out []string
	for _, tag := range all {
		if !strings.HasPrefix(tag, "sha256-") {
			out = append(out, tag)
		}
	}
	slices.Sort(out)
	return out
}

// tagDigest is the digest a tag points at in the registry.
func tagDigest(t *testing.T, ref string) string {
	t.Helper()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	d, err := remote.Head(tag)
	if err != nil {
		t.Fatalf("%s: %v", ref, err)
	}
	return d.Digest.String()
}

// TestPipeline runs the release pipeline's make targets (what the
// workflow calls) on the bed against fixture packages:
//
//  1. frontend, base and base-static with the VEX document that accepts
//     the seeded advisory: the build pushes by digest and leaves no tag;
//     after check, sign, attest, verify and scan the tags point at exactly
//     the digests built, and the digests table lists them;
//  2. base, base-static and base-nodejs with the repository's VEX: base
//     fails the scan (the seeded advisory on its busybox), base-nodejs
//     fails the check (its packages are stand-ins without node), and
//     neither is tagged, while base-static is; make fails;
//  3. base-static never signed: verify fails, and tag writes no tag.
func TestPipeline(t *testing.T) {
	b := requireBed(t)
	signTool(t, "grype")
	mkdb := signTool(t, "grype-mkdb")
	if _, err := bed.Tool("buildx"); err != nil {
		t.Fatal(err)
	}
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	work, err := imageset.WorkDir(root, "it-pipeline")
	if err != nil {
		t.Fatal(err)
	}
	off, err := imageset.PrepareOffline(ctx, root, b.RegistryAddr, work)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	db := filepath.Join(tmp, "grype-db")
	if out, err := exec.Command(mkdb, "-in", scanRecords, "-out", db).CombinedOutput(); err != nil {
		t.Fatalf("grype-mkdb: %v\n%s", err, out)
	}
	grypeEnv := []string{
		"XDG_CONFIG_HOME=" + filepath.Join(tmp, "config"),
		"GRYPE_DB_CACHE_DIR=" + db,
		"GRYPE_DB_AUTO_UPDATE=false",
		"GRYPE_DB_VALIDATE_AGE=false",
		"GRYPE_DB_REQUIRE_UPDATE_CHECK=false",
		"GRYPE_CHECK_FOR_APP_UPDATE=false",
	}
	keys, pubs := testKeys(t, tmp, 3)
	absVEX, err := filepath.Abs(scanVEX)
	if err != nil {
		t.Fatal(err)
	}
	prefix := signRepo(t, "pipeline")

	t.Run("passes", func(t *testing.T) {
		r := newPipelineRun(t, off, prefix+"/ok", keys[:2], pubs, grypeEnv, "frontend", "base", "base-static")
		mustPass(t, r.make(nil, "pipeline-build"), "pipeline-build")
		s := r.state()
		if len(s.Images) != 3 {
			t.Fatalf("built %d images, want 3", len(s.Images))
		}
		for _, img := range s.Images {
			ref, err := img.Ref()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := remote.Head(ref); err != nil {
				t.Errorf("%s: the digest built is not in the registry: %v", img.Target, err)
			}
			if got := tagsOf(t, img.Repo); len(got) != 0 {
				t.Errorf("%s: tags %v after the build: it must push by digest only", img.Target, got)
			}
		}
		mustPass(t, r.make([]string{"VEX=" + absVEX}, "pipeline-check", "pipeline-sign", "pipeline-attest", "pipeline-verify", "pipeline-scan", "pipeline-tag", "pipeline-digests"), "the pipeline steps")
		after := r.state()
		table, err := os.ReadFile(filepath.Join(r.dir, "DIGESTS.md"))
		if err != nil {
			t.Fatal(err)
		}
		for i, img := range after.Images {
			if img.Digest != s.Images[i].Digest {
				t.Errorf("%s: digest %s after the steps, %s built", img.Target, img.Digest, s.Images[i].Digest)
			}
			if !img.Passed() {
				t.Errorf("%s: steps %+v, want every one passed", img.Target, img.Steps)
			}
			if len(img.Tags) == 0 || !slices.Equal(img.Tagged, img.Tags) {
				t.Errorf("%s: tagged %v, want the bake file's tags %v", img.Target, img.Tagged, img.Tags)
			}
			for _, tag := range img.Tags {
				if got := tagDigest(t, tag); got != img.Digest {
					t.Errorf("%s points at %s, want the digest built and checked, %s", tag, got, img.Digest)
				}
			}
			if !strings.Contains(string(table), "| "+img.Target+" | `"+img.Repo+"` | `"+img.Digest+"` | passed | passed | passed | passed | passed | `latest`") {
				t.Errorf("DIGESTS.md has no passed, tagged row for %s@%s:\n%s", img.Repo, img.Digest, table)
			}
		}
		// The frontend target's tags: latest and 1.
		for _, img := range after.Images {
			if img.Target == imageset.FrontendTarget && !slices.Equal(tagsOf(t, img.Repo), []string{"1", "latest"}) {
				t.Errorf("frontend tags %v, want [1 latest]", tagsOf(t, img.Repo))
			}
		}
		// Each digest carries the attestations the pipeline signed: its
		// provenance, its SBOM and Grype's results (the vuln predicate).
		for _, img := range after.Images {
			ref, err := img.Ref()
			if err != nil {
				t.Fatal(err)
			}
			idx, err := remote.Referrers(ref)
			if err != nil {
				t.Fatalf("%s: referrers: %v", img.Target, err)
			}
			im, err := idx.IndexManifest()
			if err != nil {
				t.Fatal(err)
			}
			var types []string
			for _, m := range im.Manifests {
				types = append(types, m.Annotations[signing.BundlePredicateTypeAnnotation])
			}
			want := []string{signing.ProvenanceType, pipeline.VulnType}
			if img.Target != imageset.FrontendTarget { // built without an SBOM
				want = append(want, pipeline.SPDXType)
			}
			for _, want := range want {
				if !slices.Contains(types, want) {
					t.Errorf("%s: no %s bundle among its referrers %v", img.Target, want, types)
				}
			}
		}
		// cosign reads the scan's attestation as its vuln predicate, signed
		// by the attest key (k1) and by no other.
		cosign := signTool(t, "cosign")
		base := after.Images[0].Repo + "@" + after.Images[0].Digest
		verifyVuln := func(pub string) cliResult {
			return run(ctx, t, nil, cosign, "verify-attestation", "--key", pub, "--type", "vuln",
				"--insecure-ignore-tlog", "--allow-http-registry", base)
		}
		mustPass(t, verifyVuln(pubs[0]), "cosign verify-attestation --type vuln with the attest key")
		mustFail(t, verifyVuln(pubs[2]), "cosign verify-attestation --type vuln with a key that did not attest")
		mustPass(t, run(ctx, t, nil, cosign, "verify-attestation", "--key", pubs[0], "--type", "spdxjson",
			"--insecure-ignore-tlog", "--allow-http-registry", base), "cosign verify-attestation --type spdxjson")
		// The signatures the pipeline wrote verify on their own.
		mustPass(t, run(ctx, t, nil, stagexCLI(t), "verify", "--threshold", "2", "--key", pubs[0], "--key", pubs[1], after.Images[0].Tags[0]), "stagex verify on a tag")
	})

	t.Run("failures-leave-no-tag", func(t *testing.T) {
		r := newPipelineRun(t, off, prefix+"/fail", keys[:2], pubs, grypeEnv, "base", "base-static", "base-nodejs")
		res := r.make([]string{"VEX=" + filepath.Join(root, "policy", "vex.openvex.json")}, "pipeline")
		mustFail(t, res, "make pipeline with a check and a scan failing",
			"check failed on 1 image(s):\n  base-nodejs: the check failed",
			"scan failed on 2 image(s):\n  base: ", "finding(s) at or above high",
			"base-nodejs: not run: the check step did not pass",
			"tag: 2 image(s) not tagged:\n  base: not tagged: scan failed\n  base-nodejs: not tagged: check failed, sign not run, attest not run, verify not run, scan not run")
		s := r.state()
		want := map[string]struct {
			failed Step
			tagged bool
		}{"base": {pipeline.StepScan, false}, "base-nodejs": {pipeline.StepCheck, false}, "base-static": {"", true}}
		for _, img := range s.Images {
			w := want[img.Target]
			if w.failed != "" {
				if r := img.Steps[w.failed]; r.Passed {
					t.Errorf("%s: %s passed, want it failed", img.Target, w.failed)
				}
			}
			tags := tagsOf(t, img.Repo)
			switch {
			case w.tagged && !slices.Equal(tags, []string{"latest"}):
				t.Errorf("%s passed every step, tags %v, want [latest]", img.Target, tags)
			case !w.tagged && len(tags) > 0:
				t.Errorf("%s failed %s, yet has tags %v", img.Target, w.failed, tags)
			}
		}
		if r := stepOf(s, "base", pipeline.StepScan); !strings.Contains(r.Detail, "at or above high") {
			t.Errorf("base scan: %+v, want the finding at or above high", r)
		}
		if r := stepOf(s, "base-nodejs", pipeline.StepSign); r.Passed || !strings.Contains(r.Detail, "check step did not pass") {
			t.Errorf("base-nodejs sign: %+v, want not run after the failed check", r)
		}
		table, err := os.ReadFile(filepath.Join(r.dir, "DIGESTS.md"))
		if err != nil {
			t.Fatal(err)
		}
		for _, img := range s.Images {
			row := map[string]string{
				"base":        "| passed | passed | passed | passed | **failed** | none |",
				"base-nodejs": "| **failed** | not run | not run | not run | not run | none |",
				"base-static": "| passed | passed | passed | passed | passed | `latest` |",
			}[img.Target]
			if !strings.Contains(string(table), "| "+img.Target+" | `"+img.Repo+"` | `"+img.Digest+"` "+row) {
				t.Errorf("DIGESTS.md lacks the row %s %s:\n%s", img.Target, row, table)
			}
		}
		report, err := os.ReadFile(filepath.Join(r.dir, "scan", "base.sbom-1.grype.json"))
		if err != nil || !strings.Contains(string(report), seededCVE) {
			t.Errorf("base's SBOM report lacks %s (%v)", seededCVE, err)
		}
	})

	t.Run("unsigned-leaves-no-tag", func(t *testing.T) {
		r := newPipelineRun(t, off, prefix+"/unsigned", keys[:2], pubs, grypeEnv, "base-static")
		mustPass(t, r.make(nil, "pipeline-build", "pipeline-check"), "build and check")
		res := r.make(nil, "pipeline-verify")
		mustFail(t, res, "verify of an unsigned image", "verify failed on 1 image(s)", "sign step has not run")
		// Signed by one key of the two required: verify itself fails.
		mustPass(t, r.make([]string{"SIGN_KEYS=" + keys[0]}, "pipeline-sign", "pipeline-attest"), "sign with one key")
		mustFail(t, r.make(nil, "pipeline-verify"), "verify with one signer of 2", "verify failed on 1 image(s)", "base-static:")
		mustFail(t, r.make(nil, "pipeline-tag"), "tag after a failed verify", "not tagged: verify failed, scan not run")
		img := r.state().Images[0]
		if tags := tagsOf(t, img.Repo); len(tags) > 0 || len(img.Tagged) > 0 {
			t.Errorf("unverified image tagged: registry %v, state %v", tags, img.Tagged)
		}
	})
}

// Step is a pipeline step, for the table of expectations.
type Step = pipeline.Step

func stepOf(s *pipeline.State, target string, step pipeline.Step) pipeline.Result {
	for _, img := range s.Images {
		if img.Target == target {
			return img.Steps[step]
		}
	}
	return pipeline.Result{Detail: "no image " + target}
}
