//go:build tools

// Package tools pins the Trivy CLI that the workflow's scan step runs
// (stagex pipeline scan). It is a module of its own because Trivy's dependency graph
// clashes with buildkit's and with the other tools'.
package tools

import (
	_ "github.com/aquasecurity/trivy/cmd/trivy"
)
