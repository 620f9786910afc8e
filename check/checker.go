package check

import (
	"debug/elf"
	"fmt"
	"io/fs"
	"path"
	"slices"
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
	elfs    map[string]*elfInfo     // parsed ELF files by path
	badELF  map[string]string       // files with the ELF magic that do not parse
	opened  map[string]lookupResult // open(2) results by path
	seen    map[string]bool         // findings recorded by addOnce
}

// walked is one entry of the image.
type walked struct {
	path string // absolute
	mode fs.FileMode
}

func (c *checker) run() error {
	c.elfs, c.badELF = map[string]*elfInfo{}, map[string]string{}
	c.opened, c.seen = map[string]lookupResult{}, map[string]bool{}
	err := fs.WalkDir(c.fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("reading the image: %w", err)
		}
		fi, err := d.Info()
		if err != nil {
			return fmt.Errorf("reading the image: %w", err)
		}
		p := path.Clean("/" + name)
		c.entries = append(c.entries, walked{p, fi.Mode()})
		if fi.Mode().IsRegular() {
			e, err := readELFFile(c.fsys, p)
			switch {
			case err != nil:
				c.badELF[p] = err.Error()
			case e != nil:
				c.elfs[p] = e
			}
		}
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

// checkELF resolves the closure of every program (an ELF file with an
// interpreter), then of every shared object no program loads, as a program
// that dlopens it would. A library a program loads is checked in that
// program's closure only, where the program's RUNPATH applies to it as it
// does at run time.
func (c *checker) checkELF() {
	loaded := map[string]bool{}
	for _, w := range c.entries {
		if msg, bad := c.badELF[w.path]; bad {
			c.add(RuleELFInvalid, w.path, "", "starts with the ELF magic but does not parse: "+msg)
			continue
		}
		if e := c.elfs[w.path]; e != nil && e.program() {
			for _, d := range c.closure(elfFile{w.path, e}, w.mode) {
				loaded[d] = true
			}
		}
	}
	for _, w := range c.entries {
		if e := c.elfs[w.path]; e != nil && !e.program() && e.dynamic && e.typ == elf.ET_DYN && !loaded[w.path] {
			c.closure(elfFile{w.path, e}, w.mode)
		}
	}
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
