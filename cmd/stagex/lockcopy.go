package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"edp.buildth.ing/devfw-cicd/stagex/lock"
	"edp.buildth.ing/devfw-cicd/stagex/spec"
)

const lockCopyUsage = `usage: stagex lock copy --release-list FILE [--release R] [--registry PREFIX]
                       [PACKAGE… | --from-specs DIR | --all] [--products FILE] -o FILE

Writes a lock whose digests are copied from the release list: nothing is
resolved and no signature is checked. It makes the checked-in test-data locks
(images/, examples/); a lock for building images is written by stagex lock,
which resolves every digest and verifies the maintainers' signatures on it.
Every locked package gets the CPE and purl of its product from the products
file (default: stagex.products.yaml beside -o, or in --from-specs for -o -);
a package the file does not cover is an error. The same list and specs give
the same bytes.
`

func runLockCopy(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("lock copy", stderr)
	fs.Usage = func() { fmt.Fprint(stderr, lockCopyUsage); fs.PrintDefaults() }
	listFile := fs.String("release-list", "", "the release's packages (TSV, as for stagex lock); every row locked needs its digest")
	release := fs.String("release", "", "the StageX release (default: named in the list's leading comment)")
	registry := fs.String("registry", "docker.io/stagex", "repository prefix the packages are pulled from")
	fromSpecs := fs.String("from-specs", "", "lock the packages the specs (*.yaml) in this folder name, plus "+spec.DefaultBase)
	all := fs.Bool("all", false, "lock every package of the release list")
	products := fs.String("products", "", "products file to apply (default: "+spec.DefaultProductsFile+" beside -o, or in --from-specs for -o -)")
	out := fs.String("o", "", "lock file to write, - for stdout")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	selectors := 0
	for _, on := range []bool{len(pos) > 0, *fromSpecs != "", *all} {
		if on {
			selectors++
		}
	}
	switch {
	case *listFile == "" || *out == "":
		return &exitError{code: 2, msg: "lock copy needs --release-list and -o\n" + lockCopyUsage}
	case selectors != 1:
		return &exitError{code: 2, msg: "lock copy takes the packages to lock as arguments, or --from-specs DIR, or --all: exactly one of them"}
	}
	list, rel, err := readReleaseList(*listFile, *release)
	if err != nil {
		return err
	}
	names := pos
	switch {
	case *all:
		names = list.Names()
	case *fromSpecs != "":
		if names, err = lock.SpecPackages(*fromSpecs, *out); err != nil {
			return err
		}
	}
	l, err := lock.Copy(list, rel, *registry, names)
	if err != nil {
		return err
	}
	if *products == "" {
		dir := filepath.Dir(*out)
		if *out == "-" {
			dir = *fromSpecs
		}
		*products = filepath.Join(dir, spec.DefaultProductsFile)
	}
	if err := lock.ApplyProducts(*products, l); err != nil {
		return err
	}
	data, err := l.Marshal()
	if err != nil {
		return err
	}
	data = append([]byte(lock.CopyHeader(rel, *listFile)), data...)
	if *out == "-" {
		_, err = stdout.Write(data)
		return err
	}
	return lock.WriteFile(*out, data)
}
