package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/hack/imageset"
)

// TestArchiveChecksumMismatchFails: BuildKit checks an archive against the
// pinned sha256 before anything is unpacked, and a mismatch fails the build
// (nothing is pushed); the right sum builds.
func TestArchiveChecksumMismatchFails(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b := requireBed(t)
	pushedFixtures(t)
	fa, err := imageset.BuildFixtureArchive("checksum-test", 1)
	if err != nil {
		t.Fatal(err)
	}
	url, err := imageset.PushArchive(ctx, b.RegistryAddr, fa.Name, fa.Data)
	if err != nil {
		t.Fatal(err)
	}
	wrong := strings.Repeat("0", 64)
	body := func(sum string) string {
		return "version: 1\npackages: [core-musl]\narchives:\n" +
			"  - {name: checksum-test, url: \"" + url + "\", sha256: " + sum + ", dst: /opt/x, strip-components: 1}\n"
	}
	c := client1(ctx, t)
	fe := frontendImage(t)

	ref := b.Ref("it/archive:wrong")
	_, err = buildSpec(ctx, t, c, specDir(t, fe, body(wrong)), ref, nil)
	if err == nil || !strings.Contains(err.Error(), "digest mismatch") {
		t.Fatalf("build with a wrong sha256: err = %v, want a digest mismatch", err)
	}
	if _, err := imageset.Inspect(ctx, "archive", ref); err == nil {
		t.Error("an image was pushed although the archive did not match its sha256")
	}

	res, err := buildSpec(ctx, t, c, specDir(t, fe, body(fa.SHA256)), b.Ref("it/archive:right"), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := readImageFile(b.Ref("it/archive@"+res.Digest), "/opt/x/README")
	if err != nil || !strings.Contains(string(got), "checksum-test") {
		t.Errorf("/opt/x/README = %q, %v", got, err)
	}
}
