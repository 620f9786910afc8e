package llb

import (
	"context"
	"errors"
	"io/fs"
	"maps"
	"path"
	"strings"
	"testing"

	"edp.buildth.ing/devfw-cicd/stagex/spec"
	bkllb "github.com/moby/buildkit/client/llb"
)

// fuzzBase is the test base with a few more shapes to land on: a link
// below a folder, a link to a link, an absolute link, a file in a folder.
var fuzzBase = func() mapFS {
	m := maps.Clone(filesystem)
	m["/usr/lib"] = dir(0o755)
	m["/usr/sbin"] = dir(0o755)
	m["/usr/lib/ld-musl-x86_64.so.1"] = link("libc.so")
	m["/usr/lib/libc.so"] = file(0o755, "")
	m["/etc/resolv.conf"] = link("/run/resolv.conf")
	m["/lib64"] = link("lib")
	m["/etc/ssl"] = dir(0o755)
	m["/etc/ssl/cert.pem"] = file(0o644, "")
	return m
}()

// FuzzGeneratedLayer plans the generated layer for random paths and copies
// over the test base. Whatever the spec says, the plan is refused or writes
// nothing that replaces what the base holds with another kind: no entry
// lies on a link unless it is a link, a folder only on a folder, a file
// only on a file (a copy onto a folder or file of the base is read back
// after the solve, by CheckCopies); every folder an entry needs is a folder in the base or
// one the layer writes (never through a link); and no copy can overwrite a
// file or link the layer writes, which the SBOM lists by content.
func FuzzGeneratedLayer(f *testing.F) {
	f.Add("/lib", uint8(0), "/bin/sh", uint8(2), "/bin", "/etc", true)
	f.Add("/sbin", uint8(1), "/lib64/x", uint8(0), "/usr/bin/app", "/etc/ssl", false)
	f.Add("/etc/passwd", uint8(0), "/etc/resolv.conf", uint8(1), "/etc/ssl/cert.pem", "/", true)
	f.Add("/usr/lib/ld-musl-x86_64.so.1", uint8(0), "/lib/ld-musl-x86_64.so.1", uint8(2), "/lib64", "/usr", false)
	f.Fuzz(func(t *testing.T, p1 string, t1 uint8, p2 string, t2 uint8, c1, c2 string, accounts bool) {
		y := "version: 1\npackages: [core-musl]\n"
		s, r := resolve(t, y)
		kinds := []spec.PathType{spec.PathDirectory, spec.PathFile, spec.PathSymlink}
		for _, p := range []struct {
			path string
			kind uint8
		}{{p1, t1}, {p2, t2}} {
			sp := spec.Path{Path: p.path, Type: kinds[int(p.kind)%len(kinds)]}
			if sp.Type == spec.PathSymlink {
				sp.Target = "target"
			}
			s.Paths = append(s.Paths, sp)
		}
		for _, c := range []string{c1, c2} {
			if c != "" {
				s.Copy = append(s.Copy, spec.Copy{From: spec.DefaultCopyFrom, Src: "src", Dst: c})
			}
		}
		if accounts {
			s.Accounts.Users = []spec.User{{Name: "app", UID: 10, GID: 10, Home: "/", Shell: spec.DefaultShell}}
		}
		if s.Validate() != nil {
			return
		}
		ctx := context.Background()
		passwd, _ := fuzzBase.ReadFile(ctx, "/etc/passwd")
		group, _ := fuzzBase.ReadFile(ctx, "/etc/group")
		plan, err := planGenerated(ctx, &Input{Spec: s, Resolved: r, BaseFS: fuzzBase,
			Contexts: map[string]bkllb.State{spec.DefaultCopyFrom: bkllb.Scratch()}}, passwd, group)
		if err != nil {
			var located *spec.Error
			if !errors.As(err, &located) {
				t.Fatalf("a refusal must be located spec errors, got %T: %v", err, err)
			}
			return
		}
		checkPlan(t, plan)
	})
}

// checkPlan asserts the invariants FuzzGeneratedLayer states.
func checkPlan(t *testing.T, plan *layerPlan) {
	t.Helper()
	ctx := context.Background()
	made := map[string]entryKind{} // what the layer holds so far, by path
	folders := map[string]bool{}   // the folders it made (a copy may go into one)
	for _, e := range plan.entries {
		for d := path.Dir(e.path); d != "/"; d = path.Dir(d) {
			below, _ := fuzzBase.Lstat(ctx, d)
			if below != nil && !below.Mode.IsDir() {
				t.Fatalf("%s %s is written below %s, which the base holds as %v", e.kind, e.path, d, below.Mode)
			}
			if !folders[d] {
				t.Fatalf("%s %s is written before its folder %s", e.kind, e.path, d)
			}
		}
		below, _ := fuzzBase.Lstat(ctx, e.path)
		prev, again := made[e.path]
		switch {
		case below == nil:
		case below.Mode&fs.ModeSymlink != 0:
			if e.kind != kindSymlink {
				t.Fatalf("%s %s replaces the base's link to %s", e.kind, e.path, below.Linkname)
			}
		case below.Mode.IsDir():
			if e.kind != kindDir && !(e.kind == kindCopy && folders[e.path] && readBack(plan, e.path)) {
				t.Fatalf("%s %s replaces the base's folder", e.kind, e.path)
			}
		default:
			// A copy onto a file is read back after the solve.
			if e.kind != kindFile && !(e.kind == kindCopy && readBack(plan, e.path)) {
				t.Fatalf("%s %s replaces the base's file", e.kind, e.path)
			}
		}
		// Copies may share a dst: two folders copied into one.
		if again && !(e.kind == kindCopy && (folders[e.path] || prev == kindCopy)) {
			t.Fatalf("%s %s is written twice (first as %s)", e.kind, e.path, prev)
		}
		if e.kind == kindCopy {
			for w, k := range made {
				if (k == kindFile || k == kindSymlink) && (w == e.path || e.path == "/" || strings.HasPrefix(w, e.path+"/")) {
					t.Fatalf("the copy into %s can overwrite the %s %s the layer writes", e.path, k, w)
				}
			}
		}
		made[e.path] = e.kind
		folders[e.path] = folders[e.path] || e.kind == kindDir
	}
}

// readBack reports whether CheckCopies reads the copy to p back.
func readBack(plan *layerPlan, p string) bool {
	for _, c := range plan.readBack {
		if c.path == p {
			return true
		}
	}
	return false
}
