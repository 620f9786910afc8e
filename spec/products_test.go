package spec

import (
	"strings"
	"testing"
)

const productsHead = "version: 1\npackages:\n"

func mustParseProducts(t *testing.T, src string) *Products {
	t.Helper()
	p, err := ParseProducts(DefaultProductsFile, []byte(src))
	if err != nil {
		t.Fatalf("ParseProducts: %v", err)
	}
	return p
}

func TestParseProductsErrors(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want wantError
	}{
		{"version missing", "packages: {}\n",
			wantError{"stagex.products.yaml:1:1", "version is required", "version: 1"}},
		{"unknown field", productsHead + "  core-musl: {cpes: musl-libc:musl}\n",
			wantError{"stagex.products.yaml:3:15", "unknown field \"cpes\" in packages.core-musl", "did you mean \"cpe\"?"}},
		{"neither cpe nor none", productsHead + "  core-musl: {purl: pkg:generic/musl}\n",
			wantError{"stagex.products.yaml:3:3", "package core-musl has no cpe", "none: <why"}},
		{"both none and cpe", productsHead + "  core-musl: {cpe: musl-libc:musl, none: why}\n",
			wantError{"stagex.products.yaml:3:42", "has both none and product identifiers", "either none"}},
		{"cpe not vendor:product", productsHead + "  core-musl: {cpe: musl}\n",
			wantError{"stagex.products.yaml:3:20", "invalid cpe \"musl\"", "vendor:product"}},
		{"cpe uppercase", productsHead + "  core-musl: {cpe: Musl-Libc:musl}\n",
			wantError{"stagex.products.yaml:3:20", "invalid cpe \"Musl-Libc:musl\"", "lowercase"}},
		{"cpe with a version", productsHead + "  core-musl: {cpe: \"musl-libc:musl:1.2.5\"}\n",
			wantError{"stagex.products.yaml:3:20", "invalid cpe", "vendor:product"}},
		{"purl with a version", productsHead + "  core-musl: {cpe: musl-libc:musl, purl: pkg:generic/musl@1.2.5}\n",
			wantError{"stagex.products.yaml:3:42", "invalid purl \"pkg:generic/musl@1.2.5\"", "without version"}},
		{"purl not a purl", productsHead + "  core-musl: {cpe: musl-libc:musl, purl: musl}\n",
			wantError{"stagex.products.yaml:3:42", "invalid purl \"musl\"", "pkg:generic/openssl"}},
		{"version not a release", productsHead + "  core-ca-certificates: {cpe: mozilla:nss, version: f2e816d1}\n",
			wantError{"stagex.products.yaml:3:53", "\"f2e816d1\" is not a release version", "1.2.3"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := ParseProducts(DefaultProductsFile, []byte(c.src))
			if p != nil {
				t.Error("ParseProducts returned products with an error")
			}
			requireError(t, err, c.want)
		})
	}
}

