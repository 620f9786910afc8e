package imageset

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestDocsListTheSet: the image tables a reader sees (README.md,
// docs/images.md) describe the images, so they name them; each table must
// name exactly the bake file's images, so that a target added or removed
// there fails here until the docs say so too.
func TestDocsListTheSet(t *testing.T) {
	set, _ := loadSet(t, nil)
	var want []string
	for _, img := range set.Images {
		want = append(want, Repo(img))
	}
	name := regexp.MustCompile("`(" + regexp.QuoteMeta(RepoPrefix) + "[a-z0-9-]+)`")
	tables := 0
	for _, doc := range []string{"README.md", filepath.Join("docs", "images.md")} {
		var got []string
		for _, line := range strings.Split(readFile(t, filepath.Join(repoRoot(t), doc)), "\n") {
			cell, _, _ := strings.Cut(strings.TrimPrefix(line, "| "), " | ")
			if !strings.HasPrefix(line, "| `"+RepoPrefix) {
				continue
			}
			for _, m := range name.FindAllStringSubmatch(cell, -1) {
				got = append(got, m[1])
			}
		}
		if got == nil {
			continue // this document has no image table (any more)
		}
		tables++
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s's image table names %v; the bake file's images are %v", doc, got, want)
		}
	}
	if tables == 0 {
		t.Error("neither README.md nor docs/images.md has an image table")
	}
}
