package spec

import (
	"regexp"
	"strings"
)

// accountNamePattern is the portable user and group name of useradd(8) and
// POSIX: tools beyond the libc (shadow, busybox) reject anything else.
var accountNamePattern = regexp.MustCompile(`^[a-z_][a-z0-9_-]*$`)

// maxAccountName is the longest name useradd and utmp accept.
const maxAccountName = 32

const accountNameHint = "use lowercase letters, digits, '_' and '-', starting with a letter or '_', at most 32 characters"

func (s *Spec) validateAccounts(v *validator) {
	groupNames := map[string]string{} // name -> path where first defined
	gids := map[int]string{}
	for i, g := range s.Accounts.Groups {
		at := joinIndex("accounts.groups", i)
		v.accountName(joinField(at, "name"), "group", g.Name)
		v.id(joinField(at, "gid"), g.GID)
		if first, dup := groupNames[g.Name]; dup && g.Name != "" {
			v.errorf(joinField(at, "name"), "first defined at "+v.firstAt(first)+"; remove one", "duplicate group name %s", quoteShort(g.Name))
		} else if !dup {
			groupNames[g.Name] = joinField(at, "name")
		}
		if first, dup := gids[g.GID]; dup {
			v.errorf(joinField(at, "gid"), "first used at "+v.firstAt(first)+"; give each group its own gid", "duplicate gid %d", g.GID)
		} else {
			gids[g.GID] = joinField(at, "gid")
		}
		for j, m := range g.Members {
			if !accountNamePattern.MatchString(m) || len(m) > maxAccountName {
				v.errorf(joinIndex(joinField(at, "members"), j), accountNameHint, "invalid member name %s", quoteShort(m))
			}
		}
	}

	userNames := map[string]string{}
	uids := map[int]string{}
	for i, u := range s.Accounts.Users {
		at := joinIndex("accounts.users", i)
		v.accountName(joinField(at, "name"), "user", u.Name)
		v.id(joinField(at, "uid"), u.UID)
		v.id(joinField(at, "gid"), u.GID)
		if first, dup := userNames[u.Name]; dup && u.Name != "" {
			v.errorf(joinField(at, "name"), "first defined at "+v.firstAt(first)+"; remove one", "duplicate user name %s", quoteShort(u.Name))
		} else if !dup {
			userNames[u.Name] = joinField(at, "name")
		}
		if first, dup := uids[u.UID]; dup {
			v.errorf(joinField(at, "uid"), "first used at "+v.firstAt(first)+"; give each user its own uid", "duplicate uid %d", u.UID)
		} else {
			uids[u.UID] = joinField(at, "uid")
		}
		v.passwdPath(joinField(at, "home"), "home", u.Home)
		v.passwdPath(joinField(at, "shell"), "shell", u.Shell)
		if strings.Contains(u.Gecos, ":") {
			v.errorf(joinField(at, "gecos"), "remove ':': it separates /etc/passwd fields", "gecos %s cannot be written to /etc/passwd", quoteShort(u.Gecos))
		}
	}
}

func (v *validator) accountName(path, what, name string) {
	switch {
	case name == "":
		v.errorf(path, "add name: <"+what+" name>", "%s name is required", what)
	case !accountNamePattern.MatchString(name) || len(name) > maxAccountName:
		v.errorf(path, accountNameHint, "invalid %s name %s", what, quoteShort(name))
	}
}

// passwdPath checks a home or shell: absolute, clean, and without the field
// separator of /etc/passwd (line breaks and other control characters are
// refused for every field). Empty means the default was not applied (a Spec
// built in code), which the writer of /etc/passwd handles.
func (v *validator) passwdPath(path, what, p string) {
	if p == "" {
		return
	}
	if msg, hint := checkImagePath(p, what == "home"); msg != "" {
		v.errorf(path, hint, "%s: %s", what, msg)
	} else if strings.Contains(p, ":") {
		v.errorf(path, "write an absolute path without ':', e.g. /home/app", "invalid %s %s", what, quoteShort(p))
	}
}
