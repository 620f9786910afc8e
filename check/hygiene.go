package check

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"edp.buildth.ing/devfw-cicd/stagex/spec"
)

// runtimePath is the PATH container runtimes use to find the entrypoint
// when the image config sets none.
const runtimePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// maxScriptDepth is how many #! interpreters Linux follows in a row.
const maxScriptDepth = 4

func (c *checker) checkHygiene() {
	for _, w := range c.entries {
		m := w.mode
		if m&fs.ModeSymlink != 0 {
			continue
		}
		if m.IsRegular() && m&fs.ModeSetuid != 0 {
			c.add(RuleSetuid, w.path, "", fmt.Sprintf("mode %s: runs as its owner whoever starts it", unixMode(m)))
		}
		if m.IsRegular() && m&fs.ModeSetgid != 0 {
			c.add(RuleSetgid, w.path, "", fmt.Sprintf("mode %s: runs with its group whoever starts it", unixMode(m)))
		}
		if m.Perm()&0o002 != 0 && !(m.IsDir() && m&fs.ModeSticky != 0) {
			what := "a file anyone may change"
			if m.IsDir() {
				what = "a folder without the sticky bit, where anyone may delete or replace others' files"
			}
			c.add(RuleWorldWritable, w.path, "", fmt.Sprintf("mode %s: %s", unixMode(m), what))
		}
		if m&fs.ModeDevice != 0 {
			c.add(RuleDevice, w.path, "", fmt.Sprintf("a device node (%s); the runtime provides /dev", m.Type()))
		}
		if c.opts.NoShell && !m.IsDir() && spec.IsShellPath(w.path) {
			c.add(RuleShell, w.path, "", "a shell, in an image that must have none")
		}
	}
	if c.opts.NoShell {
		// A symlink named like a shell is one when it leads to a program.
		for _, w := range c.entries {
			if w.mode&fs.ModeSymlink != 0 && spec.IsShellPath(w.path) {
				if r := c.open(w.path); r.ok && r.info.Mode().IsRegular() && r.info.Mode().Perm()&0o111 != 0 {
					c.add(RuleShell, w.path, "", "a shell (a link to "+r.real+"), in an image that must have none")
				}
			}
		}
	}
	c.checkEntrypoint()
	c.checkAccounts()
}

// unixMode writes a mode as chmod's octal digits, special bits included.
func unixMode(m fs.FileMode) string {
	u := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		u |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		u |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		u |= 0o1000
	}
	return fmt.Sprintf("%04o", u)
}

// checkEntrypoint checks that the program the config runs exists, is
// executable and has its interpreter.
func (c *checker) checkEntrypoint() {
	cfg := c.opts.Config
	args := append(append([]string{}, cfg.Entrypoint...), cfg.Cmd...)
	if len(args) == 0 || args[0] == "" {
		return
	}
	field := "entrypoint"
	if len(cfg.Entrypoint) == 0 {
		field = "cmd"
	}
	p, ok := c.lookPath(args[0])
	if !ok {
		c.add(RuleEntrypoint, p, "", fmt.Sprintf("%s runs %s, which is not in the image", field, args[0]))
		return
	}
	c.checkExec(field, p, 0)
}

// lookPath finds a program the way execvp does, in the config's PATH.
func (c *checker) lookPath(prog string) (string, bool) {
	if strings.Contains(prog, "/") {
		p := prog
		if !strings.HasPrefix(p, "/") {
			p = path.Join("/", c.opts.Config.WorkingDir, p)
		}
		return p, c.open(p).ok
	}
	pathEnv, set := c.envLookup("PATH")
	if !set {
		pathEnv = runtimePath
	}
	for _, d := range strings.Split(pathEnv, ":") {
		if d == "" {
			d = "."
		}
		// execvp tries a relative PATH entry from the working directory.
		p := path.Join("/", d, prog)
		if !path.IsAbs(d) {
			p = path.Join("/", c.opts.Config.WorkingDir, d, prog)
		}
		if r := c.open(p); r.ok && r.info.Mode().IsRegular() {
			return p, true
		}
	}
	return prog, false
}

