package frontend

import (
	"context"

	"github.com/moby/buildkit/frontend/gateway/client"
)

// cacheImportingClient passes the build's cache imports (buildctl
// --import-cache, buildx --cache-from, the bake file's CACHE_FROM) with
// every solve the frontend makes, the image's and every side-solve's, in
// one place. BuildKit consults an imported cache per solve request
// (solver/llbsolver/bridge.go), so a side-solve without them (the packages'
// facts, the check, a smoke test, an attestation file) would run again on a
// runner that has the registry cache, and unpack every package to do so.
type cacheImportingClient struct {
	client.Client
	imports []client.CacheOptionsEntry
}

func withCacheImports(c client.Client, imports []client.CacheOptionsEntry) client.Client {
	if len(imports) == 0 {
		return c
	}
	return cacheImportingClient{Client: c, imports: imports}
}

func (c cacheImportingClient) Solve(ctx context.Context, req client.SolveRequest) (*client.Result, error) {
	if req.CacheImports == nil {
		req.CacheImports = c.imports
	}
	return c.Client.Solve(ctx, req)
}
