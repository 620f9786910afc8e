package offline

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

type tarEntry struct {
	name     string
	mode     int64
	uid      int
	modTime  time.Time
	contents string
}

func untar(t *testing.T, gz []byte) []tarEntry {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var out []tarEntry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out = append(out, tarEntry{h.Name, h.Mode, h.Uid, h.ModTime, string(b)})
	}
}

func TestFixtureArchive(t *testing.T) {
	a, err := BuildFixtureArchive("temurin-jre", 1)
	if err != nil {
		t.Fatal(err)
	}
	again, err := BuildFixtureArchive("temurin-jre", 1)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Data, again.Data) {
		t.Fatal("two builds of the fixture archive differ")
	}
	sum := sha256.Sum256(a.Data)
	if a.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("SHA256 = %s, not the data's", a.SHA256)
	}
	var names []string
	for _, e := range untar(t, a.Data) {
		names = append(names, e.name)
		if e.uid != fixtureOwner || !e.modTime.Equal(fixtureTime) {
			t.Errorf("%s: uid %d, time %v; want %d and %v, so that the archive layer has to rewrite both", e.name, e.uid, e.modTime, fixtureOwner, fixtureTime)
		}
		if e.name == "temurin-jre-fixture-0/bin/java" && (e.mode != 0o755 || !strings.HasPrefix(e.contents, "#!/bin/sh\n")) {
			t.Errorf("bin/java: mode %o, content %q", e.mode, e.contents)
		}
	}
	want := []string{
		"temurin-jre-fixture-0/", "temurin-jre-fixture-0/README", "temurin-jre-fixture-0/bin/",
		"temurin-jre-fixture-0/bin/java", "temurin-jre-fixture-0/lib/", "temurin-jre-fixture-0/lib/libjli.so",
		"temurin-jre-fixture-0/release",
	}
	if !slices.Equal(names, want) {
		t.Errorf("entries = %v, want %v", names, want)
	}

	// Another strip-components, another depth; another name, a README only.
	b, err := BuildFixtureArchive("other", 2)
	if err != nil {
		t.Fatal(err)
	}
	names = nil
	for _, e := range untar(t, b.Data) {
		names = append(names, e.name)
	}
	if want := []string{"other-fixture-0/", "other-fixture-0/other-fixture-1/", "other-fixture-0/other-fixture-1/README"}; !slices.Equal(names, want) {
		t.Errorf("entries = %v, want %v", names, want)
	}
}
