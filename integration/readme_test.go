package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/internal/bed"
	"edp.buildth.ing/devfw-cicd/stagex/internal/repo"
	"edp.buildth.ing/devfw-cicd/stagex/internal/solve"
	"edp.buildth.ing/devfw-cicd/stagex/spec"
)

// readmeBedMarker precedes the README's "build your own image on a bed"
// block, readmeBuildctlMarker its buildctl alternative, run after it.
const (
	readmeBedMarker      = "<!-- readme-bed-test:"
	readmeBuildctlMarker = "<!-- readme-bed-buildctl-test:"
)

// readmeText is the repository root and its README.md.
func readmeText(t *testing.T) (string, string) {
	t.Helper()
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	return root, string(readme)
}

// readmeBlock is the first ```sh block after marker in the README.
func readmeBlock(t *testing.T, readme, marker string) string {
	return readmeFenced(t, readme, marker, "sh")
}

// readmeFenced is the first block fenced as ```lang after marker in the README.
func readmeFenced(t *testing.T, readme, marker, lang string) string {
	t.Helper()
	_, after, ok := strings.Cut(readme, marker)
	if !ok {
		t.Fatalf("README.md has no %q marker", marker)
	}
	_, block, ok := strings.Cut(after, "```"+lang+"\n")
	if !ok {
		t.Fatalf("no ```%s block after %q in README.md", lang, marker)
	}
	block, _, ok = strings.Cut(block, "```\n")
	if !ok {
		t.Fatalf("the ```%s block after %q in README.md does not end", lang, marker)
	}
	return block
}

// TestReadmeBuildOnABed runs the README's "build your own image on a bed"
// commands exactly as written, in a fresh folder (with the repository's
// hack/ linked in, as from the repository root), on a bed of their own,
// and checks what they claim: the image is in the bed's registry under the
// digest buildx printed, with the spec's file and the package's program.
func TestReadmeBuildOnABed(t *testing.T) {
	harness := requireBed(t) // root, the pinned tools and the CI rule
	root, readme := readmeText(t)
	block := readmeBlock(t, readme, readmeBedMarker)
	buildctlBlock := readmeBlock(t, readme, readmeBuildctlMarker)
	m := regexp.MustCompile(`hack/bed up (\S+)`).FindStringSubmatch(block)
	if m == nil {
		t.Fatalf("the README block starts no bed:\n%s", block)
	}
	name := m[1]

	work := t.TempDir()
	if err := os.Symlink(filepath.Join(root, "hack"), filepath.Join(work, "hack")); err != nil {
		t.Fatal(err)
	}
	bedDir, err := os.MkdirTemp("", "readme-bed-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(bedDir) })
	portBase := portsAbove(harness, 40)
	// The harness's bed variables are dropped: the block sets its own.
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "STAGEX_BUILDKIT_ADDR") || strings.HasPrefix(k, "STAGEX_REGISTRY_ADDR") ||
			k == bed.EnvBuildkitHost || k == bed.EnvBuildxConfig || k == bed.EnvBuildxBuilder || k == repo.EnvRoot {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, bed.EnvDir+"="+bedDir, bed.EnvPortBase+"="+strconv.Itoa(portBase))
	t.Cleanup(func() {
		down := exec.Command(filepath.Join(work, "hack", "bed"), "down", name)
		down.Dir, down.Env = work, env
		if out, err := down.CombinedOutput(); err != nil {
			t.Errorf("hack/bed down %s: %v\n%s", name, err, out)
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", block+buildctlBlock)
	cmd.Dir, cmd.Env = work, env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("README block failed: %v\n%s", err, solve.TailLines(string(out), 60))
	}

	b, err := bed.Open(name, bed.Options{Dir: bedDir})
	if err != nil {
		t.Fatal(err)
	}
	if !b.Status().Up() || b.RegistryAddr == "" {
		t.Fatalf("bed %s is not up after the README block", name)
	}
	ref := b.Ref("hello:1")
	d, err := descriptorOf(ref)
	if err != nil {
		t.Fatalf("the image is not in the bed's registry: %v\n%s", err, solve.TailLines(string(out), 30))
	}
	if !regexp.MustCompile(`(?m)^Digest:\s+` + regexp.QuoteMeta(d.Digest.String()) + `$`).Match(out) {
		t.Errorf("buildx imagetools inspect did not show the pushed digest %s:\n%s", d.Digest, solve.TailLines(string(out), 30))
	}
	motd, err := readImageFile(ref, "/etc/motd")
	if err != nil || string(motd) != "built on my own bed\n" {
		t.Errorf("/etc/motd from the spec = %q, %v", motd, err)
	}
	if _, err := readImageFile(ref, "/usr/bin/hello"); err != nil {
		t.Errorf("/usr/bin/hello of core-hello: %v", err)
	}
	// The lock was written beside the spec, and names the bed's registry.
	lock, err := os.ReadFile(filepath.Join(work, "hello", "stagex.lock.yaml"))
	if err != nil || !strings.Contains(string(lock), "registry: "+b.RegistryAddr+"/stagex") {
		t.Errorf("hello/stagex.lock.yaml: %v\n%s", err, lock)
	}
	// buildctl's build of the same spec is the same image: buildx adds an
	// attestation manifest beside it, so the platform manifests are compared.
	img, err := remoteImage(ref)
	if err != nil {
		t.Fatal(err)
	}
	viaBuildctl, err := remoteImage(b.Ref("hello:buildctl"))
	if err != nil {
		t.Fatalf("the README's buildctl block pushed nothing: %v\n%s", err, solve.TailLines(string(out), 30))
	}
	want, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := viaBuildctl.Digest(); err != nil || got != want {
		t.Errorf("buildctl built %v (%v), buildx %v: the README says they are the same image", got, err, want)
	}
	t.Logf("README block built %s@%s", ref, d.Digest)
}

// TestReadmeOwnSpec holds the README's "Your own image" spec to what the
// frontend accepts: it parses strictly, its short names resolve through the
// repository's lock, and its syntax line names the frontend the images use.
func TestReadmeOwnSpec(t *testing.T) {
	root, readme := readmeText(t)
	block := readmeFenced(t, readme, "## Your own image", "yaml")
	s, err := spec.ParseSpec("README.md", []byte(block))
	if err != nil {
		t.Fatalf("the README's spec does not parse: %v", err)
	}
	lockData, err := os.ReadFile(filepath.Join(root, "images", "stagex.lock.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	lock, err := spec.ParseLock("images/stagex.lock.yaml", lockData)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := spec.Resolve(s, lock, spec.ResolveOptions{Platform: "linux/amd64"}); err != nil {
		t.Errorf("the README's packages do not resolve through images/stagex.lock.yaml: %v", err)
	}
	base, err := os.ReadFile(filepath.Join(root, "images", "base.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	syntax, _, _ := strings.Cut(string(base), "\n")
	if !strings.HasPrefix(block, syntax+"\n") {
		t.Errorf("the README's spec starts %q, images/base.yaml %q", strings.SplitN(block, "\n", 2)[0], syntax)
	}
}
