package reproduce

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"edp.buildth.ing/devfw-cicd/stagex/hack/imageset"
	"edp.buildth.ing/devfw-cicd/stagex/internal/bed"
)

const loopbackAddress = "127.0.0.1"

// BedsFromEnv returns the two beds hack/test-integration started (with
// their names: the demo is run on the first one by name), or false when
// the environment does not name both. The second bed's registry is
// addressed as localhost:<port>, the first's as 127.0.0.1:<port>.
func BedsFromEnv() ([2]*bed.Bed, bool) {
	one, err1 := bed.FromEnv()
	two, err2 := bed.SecondFromEnv()
	if err1 != nil || err2 != nil || one.Name == "" || two.Name == "" {
		return [2]*bed.Bed{}, false
	}
	two.RegistryAddr = localhost(two.RegistryAddr)
	return [2]*bed.Bed{one, two}, true
}

// localhost writes 127.0.0.1:<port> as localhost:<port>: the same registry
// under another host name.
func localhost(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host != loopbackAddress {
		return addr
	}
	return net.JoinHostPort("localhost", port)
}

// StartBeds starts two beds of the repository (a running one is reused)
// and returns them with a function that takes them down.
func StartBeds(ctx context.Context, root string, names [2]string, log io.Writer) ([2]*bed.Bed, func() error, error) {
	var beds [2]*bed.Bed
	var started []*bed.Bed
	stop := func() error {
		var errs []error
		for _, b := range started {
			errs = append(errs, b.Down())
		}
		return errors.Join(errs...)
	}
	for i, n := range names {
		b, err := imageset.StartBed(ctx, root, n, log)
		if err != nil {
			return beds, stop, err
		}
		started = append(started, b)
		addressed := *b
		beds[i] = &addressed
	}
	beds[1].RegistryAddr = localhost(beds[1].RegistryAddr)
	return beds, stop, nil
}

// Tools returns the pinned buildctl and buildx and their folder (built by
// hack/tools.sh the first time).
func Tools(ctx context.Context, root string, log io.Writer) (buildctl, buildx, dir string, err error) {
	if buildx, err = imageset.Buildx(ctx, root, log); err != nil {
		return "", "", "", err
	}
	dir = os.Getenv(bed.EnvToolsBin)
	buildctl = filepath.Join(dir, "buildctl")
	if _, err := os.Stat(buildctl); err != nil {
		return "", "", "", fmt.Errorf("pinned buildctl: %w", err)
	}
	return buildctl, buildx, dir, nil
}

// WriteTable prints every image's platform manifest digest from both
// builds, and whether they agree.
func WriteTable(w io.Writer, r *Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	one, two := r.Builds[0], r.Builds[1]
	fmt.Fprintf(tw, "IMAGE\tBUILD 1: %s, packages from %s\tBUILD 2: %s, packages from %s\n", one.How, one.StagexRegistry, two.How, two.StagexRegistry)
	for _, t := range imageset.AllTargets() {
		verdict := "same"
		for _, d := range r.Differ {
			if d == t {
				verdict = "DIFFERS: " + orNone(two.Images[t])
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", imageset.Repo(t), orNone(one.Images[t]), verdict)
	}
	return tw.Flush()
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// Summary says in one line what differed between the builds, for logs.
func (r *Report) Summary() string {
	one, two := r.Builds[0], r.Builds[1]
	return strings.Join([]string{
		"clone " + one.Clone + " vs " + two.Clone,
		"origin " + redacted + " vs " + two.Origin,
		one.How + " vs " + two.How,
		"packages from " + one.StagexRegistry + " vs " + two.StagexRegistry,
		"pushed to " + one.Registry + " vs " + two.Registry,
	}, "; ")
}

// Check runs the whole check the way `make verify-reproducible` does: the
// pinned tools, the beds hack/test-integration started (BedsFromEnv) or two
// of its own (names, taken down afterwards), the two builds, the table on
// stdout. It returns the images that differ.
func Check(ctx context.Context, root string, names [2]string, stdout, log io.Writer) (differ []string, err error) {
	buildctl, buildx, dir, err := Tools(ctx, root, log)
	if err != nil {
		return nil, err
	}
	beds, ok := BedsFromEnv()
	if !ok {
		var stop func() error
		beds, stop, err = StartBeds(ctx, root, names, log)
		defer func() {
			if serr := stop(); serr != nil && err == nil {
				err = serr
			}
		}()
		if err != nil {
			return nil, err
		}
	}
	rep, err := Run(ctx, Options{Root: root, Beds: beds, Buildctl: buildctl, Buildx: buildx, ToolsBin: dir, Log: log})
	if err != nil {
		return nil, err
	}
	defer rep.Close()
	fmt.Fprintf(log, "[reproduce] %s\n", rep.Summary())
	if err := WriteTable(stdout, rep); err != nil {
		return nil, err
	}
	for _, t := range rep.Differ {
		differ = append(differ, imageset.Repo(t))
	}
	return differ, nil
}
