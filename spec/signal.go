package spec

import (
	"regexp"
	"slices"
	"strconv"
)

// linuxSignals are the signal names a container runtime accepts for
// StopSignal on Linux. A fixed list, rather than a pattern, catches typos
// like SIGTREM at parse time instead of at "docker stop".
var linuxSignals = map[string]bool{
	"SIGABRT": true, "SIGALRM": true, "SIGBUS": true, "SIGCHLD": true, "SIGCLD": true,
	"SIGCONT": true, "SIGFPE": true, "SIGHUP": true, "SIGILL": true, "SIGINT": true,
	"SIGIO": true, "SIGIOT": true, "SIGKILL": true, "SIGPIPE": true, "SIGPOLL": true,
	"SIGPROF": true, "SIGPWR": true, "SIGQUIT": true, "SIGSEGV": true, "SIGSTKFLT": true,
	"SIGSTOP": true, "SIGSYS": true, "SIGTERM": true, "SIGTRAP": true, "SIGTSTP": true,
	"SIGTTIN": true, "SIGTTOU": true, "SIGURG": true, "SIGUSR1": true, "SIGUSR2": true,
	"SIGVTALRM": true, "SIGWINCH": true, "SIGXCPU": true, "SIGXFSZ": true,
	"SIGRTMIN": true, "SIGRTMAX": true,
}

// realtimeSignal matches SIGRTMIN+n and SIGRTMAX-n.
var realtimeSignal = regexp.MustCompile(`^SIG(RTMIN\+|RTMAX-)([0-9]{1,2})$`)

// maxSignal is the highest signal number on Linux (SIGRTMAX).
const maxSignal = 64

func validSignal(s string) bool {
	if n, err := strconv.Atoi(s); err == nil {
		return n >= 1 && n <= maxSignal
	}
	if linuxSignals[s] {
		return true
	}
	if m := realtimeSignal.FindStringSubmatch(s); m != nil {
		n, _ := strconv.Atoi(m[2])
		return n <= 30 // SIGRTMIN is 34 and SIGRTMAX 64 under glibc and musl
	}
	return false
}

func signalNames() []string {
	names := make([]string, 0, len(linuxSignals))
	for n := range linuxSignals {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
