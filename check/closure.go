package check

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
)

// This file resolves the ELF closure the way musl's loader (ldso/dynlink.c,
// load_library and path_open) does:
//
//   - a name that is one of libc's own (lib<c|pthread|rt|m|dl|util|xnet>.*)
//     or the loader's own path is the loader itself, never searched;
//   - a name with a '/' is opened as written, relative to the working
//     directory;
//   - otherwise a library already loaded under that file name is reused,
//     else the search is LD_LIBRARY_PATH (not for setuid/setgid programs),
//     then the DT_RUNPATH or DT_RPATH of the needing object and of each
//     object that loaded it, up to the program ($ORIGIN is the object's
//     folder: the program's real path, a library's path as it was found),
//     then the system path: the file <prefix>/etc/ld-musl-<arch>.path, where
//     <prefix> is the loader's path less its last two components, read
//     whole (an empty file means no folders), else /lib:/usr/local/lib:/usr/lib;
//   - a folder list is split at ':' and newlines; the first candidate that
//     opens wins, whatever it is, so a name that opens but cannot be mapped
//     is an error and not a reason to search on.

// defaultSysPath is musl's system path without a path file.
const defaultSysPath = "/lib:/usr/local/lib:/usr/lib"

// libcNames are the names musl reserves for itself: lib<name>.<anything>.
var libcNames = []string{"c.", "pthread.", "rt.", "m.", "dl.", "util.", "xnet."}

func isLoaderItself(name, ldso string) bool {
	if rest, ok := strings.CutPrefix(name, "lib"); ok {
		for _, r := range libcNames {
			if strings.HasPrefix(rest, r) {
				return true
			}
		}
	}
	return name == ldso
}

// elfFile is a parsed ELF file of the image, by its real path.
type elfFile struct {
	path string
	info *elfInfo
}

// dso is one object loaded into a simulated process.
type dso struct {
	real      string // symlink-free path, its identity (musl compares dev and inode)
	name      string // the path it was opened by
	shortname string // file name it was found under by a search, "" otherwise
	info      *elfInfo
	neededBy  *dso
	program   bool // mapped by the kernel: $ORIGIN is the real path's folder
}

// origin is the folder $ORIGIN expands to for d.
func (d *dso) origin() string {
	if d.program {
		return path.Dir(d.real)
	}
	return path.Dir(d.name)
}

// expandedRpath applies $ORIGIN to d's rpath as fixup_rpath does: an rpath
// with any other '$' token is ignored whole.
func (d *dso) expandedRpath() string {
	rp := d.info.rpath
	if !strings.Contains(rp, "$") {
		return rp
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(rp, '$')
		if i < 0 {
			b.WriteString(rp)
			return b.String()
		}
		b.WriteString(rp[:i])
		switch {
		case strings.HasPrefix(rp[i:], "$ORIGIN"):
			rp = rp[i+len("$ORIGIN"):]
		case strings.HasPrefix(rp[i:], "${ORIGIN}"):
			rp = rp[i+len("${ORIGIN}"):]
		default:
			return ""
		}
		b.WriteString(d.origin())
	}
}

// splitSearchPath splits a folder list as path_open does.
func splitSearchPath(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ':' || r == '\n' })
}

// lookupResult is what opening a candidate path finds.
type lookupResult struct {
	real string
	info fs.FileInfo
	ok   bool
}

// open reports whether open(2) of the image path p would succeed, and what
// it opens.
func (c *checker) open(p string) lookupResult {
	if r, ok := c.opened[p]; ok {
		return r
	}
	real, fi, err := resolve(c.fsys, p, true)
	r := lookupResult{real: real, info: fi, ok: err == nil}
	c.opened[p] = r
	return r
}

// sysPath returns the system library path of the loader ldso, for arch.
func (c *checker) sysPath(ldso, arch string) (string, string) {
	prefix := ""
	if strings.HasPrefix(ldso, "/") {
		// The loader's path less its last two components: "" for
		// /lib/ld-musl-x86_64.so.1, "/usr" for /usr/lib/ld-musl-….
		if i := strings.LastIndexByte(ldso, '/'); i > 0 {
			if j := strings.LastIndexByte(ldso[:i], '/'); j >= 0 {
				prefix = ldso[:j]
			}
		}
	}
	file := prefix + "/etc/ld-musl-" + arch + ".path"
	if arch == "" {
		return defaultSysPath, ""
	}
	r := c.open(file)
	if !r.ok {
		return defaultSysPath, ""
	}
	if !r.info.Mode().IsRegular() {
		return "", file
	}
	b, err := fs.ReadFile(c.fsys, fsName(r.real))
	if err != nil {
		return "", file
	}
	return string(b), file
}

// loaderArch is the <arch> the loader ldso was built for: from its name
// when it is musl's, else the options', else the ELF machine's.
func (c *checker) loaderArch(ldso string, e *elfInfo) string {
	base := path.Base(ldso)
	if a, ok := strings.CutPrefix(base, "ld-musl-"); ok {
		if a, ok := strings.CutSuffix(a, ".so.1"); ok {
			return a
		}
	}
	if c.opts.Arch != "" {
		return c.opts.Arch
	}
	return muslArchOf(e)
}

