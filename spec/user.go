package spec

import (
	"bufio"
	"bytes"
	"slices"
	"strings"
)

// CheckUser checks that the names in config.user exist: in accounts, or in
// the base's /etc/passwd and /etc/group (pass their contents, or nil when
// there is no base). ParseSpec cannot do this because what the base holds
// is only known at build time. Numeric ids are always accepted.
func (s *Spec) CheckUser(basePasswd, baseGroup []byte) error {
	user, group, ok := splitUser(s.Config.User)
	if s.Config.User == "" || !ok {
		return nil // unset, or already reported by validation
	}
	var errs ErrorList
	if !isNumericID(user) {
		names := accountFileNames(basePasswd)
		for _, u := range s.Accounts.Users {
			names = append(names, u.Name)
		}
		if !slices.Contains(names, user) {
			errs = append(errs, s.Errorf("config.user", "add it under accounts.users, or use a numeric uid:gid",
				"user %q names no account", user))
		}
	}
	if group != "" && !isNumericID(group) {
		names := accountFileNames(baseGroup)
		for _, g := range s.Accounts.Groups {
			names = append(names, g.Name)
		}
		if !slices.Contains(names, group) {
			errs = append(errs, s.Errorf("config.user", "add it under accounts.groups, or use a numeric uid:gid",
				"group %q names no group", group))
		}
	}
	return errs.err()
}

// accountFileNames returns the names (first field) of an /etc/passwd or
// /etc/group file, skipping blank and comment lines.
func accountFileNames(data []byte) []string {
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, _, _ := strings.Cut(line, ":")
		names = append(names, name)
	}
	return names
}
