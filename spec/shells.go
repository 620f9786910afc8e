package spec

import (
	"path"
	"slices"
	"strings"
)

// Shells are the file names of programs that give a command shell: the
// shells themselves and the multi-call binaries that carry one (busybox and
// toybox provide sh). It is the one list the lint, the image tests and the
// composition check use.
var Shells = []string{"ash", "bash", "busybox", "csh", "dash", "fish", "ksh", "mksh", "sh", "tcsh", "toybox", "zsh"}

// IsShellPath reports whether a path's file name is one of Shells
// ("/bin/sh", "/usr/bin/bash").
func IsShellPath(p string) bool {
	return slices.Contains(Shells, path.Base(p))
}

// IsShellPackage reports whether a package name names a shell: the name
// itself or the part after its first "-" ("core-busybox", "user-zsh") is
// one of Shells. Matching whole parts, not substrings, keeps "core-bash"
// in and a name that merely contains "sh" out.
func IsShellPackage(name string) bool {
	if slices.Contains(Shells, name) {
		return true
	}
	_, rest, ok := strings.Cut(name, "-")
	return ok && slices.Contains(Shells, rest)
}

// NoShell reports whether the image must hold no shell: its name says
// static. The lint warns about a spec that composes one, and the
// composition check fails an image that contains one.
func (s *Spec) NoShell() bool {
	return strings.Contains(strings.ToLower(s.Name), "static")
}
