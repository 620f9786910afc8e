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
	var sel packageSelection
	sel.register(fs, "the release's packages (TSV, as for stagex lock); every row locked needs its digest")
	registry := fs.String("registry", "docker.io/stagex", "repository prefix the packages are pulled from")
	products := fs.String("products", "", "products file to apply (default: "+spec.DefaultProductsFile+" beside -o, or in --from-specs for -o -)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	list, rel, names, err := sel.packages("lock copy", lockCopyUsage, pos)
	if err != nil {
		return err
	}
	l, err := lock.Copy(list, rel, *registry, names)
	if err != nil {
		return err
	}
	if *products == "" {
		dir := filepath.Dir(sel.out)
		if sel.out == "-" {
			dir = sel.fromSpecs
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
	data = append([]byte(lock.CopyHeader(rel, sel.listFile)), data...)
	if sel.out == "-" {
		_, err = stdout.Write(data)
		return err
	}
	return lock.WriteFile(sel.out, data)
}
