package spec

import "testing"

// The names of the base's /etc/passwd and /etc/group, as llb reads them.
var (
	basePasswd = map[string]bool{"root": true, "nobody": true}
	baseGroup  = map[string]bool{"root": true, "nogroup": true}
)

func TestCheckUser(t *testing.T) {
	accounts := "accounts:\n  groups: [{name: app, gid: 10}]\n  users: [{name: svc, uid: 10, gid: 10}]\n"
	for _, c := range []struct {
		user   string
		passwd map[string]bool
		group  map[string]bool
		want   *wantError
	}{
		{user: "", want: nil},
		{user: "1000:1000", want: nil},
		{user: "svc", want: nil},
		{user: "svc:app", want: nil},
		{user: "nobody:nogroup", passwd: basePasswd, group: baseGroup, want: nil},
		{user: "root:10", passwd: basePasswd, want: nil},
		{user: "nobody", want: &wantError{"spec.yaml:6:16", "user \"nobody\" names no account", "add it under accounts.users, or use a numeric uid:gid"}},
		{user: "ghost:0", passwd: basePasswd, group: baseGroup, want: &wantError{"spec.yaml:6:16", "user \"ghost\" names no account", "accounts.users"}},
		{user: "svc:staff", passwd: basePasswd, group: baseGroup, want: &wantError{"spec.yaml:6:16", "group \"staff\" names no group", "add it under accounts.groups"}},
	} {
		t.Run(c.user, func(t *testing.T) {
			src := head + accounts + "config: {user: \"" + c.user + "\"}\n"
			s := mustParseSpec(t, src)
			err := s.CheckUser(c.passwd, c.group)
			if c.want == nil {
				if err != nil {
					t.Errorf("CheckUser: %v", err)
				}
				return
			}
			requireError(t, err, *c.want)
		})
	}
}