// closure loads root's dependencies as the loader would and records a
// finding for each DT_NEEDED that resolves to nothing loadable. It returns
// the real paths of the objects loaded.
func (c *checker) closure(root elfFile, mode fs.FileMode) []string {
	ldso := root.info.interp
	arch := c.loaderArch(ldso, root.info)
	if ldso == "" {
		ldso = "/lib/ld-musl-" + arch + ".so.1"
	}
	if root.info.program() {
		r := c.open(ldso)
		if !r.ok || !r.info.Mode().IsRegular() {
			c.add(RuleInterpMissing, root.path, "", fmt.Sprintf("its interpreter %s is not a file in the image", ldso))
		}
	}
	secure := mode&(fs.ModeSetuid|fs.ModeSetgid) != 0
	envPath := ""
	if !secure {
		envPath = c.env("LD_LIBRARY_PATH")
	}
	sysPath, sysFile := c.sysPath(ldso, arch)

	first := &dso{real: root.path, name: root.path, info: root.info, program: root.info.program()}
	loaded := []*dso{first}
	for i := 0; i < len(loaded); i++ {
		p := loaded[i]
	needed:
		for _, name := range p.info.needed {
			if isLoaderItself(name, ldso) {
				continue
			}
			if name == "" {
				continue
			}
			var cand string
			var r lookupResult
			var searched []string
			if strings.Contains(name, "/") {
				cand = name
				if !strings.HasPrefix(cand, "/") {
					cand = path.Join("/", c.opts.Config.WorkingDir, name)
				}
				r = c.open(cand)
				searched = []string{cand}
			} else {
				for _, d := range loaded {
					if d.shortname == name {
						continue needed
					}
				}
				var dirs []string
				dirs = append(dirs, splitSearchPath(envPath)...)
				for q := p; q != nil; q = q.neededBy {
					dirs = append(dirs, splitSearchPath(q.expandedRpath())...)
				}
				dirs = append(dirs, splitSearchPath(sysPath)...)
				for _, d := range dirs {
					cand = path.Join("/", d, name)
					searched = append(searched, d)
					if r = c.open(cand); r.ok {
						break
					}
				}
			}
			if !r.ok {
				where := "searched " + strings.Join(dedupe(searched), ":")
				if len(searched) == 0 {
					where = "no folder to search"
				}
				if sysFile != "" {
					where += " (system path from " + sysFile + ")"
				}
				c.addOnce(RuleNeededMissing, p.real, name, fmt.Sprintf("needs %s, which is not in the image (%s)", name, where))
				continue
			}
			for _, d := range loaded {
				if d.real == r.real {
					if d.shortname == "" && !strings.Contains(name, "/") {
						d.shortname = path.Base(cand)
					}
					continue needed
				}
			}
			dep, problem := c.loadable(r, p.info)
			if problem != "" {
				c.addOnce(RuleNeededInvalid, p.real, name, fmt.Sprintf("needs %s, found at %s, which %s", name, cand, problem))
				continue
			}
			d := &dso{real: r.real, name: cand, info: dep, neededBy: p}
			if !strings.Contains(name, "/") {
				d.shortname = name
			}
			loaded = append(loaded, d)
		}
	}
	out := make([]string, len(loaded))
	for i, d := range loaded {
		out[i] = d.real
	}
	return out
}

// loadable returns the parsed ELF file that r opens, or why the loader
// cannot map it next to an object like need.
func (c *checker) loadable(r lookupResult, need *elfInfo) (*elfInfo, string) {
	if !r.info.Mode().IsRegular() {
		return nil, "is not a regular file"
	}
	e, err := c.elf(r.real)
	switch {
	case err != nil:
		return nil, "does not parse as ELF: " + err.Error()
	case e == nil:
		return nil, "is not an ELF file"
	}
	switch {
	case e.class != need.class:
		return nil, fmt.Sprintf("is %v, not %v", e.class, need.class)
	case e.machine != need.machine:
		return nil, fmt.Sprintf("is for %v, not %v", e.machine, need.machine)
	case !e.dynamic:
		return nil, "has no PT_DYNAMIC segment"
	}
	return e, ""
}

// addOnce records a finding unless the same rule, file and soname is
// already recorded: a library's miss shows once however many programs
// load it.
func (c *checker) addOnce(rule Rule, p, soname, detail string) {
	k := string(rule) + "\x00" + p + "\x00" + soname
	if c.seen[k] {
		return
	}
	c.seen[k] = true
	c.add(rule, p, soname, detail)
}

func dedupe(ss []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// readELFFile parses the regular file at p when it starts with the ELF
// magic; nil, nil when it does not.
func readELFFile(fsys FS, p string) (*elfInfo, error) {
	f, err := fsys.Open(fsName(p))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	magic := make([]byte, len(elfMagic))
	if _, err := io.ReadFull(f, magic); err != nil || !bytes.Equal(magic, elfMagic) {
		return nil, nil
	}
	ra, ok := f.(io.ReaderAt)
	if !ok {
		b, err := io.ReadAll(io.MultiReader(bytes.NewReader(magic), f))
		if err != nil {
			return nil, err
		}
		ra = bytes.NewReader(b)
	}
	return parseELF(ra)
}
