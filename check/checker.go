package check

import (
	"debug/elf"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// checker holds one run's state.
type checker struct {
	fsys     FS
	opts     Options
	layered  Layered // nil for a plain folder
	findings []Finding
	layers   []LayerReport
	eff      *Efficiency

	entries []walked                // every entry of the image, in path order
	elfs    map[string]elfResult    // ELF files read so far, by path
	opened  map[string]lookupResult // open(2) results by path
	seen    map[string]bool         // findings recorded by addOnce
}

// walked is one entry of the image.
type walked struct {
	path string // absolute
	mode fs.FileMode
}

func (c *checker) run() error {
	c.elfs = map[string]elfResult{}
	c.opened, c.seen = map[string]lookupResult{}, map[string]bool{}
	err := fs.WalkDir(c.fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("reading the image: %w", err)
		}
		fi, err := d.Info()
		if err != nil {
			return fmt.Errorf("reading the image: %w", err)
		}
		c.entries = append(c.entries, walked{path.Clean("/" + name), fi.Mode()})
		return nil
	})
	if err != nil {
		return err
	}
	c.checkELF()
	c.checkLayers()
	c.checkHygiene()
	return nil
}

// checkELF resolves the closure of every program (an executable ELF file
// with an interpreter), then of every shared object (a file named *.so or
// *.so.*) no program loads, as a program that dlopens it would. A library
// a program loads is checked in that program's closure only, where the
// program's RUNPATH applies to it as it does at run time. Other ELF files,
// such as the test data of a source tree (core-go ships Go's), are neither
// run nor loaded by name, so they are not roots; a library search still
// reads any file it lands on.
func (c *checker) checkELF() {
	loaded := map[string]bool{}
	var libs []walked
	for _, w := range c.entries {
		executable, soName := w.mode.Perm()&0o111 != 0, isSharedObjectName(path.Base(w.path))
		if !w.mode.IsRegular() || !executable && !soName {
			continue
		}
		e, err := c.elf(w.path)
		switch {
		case err != nil:
			c.add(RuleELFInvalid, w.path, "", "starts with the ELF magic but does not parse: "+err.Error())
		case e == nil:
		case e.program() && executable:
			for _, d := range c.closure(elfFile{w.path, e}, w.mode) {
				loaded[d] = true
			}
		case !e.program() && e.dynamic && e.typ == elf.ET_DYN && soName:
			libs = append(libs, w)
		}
	}
	for _, w := range libs {
		if !loaded[w.path] {
			e, _ := c.elf(w.path)
			c.closure(elfFile{w.path, e}, w.mode)
		}
	}
}

// isSharedObjectName reports whether a file name is a shared object's:
// libz.so, libz.so.1, _ssl.cpython-313-x86_64-linux-musl.so.
func isSharedObjectName(base string) bool {
	return strings.HasSuffix(base, ".so") || strings.Contains(base, ".so.")
}

// elfResult is one file's parse, cached.
type elfResult struct {
	info *elfInfo // nil when the file is not ELF
	err  error    // it has the ELF magic but does not parse
}

// elf reads the regular file at the symlink-free path p: nil, nil when it
// does not start with the ELF magic.
func (c *checker) elf(p string) (*elfInfo, error) {
	r, ok := c.elfs[p]
	if !ok {
		r.info, r.err = readELFFile(c.fsys, p)
		c.elfs[p] = r
	}
	return r.info, r.err
}

// env returns the value of an environment variable of the image config.
func (c *checker) env(key string) string {
	v, _ := c.envLookup(key)
	return v
}

// add records a finding about the entry at p, with the package that wrote
// it when known.
func (c *checker) add(rule Rule, p, soname, detail string) {
	c.findings = append(c.findings, Finding{
		Rule:     rule,
		Severity: rules[rule],
		Path:     p,
		Soname:   soname,
		Package:  c.packageOf(p),
		Detail:   detail,
	})
}

// packageOf names the package whose layer wrote the entry at p.
func (c *checker) packageOf(p string) string {
	if c.layered == nil {
		return ""
	}
	return c.layerPackage(c.layered.Writer(p))
}

func (c *checker) layerPackage(i int) string {
	if i < 0 || i >= len(c.opts.Packages) {
		return ""
	}
	return c.opts.Packages[i]
}

func (c *checker) report() *Report {
	r := &Report{Arch: c.opts.Arch, Layers: c.layers, Efficiency: c.eff, Summary: map[string]int{}}
	found := slices.Clone(c.findings)
	used := make([]bool, len(c.opts.Accept))
	for i := range found {
		for j, a := range c.opts.Accept {
			if a.Matches(string(found[i].Rule), found[i].Path, found[i].Soname) {
				found[i].Accepted, found[i].Reason = true, a.Reason
				used[j] = true
				break
			}
		}
	}
	for j, a := range c.opts.Accept {
		if !used[j] {
			found = append(found, Finding{
				Rule:     RuleAcceptUnused,
				Severity: rules[RuleAcceptUnused],
				Path:     a.Path,
				Soname:   a.Soname,
				Detail:   "accepted " + a.Rule + " finding matched nothing; remove the acceptance",
			})
		}
	}
	slices.SortFunc(found, compareFindings)
	found = slices.CompactFunc(found, func(a, b Finding) bool { return compareFindings(a, b) == 0 })
	r.Passed = true
	for _, f := range found {
		switch {
		case f.Accepted:
			r.Summary["accepted"]++
		default:
			r.Summary[string(f.Severity)]++
		}
		if f.Failing() {
			r.Passed = false
		}
	}
	if found == nil {
		found = []Finding{}
	}
	r.Findings = found
	return r
}
