package check

import (
	"fmt"
	"strings"
)

// checkLayers reports every path more than one layer wrote and how many of
// the layers' bytes the image hides: the product's promise is that no
// layer carries bytes another one hides.
func (c *checker) checkLayers() {
	if c.layered == nil {
		return
	}
	ls := c.layered.Layers()
	if len(ls) > 1 && len(c.opts.Packages) != len(ls) {
		// Without a package per layer, conflict() cannot tell two packages
		// apart: every overwrite shows as layer-shadowed. Say so, rather
		// than pass a conflict silently.
		c.add(RuleUnnamed, "", "", fmt.Sprintf("%d layers, %d named packages (the image history does not name a package per layer): conflicts between packages are reported as %s", len(ls), len(c.opts.Packages), RuleShadowed))
	}
	c.layers = make([]LayerReport, len(ls))
	var total, wasted int64
	for i, l := range ls {
		c.layers[i] = LayerReport{Layer: l, Package: c.layerPackage(i)}
		total += l.Bytes
	}
	for _, o := range c.layered.Overwrites() {
		last := o.Writes[len(o.Writes)-1]
		hidden := o.Writes
		if !last.Deleted {
			hidden = hidden[:len(hidden)-1]
		}
		var bytes int64
		for _, w := range hidden {
			if w.Layer >= 0 && w.Layer < len(c.layers) {
				c.layers[w.Layer].Shadowed += w.Size
			}
			bytes += w.Size
		}
		wasted += bytes
		rule := RuleShadowed
		if c.conflict(o.Writes) {
			rule = RuleConflict
		}
		var who []string
		for _, w := range o.Writes {
			s := fmt.Sprintf("layer %d", w.Layer)
			if p := c.layerPackage(w.Layer); p != "" {
				s += " (" + p + ")"
			}
			if w.Deleted {
				s += " deletes it"
			}
			who = append(who, s)
		}
		detail := fmt.Sprintf("written by %s; %d bytes hidden", strings.Join(who, ", "), bytes)
		if sameContent(o.Writes) {
			detail += "; same content"
		} else {
			detail += "; different content"
		}
		f := Finding{Rule: rule, Severity: rules[rule], Path: o.Path, Package: c.layerPackage(last.Layer), Detail: detail}
		c.findings = append(c.findings, f)
	}
	c.eff = &Efficiency{TotalBytes: total, WastedBytes: wasted, Percent: 100}
	if total > 0 {
		c.eff.Percent = float64(total-wasted) * 100 / float64(total)
	}
}

// conflict reports whether two packages ship the path with different
// content. The generated layer and layers of no known package never
// conflict: the generated layer rewrites /etc/passwd and /etc/group on
// purpose.
func (c *checker) conflict(ws []Write) bool {
	for i, a := range ws {
		for _, b := range ws[i+1:] {
			pa, pb := c.layerPackage(a.Layer), c.layerPackage(b.Layer)
			if a.Deleted || b.Deleted || pa == "" || pb == "" || pa == Generated || pb == Generated {
				continue
			}
			if pa != pb && a.Digest != b.Digest {
				return true
			}
		}
	}
	return false
}

func sameContent(ws []Write) bool {
	d := ""
	for _, w := range ws {
		if w.Deleted {
			continue
		}
		if d != "" && w.Digest != d {
			return false
		}
		d = w.Digest
	}
	return true
}
