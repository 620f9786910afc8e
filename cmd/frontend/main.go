// Command frontend is the StageX BuildKit frontend. BuildKit runs it from the
// frontend image when a spec's first line is "# syntax=<frontend image>".
package main

import (
	"fmt"
	"os"

	"edp.buildth.ing/devfw-cicd/stagex/frontend"
	"github.com/moby/buildkit/frontend/gateway/grpcclient"
	"github.com/moby/buildkit/util/appcontext"
)

func main() {
	if err := grpcclient.RunFromEnvironment(appcontext.Context(), frontend.Build); err != nil {
		fmt.Fprintf(os.Stderr, "stagex frontend: %v\n", err)
		os.Exit(1)
	}
}
