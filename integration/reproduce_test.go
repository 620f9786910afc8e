package integration

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/hack/imageset"
	"edp.buildth.ing/devfw-cicd/stagex/internal/bed"
	"edp.buildth.ing/devfw-cicd/stagex/internal/repo"

	"edp.buildth.ing/devfw-cicd/stagex/reproduce"
)

// TestReproducibleImageSet is the reproducibility check of package
// reproduce on beds a and b: the whole set from a new user's `make demo` in
// one clone (buildx bake, 127.0.0.1:<port>, packages from <registry>/stagex)
// and from buildctl in another clone (other path, other origin URL, no
// cache, localhost:<port>, packages from <registry>/mirror/stagex), seconds
// apart; every platform manifest must agree, and the demo must leave the
// clone's git status clean. Then `stagex rebuild` checks a demo image from
// its provenance on the other bed: the same digest; and with a tampered
// lock, the difference named.
func TestReproducibleImageSet(t *testing.T) {
	requireSecondBed(t)
	beds, ok := reproduce.BedsFromEnv()
	if !ok {
		t.Fatalf("the bed names are not in the environment (%s, %s): run through hack/test-integration", bed.EnvName, bed.EnvName+"_2")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	buildctl, buildx, dir, err := reproduce.Tools(ctx, root, &log)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := reproduce.Run(ctx, reproduce.Options{Root: root, Beds: beds, Buildctl: buildctl, Buildx: buildx, ToolsBin: dir, Log: &log})
	t.Log(log.String())
	if err != nil {
		t.Fatal(err)
	}
	defer rep.Close()
	var table bytes.Buffer
	if err := reproduce.WriteTable(&table, rep); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s\n%s", rep.Summary(), table.String())
	one, two := rep.Builds[0], rep.Builds[1]
	if one.StagexRegistry == two.StagexRegistry || imageset.RegistryHost(one.StagexRegistry) == imageset.RegistryHost(two.StagexRegistry) {
		t.Fatalf("the builds pulled from %s and %s: not two registries", one.StagexRegistry, two.StagexRegistry)
	}
	if len(one.Images) != len(imageset.AllTargets()) {
		t.Fatalf("build 1 has %d images, want %d", len(one.Images), len(imageset.AllTargets()))
	}
	if len(rep.Differ) > 0 {
		t.Fatalf("NOT reproducible: %v", rep.Differ)
	}

	// Bed b holds build 2's cache; without it the rebuild is a build of
	// its own, not a cache hit.
	if out, err := exec.CommandContext(ctx, buildctl, "--addr", beds[1].BuildkitAddr, "prune", "--all").CombinedOutput(); err != nil {
		t.Fatalf("buildctl prune: %v\n%s", err, out)
	}
	stagex := stagexCLI(t)
	lock := filepath.Join(one.Clone, imageset.SpecDir, filepath.FromSlash(rep.Lock))
	rebuildArgs := func(lock string) []string {
		return []string{"rebuild", "--source", one.Clone, "--addr", beds[1].BuildkitAddr,
			"--frontend", one.Refs[imageset.FrontendTarget], "--lock", lock,
			"--build-arg", "STAGEX_REGISTRY=" + two.StagexRegistry, one.Refs["base"]}
	}
	t.Run("rebuild confirms a demo image", func(t *testing.T) {
		r := run(ctx, t, nil, stagex, rebuildArgs(lock)...)
		mustPass(t, r, "stagex rebuild")
		if !strings.Contains(r.out, "SAME") || !strings.Contains(r.out, "rebuilt:   "+one.Images["base"]) {
			t.Errorf("stagex rebuild output:\n%s", r.out)
		}
	})
	t.Run("rebuild takes the frontend from the provenance", func(t *testing.T) {
		// Build 2 went through buildctl with the frontend as a
		// docker-image:// context: its provenance pins the frontend by
		// digest, and records no git facts (--revision, --context).
		head, err := exec.CommandContext(ctx, "git", "-C", two.Clone, "rev-parse", "HEAD").Output()
		if err != nil {
			t.Fatal(err)
		}
		r := run(ctx, t, nil, stagex, "rebuild", "--source", two.Clone, "--addr", beds[1].BuildkitAddr,
			"--revision", strings.TrimSpace(string(head)), "--context", imageset.SpecDir,
			"--lock", filepath.Join(two.Clone, imageset.SpecDir, filepath.FromSlash(rep.Lock)), two.Refs["base-static"])
		mustPass(t, r, "stagex rebuild of the buildctl image")
		frontend, _, _ := strings.Cut(two.Refs[imageset.FrontendTarget], "@")
		if !strings.Contains(r.out, "frontend:  "+frontend+"@sha256:") || !strings.Contains(r.out, "SAME") {
			t.Errorf("stagex rebuild output (want the frontend %s from the provenance):\n%s", frontend, r.out)
		}
	})
	t.Run("rebuild names a tampered lock", func(t *testing.T) {
		data, err := os.ReadFile(lock)
		if err != nil {
			t.Fatal(err)
		}
		tampered := regexp.MustCompile(`(?m)^(  core-musl:\n    version: ).*$`).ReplaceAll(data, []byte("${1}9.9.9-tampered"))
		if bytes.Equal(tampered, data) {
			t.Fatalf("core-musl's version not found in %s", lock)
		}
		file := filepath.Join(t.TempDir(), "tampered.lock.yaml")
		if err := os.WriteFile(file, tampered, 0o644); err != nil {
			t.Fatal(err)
		}
		r := run(ctx, t, nil, stagex, rebuildArgs(file)...)
		if r.code != 1 {
			t.Fatalf("stagex rebuild with a tampered lock: exit %d, want 1 (another digest)\n%s", r.code, r.out)
		}
		if !regexp.MustCompile(`config\.history\[\d+\]\.created_by:\n\s+published: "stagex: \w+ core-musl [^ ]+ from .*\n\s+rebuilt:\s+"stagex: \w+ core-musl 9\.9\.9-tampered from `).MatchString(r.out) {
			t.Errorf("the difference is not named as core-musl's history entry:\n%s", r.out)
		}
	})
}
