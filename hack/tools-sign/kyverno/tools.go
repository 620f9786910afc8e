//go:build tools

// Package tools pins the Kyverno CLI that tests the admission policy in
// policy/ against signed images. It is a module of its own because
// Kyverno's dependency graph clashes with buildkit's and cosign's.
package tools

import (
	_ "github.com/kyverno/kyverno/cmd/cli/kubectl-kyverno"
)
