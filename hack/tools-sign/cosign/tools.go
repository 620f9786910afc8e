//go:build tools

// Package tools pins the cosign CLI that the signing tests cross-check
// `stagex sign` and `stagex verify` against. It is a module of its own
// because cosign's dependency graph clashes with buildkit's.
package tools

import (
	_ "github.com/sigstore/cosign/v3/cmd/cosign"
)
