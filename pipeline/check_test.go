package pipeline

import (
	"context"
	"io"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestCheckRefusesAPlatformItDoesNotCheck: the check reads one platform
// image of the index (the host's); an index that holds another platform
// fails the step, naming it, instead of passing with that image unchecked.
func TestCheckRefusesAPlatformItDoesNotCheck(t *testing.T) {
	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	var adds []mutate.IndexAddendum
	for _, arch := range []string{"amd64", "arm64", "s390x"} {
		img, err := random.Image(64, 1)
		if err != nil {
			t.Fatal(err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	idx := mutate.AppendManifests(empty.Index, adds...)
	ref, err := name.ParseReference(u.Host + "/p/base:x")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	d, _ := idx.Digest()
	s := NewState(t.TempDir(), []*Image{{Target: "base", Repo: u.Host + "/p/base", Digest: d.String()}})
	err = Check(context.Background(), s, ".", io.Discard)
	if err == nil || !strings.Contains(err.Error(), "linux/s390x") {
		t.Fatalf("err = %v, want the unchecked platform linux/s390x named", err)
	}
}
