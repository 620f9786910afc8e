//go:build tools

// Package tools pins the Grype CLI that the workflow's scan step runs and
// that the offline scan test (hack/tools-sign/grype/mkdb builds its database)
// runs against our SBOMs. It is a module of its own because Grype's
// dependency graph clashes with buildkit's and with the other tools'.
package tools

import (
	_ "github.com/anchore/grype/cmd/grype"
)
