package spec

// CheckUser checks that the names in config.user exist: in accounts, or
// among the names of the base's /etc/passwd and /etc/group (nil when there
// is no base, or when they were not read). ParseSpec cannot do this because
// what the base holds is only known at build time; reading those files is
// the caller's, which also writes them. Numeric ids are always accepted.
func (s *Spec) CheckUser(baseUsers, baseGroups map[string]bool) error {
	user, group, ok := splitUser(s.Config.User)
	if s.Config.User == "" || !ok {
		return nil // unset, or already reported by validation
	}
	var errs ErrorList
	if !isNumericID(user) && !baseUsers[user] && !s.hasUser(user) {
		errs = append(errs, s.Errorf("config.user", "add it under accounts.users, or use a numeric uid:gid",
			"user %q names no account", user))
	}
	if group != "" && !isNumericID(group) && !baseGroups[group] && !s.hasGroup(group) {
		errs = append(errs, s.Errorf("config.user", "add it under accounts.groups, or use a numeric uid:gid",
			"group %q names no group", group))
	}
	return errs.err()
}

func (s *Spec) hasUser(name string) bool {
	for _, u := range s.Accounts.Users {
		if u.Name == name {
			return true
		}
	}
	return false
}

func (s *Spec) hasGroup(name string) bool {
	for _, g := range s.Accounts.Groups {
		if g.Name == name {
			return true
		}
	}
	return false
}