// checkExec checks that execve of p would start: a regular executable file
// that is an ELF file with its interpreter or a #! script with its own.
func (c *checker) checkExec(field, p string, depth int) {
	r := c.open(p)
	fail := func(format string, args ...any) {
		c.add(RuleEntrypoint, p, "", field+": "+fmt.Sprintf(format, args...))
	}
	switch {
	case !r.ok:
		fail("%s is not in the image", p)
		return
	case !r.info.Mode().IsRegular():
		fail("%s is not a regular file", p)
		return
	case r.info.Mode().Perm()&0o111 == 0:
		fail("%s is not executable (mode %s)", p, unixMode(r.info.Mode()))
		return
	}
	e, err := c.elf(r.real)
	if err != nil {
		fail("%s does not parse as ELF: %v", p, err)
		return
	}
	if e != nil {
		if e.program() {
			if ir := c.open(e.interp); !ir.ok || !ir.info.Mode().IsRegular() {
				fail("%s needs the interpreter %s, which is not in the image", p, e.interp)
			}
		}
		return
	}
	interp, arg, ok := c.shebang(r.real)
	if !ok {
		fail("%s is neither an ELF file nor a #! script; execve fails with ENOEXEC", p)
		return
	}
	if depth >= maxScriptDepth {
		fail("%s: more than %d #! interpreters in a row", p, maxScriptDepth)
		return
	}
	c.checkExec(field+" via "+p, interp, depth+1)
	if path.Base(interp) == "env" && arg != "" && !strings.HasPrefix(arg, "-") {
		prog := strings.Fields(arg)[0]
		if q, ok := c.lookPath(prog); ok {
			c.checkExec(field+" via "+p, q, depth+1)
		} else {
			fail("its #! line runs %s through env, and %s is in no PATH folder", prog, prog)
		}
	}
}

// shebang reads a script's #! line as Linux does: the interpreter, then
// the rest of the line as one argument.
func (c *checker) shebang(p string) (interp, arg string, ok bool) {
	f, err := c.fsys.Open(fsName(p))
	if err != nil {
		return "", "", false
	}
	defer f.Close()
	buf := make([]byte, 256)
	n, _ := io.ReadFull(f, buf)
	line, found := bytes.CutPrefix(buf[:n], []byte("#!"))
	if !found {
		return "", "", false
	}
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	fields := strings.Fields(string(line))
	if len(fields) == 0 {
		return "", "", false
	}
	interp = fields[0]
	arg = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(line)), interp))
	return interp, arg, true
}

func (c *checker) envLookup(key string) (string, bool) {
	v, set := "", false
	for _, kv := range c.opts.Config.Env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v, set = val, true
		}
	}
	return v, set
}

// dbEntry is one line of /etc/passwd or /etc/group, split at ':'.
type dbEntry []string

// readDB reads a colon-separated account file; nil when it is missing.
func (c *checker) readDB(p string) ([]dbEntry, bool) {
	b, err := readFile(c.fsys, p)
	if err != nil {
		return nil, false
	}
	var es []dbEntry
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		es = append(es, strings.Split(l, ":"))
	}
	return es, true
}

// find returns the entry whose name (field 0) or numeric id (field 2) is v.
func find(es []dbEntry, v string) dbEntry {
	_, numErr := strconv.ParseUint(v, 10, 32)
	for _, e := range es {
		if len(e) < 3 {
			continue
		}
		if e[0] == v || numErr == nil && e[2] == v {
			return e
		}
	}
	return nil
}

// checkAccounts checks config.user and its group against /etc/passwd and
// /etc/group, and that the working folder and HOME exist.
func (c *checker) checkAccounts() {
	cfg := c.opts.Config
	var user dbEntry
	if cfg.User != "" {
		name, group, hasGroup := strings.Cut(cfg.User, ":")
		user = c.account(RuleUser, "/etc/passwd", "user", name)
		if !hasGroup && len(user) >= 4 {
			group, hasGroup = user[3], true
		}
		if hasGroup {
			c.account(RuleGroup, "/etc/group", "group", group)
		}
	}
	if cfg.WorkingDir != "" {
		c.checkDir(RuleWorkdir, cfg.WorkingDir, "config.workingDir")
	}
	if home, set := c.envLookup("HOME"); set && home != "" {
		c.checkDir(RuleHome, home, "HOME (config.env)")
	} else if len(user) >= 6 && user[5] != "" {
		c.checkDir(RuleHome, user[5], "the home of "+user[0]+" in /etc/passwd")
	}
}

// account looks up v (a name or a number) in the account file p for
// config.user; a miss is a finding of rule.
func (c *checker) account(rule Rule, p, kind, v string) dbEntry {
	es, ok := c.readDB(p)
	if !ok {
		c.add(rule, p, "", fmt.Sprintf("config.user is %q, and the image has no %s", c.opts.Config.User, p))
		return nil
	}
	e := find(es, v)
	if e == nil {
		c.add(rule, p, "", fmt.Sprintf("config.user %q: no %s %s in %s", c.opts.Config.User, kind, v, p))
	}
	return e
}

func (c *checker) checkDir(rule Rule, p, what string) {
	if !strings.HasPrefix(p, "/") {
		c.add(rule, p, "", fmt.Sprintf("%s is %s, not an absolute path", what, p))
		return
	}
	r := c.open(p)
	switch {
	case !r.ok:
		c.add(rule, p, "", fmt.Sprintf("%s is %s, which is not in the image", what, p))
	case !r.info.IsDir():
		c.add(rule, p, "", fmt.Sprintf("%s is %s, which is not a folder", what, p))
	}
}
