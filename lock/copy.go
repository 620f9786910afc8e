package lock

import (
	"fmt"
	"path/filepath"

	"edp.buildth.ing/devfw-cicd/stagex/spec"
)

// Copy makes the lock of the named packages from a release list's digests
// (linux/amd64, the only platform a list carries): it copies them and
// neither resolves nor verifies any, which is what the checked-in test-data
// locks are made with (stagex lock copy). A name the release does not have
// is an error, with the closest names; so is a row without a digest, since
// Copy never invents one.
func Copy(list *ReleaseList, release, registry string, names []string) (*spec.Lock, error) {
	rows, err := list.Select(release, names)
	if err != nil {
		return nil, err
	}
	l := &spec.Lock{Version: 1, Release: release, Registry: registry, Packages: map[string]spec.LockPackage{}}
	for _, row := range rows {
		if row.Digest == "" {
			return nil, fmt.Errorf("line %d: image %s has no digest: stagex lock copy copies the list's digests (stagex lock resolves them)", row.Line, row.Name)
		}
		l.Packages[row.Name] = spec.LockPackage{
			Version: row.Version,
			License: row.License,
			Source:  row.Source,
			Digests: map[string]string{DefaultPlatform: row.Digest},
		}
	}
	return l, nil
}

// CopyHeader is the comment a copied lock starts with: where its digests
// come from, that nothing verified them, and how to write it again.
func CopyHeader(release, listFile string) string {
	return fmt.Sprintf("# Copied by stagex lock copy from the StageX %s release list (%s): digests\n"+
		"# copied, neither resolved nor verified (test data). Do not edit; regenerate with:\n"+
		"#   stagex lock copy --release-list <list> --from-specs <this folder> -o <this file>\n",
		release, filepath.Base(listFile))
}
