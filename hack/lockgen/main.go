// Command lockgen turns a StageX release list (image, version, license,
// source package, linux/amd64 digest; see shared/stagex/README.md) into a
// lock file for the frontend. It never invents or fetches a digest: every
// digest in the lock is copied from the list.
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
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

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
	return writeFile(o.out, data)
}

// generate builds the lock the options ask for and returns it marshalled.
func generate(o options) ([]byte, error) {
	f, err := os.Open(o.in)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	list, err := ParseTSV(o.in, f)
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
		names, err = specNames(o.fromSpecs, o.out)
		if err != nil {
			return nil, err
		}
		names = append(names, spec.DefaultBase)
	}
	lock, err := buildLock(list, o.release, o.registry, names)
	if err != nil {
		return nil, err
	}
	if err := applyProducts(o.products, lock); err != nil {
		return nil, err
	}
	data, err := lock.Marshal()
	if err != nil {
		return nil, err
	}
	header := fmt.Sprintf("# Generated by hack/lockgen from the StageX %s release list (%s). Do not edit:\n"+
		"# regenerate with: go run ./hack/lockgen -release %s -in <list> -out <this file>\n",
		o.release, filepath.Base(o.in), o.release)
	return append([]byte(header), data...), nil
}

// applyProducts sets the locked packages' CPEs and purls from the products
// file.
func applyProducts(file string, lock *spec.Lock) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("%w (the products file; -products names another)", err)
	}
	products, err := spec.ParseProducts(file, data)
	if err != nil {
		return err
	}
	return products.Apply(lock)
}

// buildLock makes the lock of the named packages from the release list.
// A name the release does not have is an error, with the closest names.
func buildLock(list *ReleaseList, release, registry string, names []string) (*spec.Lock, error) {
	lock := &spec.Lock{Version: 1, Release: release, Registry: registry, Packages: map[string]spec.LockPackage{}}
	var missing []string
	for _, n := range names {
		row, ok := list.Rows[n]
		if !ok {
			missing = append(missing, n)
			continue
		}
		lock.Packages[n] = spec.LockPackage{
			Version: row.Version,
			License: row.License,
			Source:  row.Source,
			Digests: map[string]string{platform: row.Digest},
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		var msgs []string
		for _, n := range uniq(missing) {
			msg := fmt.Sprintf("release %s has no image %s", release, n)
			if near := nearNames(list, n); len(near) > 0 {
				msg += " (did you mean " + strings.Join(near, ", ") + "?)"
			}
			msgs = append(msgs, msg)
		}
		return nil, fmt.Errorf("%s", strings.Join(msgs, "\n"))
	}
	return lock, nil
}

// specNames parses every spec in dir and returns the short package names
// they use (packages and base), sorted and without duplicates. Full image
// references are not resolved through the lock and are left out. The lock
// being written, other locks (*.lock.yaml) and the products file are not
// specs.
func specNames(dir, out string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	outAbs, _ := filepath.Abs(out)
	var names []string
	var problems []string
	specs := 0
	for _, file := range files {
		if abs, _ := filepath.Abs(file); abs == outAbs || spec.IsCompanionFile(file) {
			continue
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		s, err := spec.ParseSpec(file, data)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		specs++
		if s.Base != spec.Scratch && !isFullRef(s.Base) {
			names = append(names, s.Base)
		}
		for _, p := range s.Packages {
			if !isFullRef(p.Ref) {
				names = append(names, p.Ref)
			}
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(problems, "\n"))
	}
	if specs == 0 {
		return nil, fmt.Errorf("no specs (*.yaml) in %s", dir)
	}
	sort.Strings(names)
	return uniq(names), nil
}

// isFullRef tells a full image reference from a lock short name, as the
// spec package does: short names carry no repository path, tag or digest.
func isFullRef(s string) bool { return strings.ContainsAny(s, "/:@") }

func uniq(sorted []string) []string {
	out := sorted[:0]
	for i, s := range sorted {
		if i == 0 || s != sorted[i-1] {
			out = append(out, s)
		}
	}
	return out
}

// nearNames returns up to three release images whose names contain the
// asked name's last element or are contained in it ("python3" finds
// core-python).
func nearNames(list *ReleaseList, name string) []string {
	key := name[strings.LastIndex(name, "-")+1:]
	var near []string
	for _, n := range list.Names() {
		tail := n[strings.LastIndex(n, "-")+1:]
		if key != "" && (strings.Contains(n, key) || len(tail) >= 3 && strings.Contains(key, tail)) {
			near = append(near, n)
			if len(near) == 3 {
				break
			}
		}
	}
	return near
}

// writeFile replaces path with data, leaving it untouched when the bytes
// are the same (no needless mtime change) and never half-written.
func writeFile(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
