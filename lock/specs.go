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
// being written, and other locks (*.lock.yaml), are not specs.
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
		if abs, _ := filepath.Abs(file); abs == outAbs || strings.HasSuffix(file, ".lock.yaml") {
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
