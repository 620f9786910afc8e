package lock

import (
	"strings"
	"testing"
)

func TestCheckPayload(t *testing.T) {
	const d = "sha256:4a756058c3e1afd5104ff86a2c57f71c36fce07b3110dbaf2591371cfc47c799"
	const want = "docker.io/stagex/core-musl"
	good := `{"critical":{"identity":{"docker-reference":"stagex/core-musl:1.2.5"},"image":{"docker-manifest-digest":"` + d + `"},"type":"atomic container signature"},"optional":{"creator":"x"}}`
	if err := checkPayload([]byte(good), d, want); err != nil {
		t.Fatalf("good payload: %v", err)
	}
	for _, c := range []struct{ name, payload, want string }{
		{"unknown critical field", strings.Replace(good, `"type"`, `"expires":1,"type"`, 1), `unknown field "expires"`},
		{"unknown top-level field", strings.Replace(good, `"optional"`, `"extra":1,"optional"`, 1), `unknown field "extra"`},
		{"other type", strings.Replace(good, "atomic container signature", "cosign container image signature", 1), `payload type "cosign container image signature"`},
		{"trailing data", good + `{}`, "data after the JSON object"},
		{"no digest", strings.Replace(good, d, "", 1), "signature is for another digest: none"},
		{"bad reference", strings.Replace(good, "stagex/core-musl:1.2.5", "Stagex/Core Musl", 1), "payload names no valid docker-reference"},
		{"other registry", strings.Replace(good, "stagex/core-musl:1.2.5", "quay.io/stagex/core-musl:1.2.5", 1), "another image: quay.io/stagex/core-musl, want docker.io/stagex/core-musl"},
		{"not JSON", "sha256:abc", "payload is not a containers-signature"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := checkPayload([]byte(c.payload), d, want)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
}
