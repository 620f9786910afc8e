package check

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes the report as indented JSON; findings are in the
// report's stable order.
func (r *Report) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteTable writes the report for people: the layers with their bytes and
// the bytes later layers hide, the efficiency, the findings (accepted ones
// marked with their reason) and the verdict.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if r.Image != "" {
		fmt.Fprintf(w, "image: %s", r.Image)
		if r.Platform != "" {
			fmt.Fprintf(w, " (%s)", r.Platform)
		}
		fmt.Fprintln(w)
	}
	if r.Layers != nil {
		fmt.Fprintln(tw, "LAYER\tPACKAGE\tFILES\tBYTES\tHIDDEN BYTES")
		for _, l := range r.Layers {
			fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\n", l.Index, orDash(l.Package), l.Files, l.Bytes, l.Shadowed)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if e := r.Efficiency; e != nil {
		fmt.Fprintf(w, "efficiency: %s %% (%d of %d bytes hidden by later layers)\n", formatPercent(e.Percent), e.WastedBytes, e.TotalBytes)
	}
	if len(r.Findings) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(tw, "SEVERITY\tRULE\tPATH\tPACKAGE\tDETAIL")
		for _, f := range r.Findings {
			sev := string(f.Severity)
			detail := f.Detail
			if f.Accepted {
				sev = "accepted"
				detail += " [accepted: " + f.Reason + "]"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", sev, f.Rule, f.Path, orDash(f.Package), oneLine(detail))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	verdict := "PASS"
	if !r.Passed {
		verdict = "FAIL"
	}
	_, err := fmt.Fprintf(w, "\n%s: %d errors, %d warnings, %d accepted\n",
		verdict, r.Summary["error"], r.Summary["warning"], r.Summary["accepted"])
	return err
}

// formatPercent shows two decimals, never rounding a waste up to 100.
func formatPercent(p float64) string {
	s := fmt.Sprintf("%.2f", p)
	if s == "100.00" && p < 100 {
		s = "99.99"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func oneLine(s string) string {
	return strings.NewReplacer("\n", " ", "\t", " ").Replace(s)
}
