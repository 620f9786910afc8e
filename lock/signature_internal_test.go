package lock

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckPayload(t *testing.T) {
	const d = "sha256:4a756058c3e1afd5104ff86a2c57f71c36fce07b3110dbaf2591371cfc47c799"
	const other = "sha256:da6089dd9f39559d0fa323d0687aae495914fd2c6a01f7c260823202732cadf9"
	const want = "docker.io/stagex/core-musl"
	good := `{"critical":{"identity":{"docker-reference":"stagex/core-musl:1.2.5"},"image":{"docker-manifest-digest":"` + d + `"},"type":"atomic container signature"},"optional":{"creator":"x"}}`
	if err := checkPayload([]byte(good), d, want, "1.2.5"); err != nil {
		t.Fatalf("good payload: %v", err)
	}
	withDigest := strings.Replace(good, "stagex/core-musl:1.2.5", "stagex/core-musl:1.2.5@"+d, 1)
	if err := checkPayload([]byte(withDigest), d, want, "1.2.5"); err != nil {
		t.Fatalf("a reference with the tag and the same digest: %v", err)
	}
	for _, c := range []struct {
		name, payload, version, want string
		otherVersion                 bool // a *versionMismatch
	}{
		{name: "unknown critical field", payload: strings.Replace(good, `"type"`, `"expires":1,"type"`, 1), want: `unknown field "expires"`},
		{name: "unknown top-level field", payload: strings.Replace(good, `"optional"`, `"extra":1,"optional"`, 1), want: `unknown field "extra"`},
		{name: "other type", payload: strings.Replace(good, "atomic container signature", "cosign container image signature", 1), want: `payload type "cosign container image signature"`},
		{name: "trailing data", payload: good + `{}`, want: "data after the JSON object"},
		{name: "no digest", payload: strings.Replace(good, d, "", 1), want: "signature is for another digest: none"},
		{name: "bad reference", payload: strings.Replace(good, "stagex/core-musl:1.2.5", "Stagex/Core Musl", 1), want: "payload names no valid docker-reference"},
		{name: "other registry", payload: strings.Replace(good, "stagex/core-musl:1.2.5", "quay.io/stagex/core-musl:1.2.5", 1), want: "another image: quay.io/stagex/core-musl, want docker.io/stagex/core-musl"},
		{name: "other repository, same tag", payload: strings.Replace(good, "stagex/core-musl:1.2.5", "stagex/core-busybox:1.2.5", 1), want: "another image: docker.io/stagex/core-busybox"},
		{name: "reference with another digest", payload: strings.Replace(good, "stagex/core-musl:1.2.5", "stagex/core-musl:1.2.5@"+other, 1), want: "its docker-reference names " + other},
		{name: "not JSON", payload: "sha256:abc", want: "payload is not a containers-signature"},
		{name: "older version", payload: good, version: "1.2.6", want: "signature is for version 1.2.5, want 1.2.6", otherVersion: true},
		{name: "tag is a prefix", payload: good, version: "1.2.5-r1", want: "signature is for version 1.2.5, want 1.2.5-r1", otherVersion: true},
		{name: "no tag", payload: strings.Replace(good, "stagex/core-musl:1.2.5", "stagex/core-musl", 1), want: "names no version (its docker-reference has no tag), want 1.2.5", otherVersion: true},
		{name: "latest is a tag like any", payload: strings.Replace(good, "stagex/core-musl:1.2.5", "stagex/core-musl:latest", 1), want: "signature is for version latest, want 1.2.5", otherVersion: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			version := c.version
			if version == "" {
				version = "1.2.5"
			}
			err := checkPayload([]byte(c.payload), d, want, version)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want it to contain %q", err, c.want)
			}
			var vm *versionMismatch
			if errors.As(err, &vm) != c.otherVersion {
				t.Errorf("err = %#v: a version mismatch %v, want %v", err, !c.otherVersion, c.otherVersion)
			}
		})
	}
}
