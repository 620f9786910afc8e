//go:build !unix

package check

import "io/fs"

// isWhiteoutDevice: only unix folders carry overlayfs whiteouts.
func isWhiteoutDevice(fs.FileInfo) bool { return false }
