package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/internal/frontendimage"
	"edp.buildth.ing/devfw-cicd/stagex/internal/repo"
	"github.com/moby/buildkit/client"
)

// TestFrontendImageReproducible packs the frontend image (Dockerfile target
// frontend-prebuilt, as the bed, the demo and the bake's offline runs do)
// from two contexts compiled seconds apart, on two daemons (the second's
// cache emptied), without the exporter's rewrite-timestamp: the same digest,
// and a layer of exactly bin/ and bin/frontend at the epoch. A context whose
// times were not set gives another digest: nothing downstream rewrites them,
// so the comparison can fail. (BuildKit's cache key of a context file leaves
// its time out, hence the emptied cache before each build on b.)
func TestFrontendImageReproducible(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	b, second := requireBed(t), requireSecondBed(t)
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	c2, err := second.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
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
	emptyCache := func() {
		t.Helper()
		if err := c2.Prune(ctx, nil, client.PruneAll); err != nil {
			t.Fatalf("prune bed b: %v", err)
		}
	}
	emptyCache()
	refB, err := frontendimage.Push(ctx, c2, root, dirB, b.Ref("it/frontend-repro:b"))
	if err != nil {
		t.Fatal(err)
	}
	digest := func(ref string) string { return ref[len(ref)-len("sha256:")-64:] }
	if digest(refA) != digest(refB) {
		t.Fatalf("daemon a packed %s, daemon b %s: the frontend image is not reproducible", refA, refB)
	}
	t.Logf("both daemons: %s", digest(refA))

	entries, err := layerEntries(refA, -1)
	if err != nil {
		t.Fatal(err)
	}
	var listing []string
	for _, e := range entries {
		listing = append(listing, fmt.Sprintf("%s %c %o %d:%d %s", e.Name, e.Type, e.Mode, e.UID, e.GID, e.ModTime.UTC().Format(time.RFC3339)))
	}
	want := []string{
		"/bin 5 755 0:0 1970-01-01T00:00:00Z",
		"/bin/frontend 0 755 0:0 1970-01-01T00:00:00Z",
	}
	if fmt.Sprint(listing) != fmt.Sprint(want) {
		t.Errorf("the frontend image's layer:\n%q\nwant\n%q", listing, want)
	}

	// The context as a plain build leaves it: wall-clock times.
	now := time.Now()
	for _, p := range []string{filepath.Join(dirB, "bin", "frontend"), filepath.Join(dirB, "bin")} {
		if err := os.Chtimes(p, now, now); err != nil {
			t.Fatal(err)
		}
	}
	emptyCache()
	refC, err := frontendimage.Push(ctx, c2, root, dirB, b.Ref("it/frontend-repro:c"))
	if err != nil {
		t.Fatal(err)
	}
	if digest(refC) == digest(refA) {
		t.Errorf("a context at the wall-clock time packed to the same %s: the times do not reach the layer, so the test proves nothing", digest(refC))
	}
}
