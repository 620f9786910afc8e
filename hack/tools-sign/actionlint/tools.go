//go:build tools

// Package tools pins actionlint, which checks the Forgejo workflows in
// .forgejo/workflows.
package tools

import (
	_ "github.com/rhysd/actionlint/cmd/actionlint"
)
