// Command verify-reproducible is `make verify-reproducible`: package
// reproduce's check (the image set built twice, by a new user's `make demo`
// and by buildctl, from two clones with other origins, on two beds with
// other registry hosts, ports and a mirror path, some seconds apart; every
// platform manifest digest compared). It exits 1 naming any image that
// differs, 2 when the check could not run.
//
//	go run ./hack/verify-reproducible [-beds repro1,repro2]
//
// With the environment of hack/test-integration it uses its beds a and b;
// otherwise it starts the two beds named and takes them down afterwards.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"edp.buildth.ing/devfw-cicd/stagex/internal/repo"
	"edp.buildth.ing/devfw-cicd/stagex/reproduce"
)

func main() {
	beds := flag.String("beds", "repro1,repro2", "two beds to start when the environment names none")
	flag.Parse()
	names := strings.Split(*beds, ",")
	if len(names) != 2 {
		fmt.Fprintf(os.Stderr, "verify-reproducible: -beds: want two names, got %q\n", *beds)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root, err := repo.Root()
	if err == nil {
		var differ []string
		if differ, err = reproduce.Check(ctx, root, [2]string{names[0], names[1]}, os.Stdout, os.Stderr); err == nil && len(differ) > 0 {
			fmt.Fprintf(os.Stderr, "verify-reproducible: NOT reproducible: %s\n", strings.Join(differ, ", "))
			os.Exit(1)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "verify-reproducible: %v\n", err)
		os.Exit(2)
	}
}
