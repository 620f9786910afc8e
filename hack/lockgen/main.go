// Command lockgen turns a StageX release list (image, version, license,
// source package, linux/amd64 digest; see shared/stagex/README.md) into a
// lock file for the frontend. It never invents or fetches a digest: every
// digest in the lock is copied from the list, and a row without one is
// refused. It writes the checked-in test-data lock; users write locks with
// stagex lock, which resolves every digest and verifies the maintainers'
// signatures on it (docs/lock.md).
//
//	go run ./hack/lockgen -release 2026.03.0 -in ../shared/stagex/sx2026.03.0.tsv -out images/stagex.lock.yaml
//
// By default the lock holds the packages the specs in -from-specs (images/)
// name, plus core-filesystem, the default base, so that it stays readable
// and reviewable. -only a,b,c takes exactly the packages listed; -all takes
// every image of the release. -out - writes to stdout.
//
// Every locked package gets the CPE and purl of its upstream product from
// the products file (-products; default: stagex.products.yaml beside -out),
// applied by spec.Products.Apply; a package the file does not cover is an
// error.
//
// The output is deterministic: spec.Lock.Marshal sorts packages and
// platforms, so the same list and specs always give the same bytes. The
// images tests regenerate the lock and compare it with the checked-in one.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"edp.buildth.ing/devfw-cicd/stagex/lock"
	"edp.buildth.ing/devfw-cicd/stagex/spec"
)

// platform is the only platform a release list carries digests for.
const platform = "linux/amd64"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "lockgen: %v\n", err)
		os.Exit(1)
	}
}

// options are the command line, parsed.
type options struct {
	release   string
	in        string
	out       string
	registry  string
	only      []string
	fromSpecs string
	products  string
	all       bool
}

func parseFlags(args []string) (options, error) {
	var o options
	var only string
	fs := flag.NewFlagSet("lockgen", flag.ContinueOnError)
	fs.StringVar(&o.release, "release", "", "StageX release the list is for, e.g. 2026.03.0 (checked against the list's comment; default: taken from it)")
	fs.StringVar(&o.in, "in", "", "release list (TSV) to read (required)")
	fs.StringVar(&o.out, "out", "", "lock file to write, - for stdout (required)")
	fs.StringVar(&o.registry, "registry", "docker.io/stagex", "repository prefix the packages are pulled from")
	fs.StringVar(&only, "only", "", "comma-separated package names: lock exactly these")
	fs.StringVar(&o.fromSpecs, "from-specs", "images", "folder of specs (*.yaml): lock the packages they name, plus "+spec.DefaultBase)
	fs.BoolVar(&o.all, "all", false, "lock every image of the release")
	fs.StringVar(&o.products, "products", "", "products file to apply (default: "+spec.DefaultProductsFile+" beside -out, or in -from-specs for -out -)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	selectors := 0
	for _, n := range []string{"only", "from-specs", "all"} {
		if set[n] {
			selectors++
		}
	}
	switch {
	case o.in == "":
		return o, fmt.Errorf("-in is required")
	case o.out == "":
		return o, fmt.Errorf("-out is required")
	case selectors > 1:
		return o, fmt.Errorf("use one of -only, -from-specs and -all")
	}
	for _, n := range strings.Split(only, ",") {
		if n = strings.TrimSpace(n); n != "" {
			o.only = append(o.only, n)
		}
	}
	if set["only"] && len(o.only) == 0 {
		return o, fmt.Errorf("-only names no package")
	}
	if o.products == "" {
		dir := filepath.Dir(o.out)
		if o.out == "-" {
			dir = o.fromSpecs
			if dir == "" {
				dir = "images"
			}
		}
		o.products = filepath.Join(dir, spec.DefaultProductsFile)
	}
	if set["only"] || o.all {
		o.fromSpecs = ""
	}
	return o, nil
}

func run(args []string) error {
	o, err := parseFlags(args)
	if err != nil {
		return err
	}
	data, err := generate(o)
	if err != nil {
		return err
	}
	if o.out == "-" {
		_, err = os.Stdout.Write(data)
		return err
	}
	return lock.WriteFile(o.out, data)
}

// generate builds the lock the options ask for and returns it marshalled.
func generate(o options) ([]byte, error) {
	f, err := os.Open(o.in)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	list, err := lock.ParseReleaseList(o.in, f)
	if err != nil {
		return nil, err
	}
	switch {
	case o.release == "" && list.Release == "":
		return nil, fmt.Errorf("%s names no release in its comment: pass -release", o.in)
	case o.release == "":
		o.release = list.Release
	case list.Release != "" && list.Release != o.release:
		return nil, fmt.Errorf("-release %s, but %s is the list of release %s", o.release, o.in, list.Release)
	}

	var names []string
	switch {
	case o.all:
		names = list.Names()
	case len(o.only) > 0:
		names = o.only
	default:
		names, err = lock.SpecPackages(o.fromSpecs, o.out)
		if err != nil {
			return nil, err
		}
	}
	l, err := buildLock(list, o.release, o.registry, names)
	if err != nil {
		return nil, err
	}
	if err := lock.ApplyProducts(o.products, l); err != nil {
		return nil, err
	}
	data, err := l.Marshal()
	if err != nil {
		return nil, err
	}
	header := fmt.Sprintf("# Generated by hack/lockgen from the StageX %s release list (%s). Do not edit:\n"+
		"# regenerate with: go run ./hack/lockgen -release %s -in <list> -out <this file>\n",
		o.release, filepath.Base(o.in), o.release)
	return append([]byte(header), data...), nil
}

// buildLock makes the lock of the named packages from the release list.
// A name the release does not have is an error, with the closest names;
// so is a row without a digest, since this tool copies digests and never
// resolves one.
func buildLock(list *lock.ReleaseList, release, registry string, names []string) (*spec.Lock, error) {
	rows, err := list.Select(release, names)
	if err != nil {
		return nil, err
	}
	l := &spec.Lock{Version: 1, Release: release, Registry: registry, Packages: map[string]spec.LockPackage{}}
	for _, row := range rows {
		if row.Digest == "" {
			return nil, fmt.Errorf("line %d: image %s has no digest: this tool copies the list's digests (stagex lock resolves them)", row.Line, row.Name)
		}
		l.Packages[row.Name] = spec.LockPackage{
			Version: row.Version,
			License: row.License,
			Source:  row.Source,
			Digests: map[string]string{platform: row.Digest},
		}
	}
	return l, nil
}
