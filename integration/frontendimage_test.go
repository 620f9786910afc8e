package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/internal/bed"
	"edp.buildth.ing/devfw-cicd/stagex/internal/fixtures"
	"edp.buildth.ing/devfw-cicd/stagex/internal/frontendimage"
	"edp.buildth.ing/devfw-cicd/stagex/internal/imageset"
	"edp.buildth.ing/devfw-cicd/stagex/internal/repo"
	"edp.buildth.ing/devfw-cicd/stagex/internal/solve"
	"github.com/moby/buildkit/client"
)

// TestFrontendImageReproducible packs the frontend image (Dockerfile target
// frontend-prebuilt, as the bed, the demo and the bake's offline runs do)
// from two contexts compiled seconds apart, on two daemons (the second's
// cache emptied), without the exporter's rewrite-timestamp: the same digest,
// and a layer of exactly bin/ and bin/frontend at the epoch. Then a context
// that also holds the binary and its folder at the wall-clock time, and
// whose archive's own time is the wall clock: the same digest again. (A
// target that copied bin/ from the context would fail here: BuildKit's
// incremental context transfer keeps a folder's time from an earlier build
// on the same daemon.)
func TestFrontendImageReproducible(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	b, c2, root := bothBeds(ctx, t)
	tmp := t.TempDir()
	dirA, dirB := filepath.Join(tmp, "a"), filepath.Join(tmp, "b")

	if err := frontendimage.BuildContext(ctx, root, dirA); err != nil {
		t.Fatal(err)
	}
	refA, err := frontendimage.Push(ctx, client1(ctx, t), root, dirA, b.Ref("it/frontend-repro:a"))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // a wall-clock time would now show
	if err := frontendimage.BuildContext(ctx, root, dirB); err != nil {
		t.Fatal(err)
	}
	if err := c2.Prune(ctx, nil, client.PruneAll); err != nil {
		t.Fatalf("prune bed b: %v", err)
	}
	refB, err := frontendimage.Push(ctx, c2, root, dirB, b.Ref("it/frontend-repro:b"))
	if err != nil {
		t.Fatal(err)
	}
	if digest(refA) != digest(refB) {
		t.Fatalf("daemon a packed %s, daemon b %s: the frontend image is not reproducible", refA, refB)
	}
	t.Logf("both daemons: %s", digest(refA))

	listing := layerListing(t, refA)
	want := []string{
		"/bin 5 755 0:0 1970-01-01T00:00:00Z",
		"/bin/frontend 0 755 0:0 1970-01-01T00:00:00Z",
	}
	if fmt.Sprint(listing) != fmt.Sprint(want) {
		t.Errorf("the frontend image's layer:\n%q\nwant\n%q", listing, want)
	}

	// The context's own file times must not reach the image.
	data, err := os.ReadFile(filepath.Join(dirB, frontendimage.ContextArchive))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dirB, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dirB, "bin", "frontend"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := os.Chtimes(filepath.Join(dirB, frontendimage.ContextArchive), now, now); err != nil {
		t.Fatal(err)
	}
	refC, err := frontendimage.Push(ctx, c2, root, dirB, b.Ref("it/frontend-repro:c"))
	if err != nil {
		t.Fatal(err)
	}
	if digest(refC) != digest(refA) {
		t.Errorf("a context with files at the wall-clock time packed to %s, not %s", digest(refC), digest(refA))
	}
}

// goStandIn is pallet-go's go for TestFrontendTargetReproducible: "go mod
// download" does nothing, "go build … -o OUT …" writes go.sum to OUT (the
// same content every time, written at the wall-clock time, as a compiler
// writes its output).
const goStandIn = `#!/bin/sh
set -e
[ "$1" = build ] || exit 0
while [ $# -gt 0 ]; do
	[ "$1" = -o ] && out=$2
	shift
done
mkdir -p "$(dirname "$out")"
cp go.sum "$out"
`

// palletStandIn is the stand-in for pallet-go: a static busybox, the go
// above, and pallet-go's own SOURCE_DATE_EPOCH=1, which the build stage's
// ARG must override.
const palletStandIn = `FROM scratch
COPY busybox /bin/busybox
COPY --chmod=0755 go /usr/bin/go
RUN ["/bin/busybox", "--install", "-s", "/bin"]
ENV PATH=/usr/bin:/bin SOURCE_DATE_EPOCH=1
`

