package check

import (
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
}

func (c *checker) run() error {
	if err := c.checkELF(); err != nil {
		return err
	}
	c.checkLayers()
	return c.checkHygiene()
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
	fs := slices.Clone(c.findings)
	used := make([]bool, len(c.opts.Accept))
	for i := range fs {
		for j, a := range c.opts.Accept {
			if a.matches(fs[i]) {
				fs[i].Accepted, fs[i].Reason = true, a.Reason
				used[j] = true
				break
			}
		}
	}
	for j, a := range c.opts.Accept {
		if !used[j] {
			fs = append(fs, Finding{
				Rule:     RuleAcceptUnused,
				Severity: rules[RuleAcceptUnused],
				Path:     a.Path,
				Soname:   a.Soname,
				Detail:   "accepted " + string(a.Rule) + " finding matched nothing; remove the acceptance",
			})
		}
	}
	slices.SortFunc(fs, compareFindings)
	fs = slices.CompactFunc(fs, func(a, b Finding) bool { return compareFindings(a, b) == 0 })
	r.Passed = true
	for _, f := range fs {
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
	if fs == nil {
		fs = []Finding{}
	}
	r.Findings = fs
	return r
}

func (c *checker) checkELF() error     { return nil }
func (c *checker) checkLayers()        {}
func (c *checker) checkHygiene() error { return nil }
