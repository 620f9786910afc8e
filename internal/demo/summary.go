package demo

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/internal/imageset"
)

// Summary is what a demo run shows a person.
type Summary struct {
	Bed      string // the test bed built on
	KeptBed  bool   // the bed is still up
	Registry string // where the images were pushed: <bed registry>/devfw-cicd
	Took     time.Duration
	// Images are the set's images and the reference application, as read
	// back from the registry.
	Images []*imageset.Image
	// StrictImages are the images whose fixture packages have their
	// programs: checked strictly, smoke tests run.
	StrictImages []string
	App          *App
	// Shown is the image whose SBOM and provenance were written out.
	Shown            string
	SBOM, Provenance Attestation
	// Files, relative to the repository.
	Digests, Record, Log string
}

// Attestation is one attestation written to a file.
type Attestation struct {
	File  string
	About string // what it holds, in a few words
}

// WriteSummary renders s: the images (digest, size, layers, attestations),
// the build-time check (verdict, layer efficiency, findings, smoke tests),
// the reference application's answers, and where the files are. Plain text,
// no terminal escapes.
func WriteSummary(w io.Writer, s *Summary) error {
	fmt.Fprintf(w, "The image set, built offline from fixture packages (NOT StageX) on test bed %q in %s, pushed to %s:\n\n", s.Bed, s.Took, s.Registry)
	if err := imageset.WriteTable(w, s.Images); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nBuild-time check and smoke tests, from each image's check attestation (%s are checked\n"+
		"strictly and run their tests; the other images' packages are stand-ins: the check warns, tests are not run):\n\n",
		strings.Join(s.StrictImages, ", "))
	if err := imageset.WriteCheckTable(w, s.Images); err != nil {
		return err
	}
	if a := s.App; a != nil {
		fmt.Fprintf(w, "\nReference application (examples/): %s answered as examples/test/expected says:\n", imageset.Repo(a.Image.Target))
		for _, ans := range a.Answers {
			fmt.Fprintf(w, "  %s: %s\n", ans.File, ans.Got)
		}
		fmt.Fprintf(w, "and a second build without cache gave the same digest, %s.\n", a.Rebuilt)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "SBOM of %s:\t%s (%s)\n", imageset.Repo(s.Shown), s.SBOM.File, s.SBOM.About)
	fmt.Fprintf(tw, "provenance of %s:\t%s (%s)\n", imageset.Repo(s.Shown), s.Provenance.File, s.Provenance.About)
	fmt.Fprintf(tw, "digests:\t%s, %s\n", s.Digests, s.Record)
	fmt.Fprintf(tw, "full log:\t%s\n", s.Log)
	if s.KeptBed {
		fmt.Fprintf(tw, "test bed %q:\tstill up: eval \"$(hack/bed env %s)\"; stop it with: make bed-down BED=%s\n", s.Bed, s.Bed, s.Bed)
	} else {
		fmt.Fprintf(tw, "test bed %q:\ttaken down (KEEP_BED=1 keeps it)\n", s.Bed)
	}
	return tw.Flush()
}

// MaxOutputLines bounds what `make demo` prints (steps and summary): a
// person reads it; buildx's progress is in the log.
const MaxOutputLines = 60

// CheckOutput checks what a demo run printed and the log it wrote: plain
// text, a summary of at most MaxOutputLines lines naming the log, and a
// log that holds buildx's progress.
func CheckOutput(out []byte, logFile string) error {
	if bytes.IndexByte(out, 0x1b) >= 0 {
		return fmt.Errorf("the demo's output holds terminal escapes")
	}
	if n := bytes.Count(out, []byte("\n")); n > MaxOutputLines {
		return fmt.Errorf("the demo printed %d lines, more than %d: progress belongs in the log", n, MaxOutputLines)
	}
	for _, want := range []string{"The image set, built offline", "PLATFORM MANIFEST", "EFFICIENCY", "SBOM of ", "full log:"} {
		if !bytes.Contains(out, []byte(want)) {
			return fmt.Errorf("the demo's summary lacks %q", want)
		}
	}
	log, err := os.ReadFile(logFile)
	if err != nil {
		return fmt.Errorf("the demo's log: %w", err)
	}
	if bytes.IndexByte(log, 0x1b) >= 0 {
		return fmt.Errorf("the demo's log %s holds terminal escapes", logFile)
	}
	if !bytes.Contains(log, []byte("exporting to image")) {
		return fmt.Errorf("the demo's log %s holds no buildx progress", logFile)
	}
	return nil
}
