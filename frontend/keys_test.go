package frontend

import (
	"strconv"
	"strings"
	"testing"

	"edp.buildth.ing/devfw-cicd/stagex/spec"
	"github.com/moby/buildkit/exporter/containerimage/exptypes"
)

// TestAnnotationKeysAsBuildKitReadsThem: every annotation key the spec
// accepts comes back whole from BuildKit's exporter, which parses the key
// out of the "annotation-manifest.<key>" metadata the build adds (Build)
// and silently drops a key it cannot read (one with a blank).
func TestAnnotationKeysAsBuildKitReadsThem(t *testing.T) {
	for _, k := range []string{
		"org.opencontainers.image.vendor", "a", "com.example/x_y-z", "a.b=c", "ünïcode.key",
		"a b", "a\tb", " a", "a\n", "a\rb", "a\u00a0b", "a\u2028b", "a\x00b", "a\x0bb", "",
	} {
		// Go's quoted strings are valid YAML double-quoted scalars.
		_, err := spec.ParseSpec("stagex.yaml", []byte("version: 1\npackages: [core-musl]\nannotations:\n  "+strconv.Quote(k)+": x\n"))
		parsed, ok, perr := exptypes.ParseAnnotationKey(exptypes.AnnotationManifestKey(nil, k))
		buildkitKeeps := ok && perr == nil && parsed.Key == k
		if err == nil && !buildkitKeeps {
			t.Errorf("the spec accepts annotation key %q, which BuildKit drops", k)
		}
		if err != nil && buildkitKeeps && !strings.ContainsFunc(k, func(r rune) bool { return r < ' ' || r > '~' }) {
			t.Errorf("the spec refuses printable ASCII annotation key %q, which BuildKit keeps: %v", k, err)
		}
	}
}
