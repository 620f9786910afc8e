package check

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
)

// DirFS opens a folder on disk as an image root: the composed rootfs the
// frontend mounts read-only at build time. Every access goes through an
// os.Root, so no path, dot-dot or symlink leads outside the folder. Close
// the returned Closer when done.
func DirFS(dir string) (FS, io.Closer, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, nil, err
	}
	fsys, ok := root.FS().(FS)
	if !ok {
		root.Close()
		return nil, nil, fmt.Errorf("%s: this Go's os.Root cannot read links", dir)
	}
	return fsys, root, nil
}

// fsName turns an absolute image path into an io/fs name.
func fsName(p string) string {
	p = strings.TrimPrefix(path.Clean("/"+p), "/")
	if p == "" {
		return "."
	}
	return p
}

// maxLinks is how many symlinks one lookup follows, as Linux's MAXSYMLINKS.
const maxLinks = 40

var errLoop = errors.New("too many levels of symbolic links")

// resolve follows name (an absolute image path) the way the kernel does in a
// chroot at the image root: component by component, a symlink's absolute
// target from the root, ".." never above the root. The final component is
// followed too when follow is set. It returns the path reached, free of
// symlinks except a final one when follow is unset, and its Lstat.
func resolve(fsys FS, name string, follow bool) (string, fs.FileInfo, error) {
	cur := "/"
	rest := splitPath(name)
	links := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, c)
		fi, err := fsys.Lstat(fsName(next))
		if err != nil {
			return next, nil, err
		}
		if fi.Mode()&fs.ModeSymlink != 0 && (len(rest) > 0 || follow) {
			if links++; links > maxLinks {
				return next, nil, &fs.PathError{Op: "resolve", Path: name, Err: errLoop}
			}
			target, err := fsys.ReadLink(fsName(next))
			if err != nil {
				return next, nil, err
			}
			if strings.HasPrefix(target, "/") {
				cur = "/"
			}
			rest = append(splitPath(target), rest...)
			continue
		}
		if len(rest) > 0 && !fi.IsDir() {
			return next, nil, &fs.PathError{Op: "resolve", Path: name, Err: errNotDir}
		}
		cur = next
	}
	fi, err := fsys.Lstat(fsName(cur))
	return cur, fi, err
}

var errNotDir = errors.New("not a directory")

func splitPath(p string) []string {
	return strings.Split(strings.Trim(p, "/"), "/")
}

// readFile reads the regular file an image path resolves to.
func readFile(fsys FS, name string) ([]byte, error) {
	p, fi, err := resolve(fsys, name, true)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", name)
	}
	return fs.ReadFile(fsys, fsName(p))
}
