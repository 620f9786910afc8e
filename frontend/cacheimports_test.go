package frontend

import (
	"context"
	"reflect"
	"testing"

	bkllb "github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/gateway/client"
)

// solveRecorder is a gateway client that records the solve requests it
// gets; only Solve is called.
type solveRecorder struct {
	client.Client
	reqs []client.SolveRequest
}

func (s *solveRecorder) Solve(_ context.Context, req client.SolveRequest) (*client.Result, error) {
	s.reqs = append(s.reqs, req)
	return client.NewResult(), nil
}

// Every solve carries the build's cache imports unless it names its own;
// a build without imports gets the client as it is.
func TestEverySolveCarriesTheCacheImports(t *testing.T) {
	imports := []client.CacheOptionsEntry{{Type: "registry", Attrs: map[string]string{"ref": "cache.example/stagex:base"}}}
	own := []client.CacheOptionsEntry{{Type: "local", Attrs: map[string]string{"src": "/cache"}}}
	rec := &solveRecorder{}
	c := withCacheImports(rec, imports)
	for _, req := range []client.SolveRequest{{}, {CacheImports: own}} {
		if _, err := c.Solve(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	}
	if len(rec.reqs) != 2 || !reflect.DeepEqual(rec.reqs[0].CacheImports, imports) || !reflect.DeepEqual(rec.reqs[1].CacheImports, own) {
		t.Errorf("solve requests = %+v, want the build's imports on the first, its own on the second", rec.reqs)
	}
	if got := withCacheImports(rec, nil); got != client.Client(rec) {
		t.Errorf("withCacheImports without imports = %T, want the client itself", got)
	}
	// The check asks the gateway client for the frontend's own image; the
	// wrapper must not hide it.
	if _, err := currentFrontend(withCacheImports(&selfNamer{}, imports)); err != nil {
		t.Errorf("currentFrontend through the wrapper: %v", err)
	}
}

// selfNamer is a gateway client that names the frontend's own image.
type selfNamer struct{ solveRecorder }

func (*selfNamer) CurrentFrontend() (*bkllb.State, error) {
	st := bkllb.Image("example.org/stagex-frontend")
	return &st, nil
}
