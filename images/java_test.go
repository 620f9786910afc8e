package images_test

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"edp.buildth.ing/devfw-cicd/stagex/spec"
)

// TestJavaArchive: base-java's JRE is one pinned archive from outside
// StageX, unpacked where JAVA_HOME, PATH and the entrypoint expect it.
func TestJavaArchive(t *testing.T) {
	var java *spec.Spec
	for _, f := range loadSpecs(t) {
		if f.name == "base-java.yaml" {
			java = f.spec
		}
		if f.name != "base-java.yaml" && len(f.spec.Archives) > 0 {
			t.Errorf("%s has archives; only base-java needs content from outside StageX", f.name)
		}
	}
	if java == nil || len(java.Archives) != 1 {
		t.Fatalf("base-java: want exactly one archive (the JRE)")
	}
	a := java.Archives[0]
	u, err := url.Parse(a.URL)
	if err != nil || u.Scheme != "https" {
		t.Errorf("url %q: want https", a.URL)
	}
	if a.Name != "temurin-jre" || a.StripComponents != 1 || a.Platform != platform || a.Version == "" || a.License == "" {
		t.Errorf("archive = %+v: want temurin-jre, strip-components 1, %s, a version and a license", a, platform)
	}
	c := java.Config
	if c.Env["JAVA_HOME"] != a.Dst {
		t.Errorf("JAVA_HOME %q, archive dst %q", c.Env["JAVA_HOME"], a.Dst)
	}
	if !strings.HasPrefix(c.Env["PATH"], a.Dst+"/bin:") {
		t.Errorf("PATH %q does not start with %s/bin", c.Env["PATH"], a.Dst)
	}
	if len(c.Entrypoint) == 0 || c.Entrypoint[0] != a.Dst+"/bin/java" {
		t.Errorf("entrypoint %q, want %s/bin/java", c.Entrypoint, a.Dst)
	}
	// The JRE links musl and zlib (java.md).
	for _, need := range []string{"core-musl", "core-zlib"} {
		found := false
		for _, p := range java.Packages {
			found = found || p.Ref == need
		}
		if !found {
			t.Errorf("base-java does not compose %s, which the JRE needs", need)
		}
	}

	// The pin is the one java.md records for x86_64.
	facts := findShared(t, "java.md")
	if !strings.Contains(facts, "| x86_64 | "+a.URL+" | "+a.SHA256+" |") {
		t.Errorf("url and sha256 of base-java are not java.md's x86_64 row:\n  %s\n  %s", a.URL, a.SHA256)
	}
}

// findShared reads shared/stagex/<name> where findReleaseList looks for
// the release list; it skips (fails under CI=true) when it is not there.
func findShared(t *testing.T, name string) string {
	t.Helper()
	var dirs []string
	if d := os.Getenv("STAGEX_SHARED"); d != "" {
		dirs = append(dirs, d)
	}
	dirs = append(dirs, "../../shared", "../../../shared")
	for _, d := range dirs {
		if b, err := os.ReadFile(filepath.Join(d, "stagex", name)); err == nil {
			return string(b)
		}
	}
	msg := "shared/stagex/" + name + " not found (set STAGEX_SHARED)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}