// TestFrontendTargetReproducible builds the repository's Dockerfile target
// frontend (the one docker-bake.hcl exports, without rewrite-timestamp) on
// two daemons, seconds apart, the second's cache emptied, with GO_IMAGE a
// stand-in for pallet-go (offline there is none; only the compiler is
// stubbed, the Dockerfile's stages run as they are, with a real busybox
// touch): the same digest, and a layer of exactly bin/ and bin/frontend at
// SOURCE_DATE_EPOCH. Another epoch gives other times in the layer.
func TestFrontendTargetReproducible(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	b, c2, root := bothBeds(ctx, t)
	c1 := client1(ctx, t)

	pallet := t.TempDir()
	busybox, err := os.ReadFile(fixtures.DefaultBusyboxPath)
	if err != nil {
		if bed.InCI() {
			t.Fatalf("a static busybox (package busybox-static): %v", err)
		}
		t.Skipf("a static busybox (package busybox-static): %v", err)
	}
	for name, data := range map[string][]byte{"busybox": busybox, "go": []byte(goStandIn), "Dockerfile": []byte(palletStandIn)} {
		if err := os.WriteFile(filepath.Join(pallet, name), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	res, err := solve.Dockerfile(ctx, c1, solve.DockerfileBuild{DockerfileDir: pallet, ContextDir: pallet, Push: b.Ref("it/pallet-go-stand-in:1")})
	if err != nil {
		t.Fatal(err)
	}
	goImage := b.Ref("it/pallet-go-stand-in") + "@" + res.Digest

	build := func(c *client.Client, epoch, tag string) string {
		t.Helper()
		res, err := solve.Dockerfile(ctx, c, solve.DockerfileBuild{
			DockerfileDir: root,
			ContextDir:    root,
			Target:        imageset.FrontendTarget,
			BuildArgs:     map[string]string{"GO_IMAGE": goImage, "SOURCE_DATE_EPOCH": epoch},
			Push:          b.Ref("it/frontend-target:" + tag),
			ExportAttrs:   frontendimage.ExportAttrs, // as docker-bake.hcl's output
		})
		if err != nil {
			t.Fatal(err)
		}
		return b.Ref("it/frontend-target") + "@" + res.Digest
	}
	refA := build(c1, "1700000000", "a")
	time.Sleep(1100 * time.Millisecond) // a wall-clock time would now show
	if err := c2.Prune(ctx, nil, client.PruneAll); err != nil {
		t.Fatalf("prune bed b: %v", err)
	}
	refB := build(c2, "1700000000", "b")
	if digest(refA) != digest(refB) {
		t.Fatalf("daemon a built %s, daemon b %s: the frontend target is not reproducible\na: %q\nb: %q", refA, refB, layerListing(t, refA), layerListing(t, refB))
	}
	t.Logf("both daemons: %s", digest(refA))
	want := []string{
		"/bin 5 755 0:0 2023-11-14T22:13:20Z",
		"/bin/frontend 0 755 0:0 2023-11-14T22:13:20Z",
	}
	if got := layerListing(t, refA); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the frontend target's layer:\n%q\nwant\n%q", got, want)
	}
	if got := layerListing(t, build(c2, "1700000001", "c")); len(got) != 2 || !strings.HasSuffix(got[1], " 2023-11-14T22:13:21Z") {
		t.Errorf("with SOURCE_DATE_EPOCH=1700000001 the layer is\n%q\nwant its times at 2023-11-14T22:13:21Z", got)
	}
}

// digest is the sha256:… of a reference by digest.
func digest(ref string) string {
	_, d, _ := strings.Cut(ref, "@")
	return d
}

// bothBeds are bed a, a client of bed b (closed at the test's end) and the
// repository root.
func bothBeds(ctx context.Context, t *testing.T) (*bed.Bed, *client.Client, string) {
	t.Helper()
	b, second := requireBed(t), requireSecondBed(t)
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	c2, err := second.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c2.Close() })
	return b, c2, root
}

// layerListing is the image's last layer, one line per entry: path, tar
// type, mode, owner and time.
func layerListing(t *testing.T, ref string) []string {
	t.Helper()
	entries, err := layerEntries(ref, -1)
	if err != nil {
		t.Fatal(err)
	}
	var listing []string
	for _, e := range entries {
		listing = append(listing, fmt.Sprintf("%s %c %o %d:%d %s", e.Name, e.Type, e.Mode, e.UID, e.GID, e.ModTime.UTC().Format(time.RFC3339)))
	}
	return listing
}
