//go:build unix

package check

import (
	"io/fs"
	"syscall"
)

// isWhiteoutDevice reports whether a character device is overlayfs's
// whiteout, device number 0/0.
func isWhiteoutDevice(info fs.FileInfo) bool {
	st, ok := info.Sys().(*syscall.Stat_t)
	return ok && st.Rdev == 0
}
