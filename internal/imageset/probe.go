package imageset

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// ProbeTimeout bounds one reachability check, so that an offline machine
// hears about it at once rather than after a build times out.
var ProbeTimeout = 5 * time.Second

// registryEndpoint is the host a registry prefix's API is served from:
// docker.io's is registry-1.docker.io.
func registryEndpoint(registry string) string {
	host := RegistryHost(registry)
	if host == "docker.io" || host == "index.docker.io" {
		return "registry-1.docker.io"
	}
	return host
}

// ProbeRegistry checks that the registry of a prefix such as
// "docker.io/stagex" answers its API (any HTTP status counts: an anonymous
// client gets 401), over HTTPS, or plain HTTP on loopback as BuildKit does.
func ProbeRegistry(ctx context.Context, registry string) error {
	scheme := "https://"
	if isLoopback(RegistryHost(registry)) {
		scheme = "http://"
	}
	return probe(ctx, scheme+registryEndpoint(registry)+"/v2/")
}

// ProbeURL checks that the host of a URL answers HTTP at all.
func ProbeURL(ctx context.Context, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return err
	}
	return probe(ctx, u.Scheme+"://"+u.Host+"/")
}

func probe(ctx context.Context, u string) error {
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, u, nil)
	if err != nil {
		return err
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", u, err)
	}
	resp.Body.Close()
	return nil
}