// Apply gives every locked package its product's CPE and purl with the
// lock's version, or the product's own; a none package gets neither.
func TestProductsApply(t *testing.T) {
	p := mustParseProducts(t, lines(
		"version: 1",
		"packages:",
		"  core-musl: {cpe: musl-libc:musl, purl: pkg:generic/musl}",
		"  core-temurin: {cpe: eclipse:temurin}",
		"  core-tz: {cpe: iana:tz, purl: pkg:generic/tzdata, version: 2026.1}",
		"  core-filesystem: {none: no upstream product}",
		"  core-unlocked: {cpe: a:b}",
	))
	digests := map[string]string{"linux/amd64": digestA}
	l := &Lock{Version: 1, Registry: "registry.example.com/stagex", Packages: map[string]LockPackage{
		"core-musl":       {Version: "1.2.5", Digests: digests},
		"core-temurin":    {Version: "21.0.12+8", Digests: digests},
		"core-tz":         {Version: "latest", Digests: digests},
		"core-filesystem": {Version: "latest", CPE: "cpe:2.3:a:stale:stale:1.0:*:*:*:*:*:*:*", Digests: digests},
	}}
	if err := p.Apply(l); err != nil {
		t.Fatal(err)
	}
	want := map[string][2]string{
		"core-musl":       {"cpe:2.3:a:musl-libc:musl:1.2.5:*:*:*:*:*:*:*", "pkg:generic/musl@1.2.5"},
		"core-temurin":    {`cpe:2.3:a:eclipse:temurin:21.0.12\+8:*:*:*:*:*:*:*`, ""},
		"core-tz":         {"cpe:2.3:a:iana:tz:2026.1:*:*:*:*:*:*:*", "pkg:generic/tzdata@2026.1"},
		"core-filesystem": {"", ""},
	}
	for name, w := range want {
		if got := l.Packages[name]; got.CPE != w[0] || got.PURL != w[1] {
			t.Errorf("%s: cpe %q purl %q, want %q %q", name, got.CPE, got.PURL, w[0], w[1])
		}
	}
	if _, ok := l.Packages["core-unlocked"]; ok {
		t.Error("Apply added a package the lock does not have")
	}
	// What Apply writes is a valid lock, and survives Marshal and ParseLock.
	out, err := l.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if again := mustParseLock(t, out); again.Packages["core-temurin"].CPE != want["core-temurin"][0] {
		t.Errorf("round trip: %+v", again.Packages["core-temurin"])
	}
}

func TestProductsApplyErrors(t *testing.T) {
	p := mustParseProducts(t, lines(
		"version: 1",
		"packages:",
		"  core-ca-certificates: {cpe: mozilla:nss}",
	))
	digests := map[string]string{"linux/amd64": digestA}
	l := &Lock{Version: 1, Registry: "registry.example.com/stagex", Packages: map[string]LockPackage{
		"core-ca-certificates": {Version: "f2e816d18e74480775f74a2620f48c4d4dc51b7e", Digests: digests},
		"core-musl":            {Version: "1.2.5", Digests: digests},
	}}
	err := p.Apply(l)
	requireError(t, err, wantError{"stagex.products.yaml:2:1", "locked package core-musl has no entry in the products file", "core-musl: {none: <reason>}"})
	requireError(t, err, wantError{"stagex.products.yaml:3:3", "the lock's version \"f2e816d18e7", "set version:"})
}

func TestLockProductIdentifiersAreChecked(t *testing.T) {
	pkg := func(field string) string {
		return lockHead + "  core-musl:\n    " + field + "\n    digests: {linux/amd64: " + digestA + "}\n"
	}
	_, err := ParseLock("stagex.lock.yaml", []byte(pkg("cpe: cpe:2.3:a:musl-libc:musl")))
	requireError(t, err, wantError{"stagex.lock.yaml:6:10", "invalid cpe", "CPE 2.3 formatted string"})
	_, err = ParseLock("stagex.lock.yaml", []byte(pkg("purl: pkg:generic/musl")))
	requireError(t, err, wantError{"stagex.lock.yaml:6:11", "invalid purl \"pkg:generic/musl\"", "with version"})
	l := mustParseLock(t, []byte(pkg(`cpe: 'cpe:2.3:a:eclipse:temurin:21.0.12\+8:*:*:*:*:*:*:*'`)))
	if got := l.Packages["core-musl"].CPE; got != FormatCPE("eclipse", "temurin", "21.0.12+8") {
		t.Errorf("cpe = %q", got)
	}
}

func TestIsCompanionFile(t *testing.T) {
	for name, want := range map[string]bool{
		"images/stagex.lock.yaml":                   true,
		"images/.fixtures/127.0.0.1_5000.lock.yaml": true,
		"images/stagex.products.yaml":               true,
		"stagex.products.yaml":                      true,
		"images/base.yaml":                          false,
		"images/products.yaml":                      false,
	} {
		if got := IsCompanionFile(name); got != want {
			t.Errorf("IsCompanionFile(%q) = %v, want %v", name, got, want)
		}
	}
	if !strings.HasSuffix(DefaultLockFile, ".lock.yaml") {
		t.Errorf("DefaultLockFile %q is not a *.lock.yaml companion", DefaultLockFile)
	}
}
