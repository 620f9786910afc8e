package lock

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"edp.buildth.ing/devfw-cicd/stagex/spec"
)

// SpecPackages parses every spec in dir and returns the short package
// names they use (packages and base), sorted and without duplicates, plus
// spec.DefaultBase, which a spec without a base uses. Full image
// references are not resolved through the lock and are left out. The lock
// being written, other locks (*.lock.yaml) and the products file are not
// specs.
func SpecPackages(dir, out string) ([]string, error) {
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
	names = append(names, spec.DefaultBase)
	sort.Strings(names)
	return uniq(names), nil
}

// isFullRef tells a full image reference from a lock short name, as the
// spec package does: short names carry no repository path, tag or digest.
func isFullRef(s string) bool { return strings.ContainsAny(s, "/:@") }

// ApplyProducts sets the locked packages' CPEs and purls from a products
// file (spec.Products.Apply): the lock carries them to the SBOM, where
// scanners match on them.
func ApplyProducts(file string, l *spec.Lock) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("%w (the products file)", err)
	}
	products, err := spec.ParseProducts(file, data)
	if err != nil {
		return err
	}
	return products.Apply(l)
}
