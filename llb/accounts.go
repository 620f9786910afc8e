package llb

import (
	"bytes"
	"cmp"
	"fmt"
	"strconv"
	"strings"

	"edp.buildth.ing/devfw-cicd/stagex/spec"
)

// accountDB is one colon-separated file (/etc/passwd or /etc/group) with an
// index of its names and numeric ids, for config.user and duplicate checks.
// It is the only reader of these files: spec.CheckUser takes its names.
type accountDB struct {
	lines []string
	names map[string]bool
	ids   map[int]string
}

func parseAccountDB(data []byte) accountDB {
	db := accountDB{names: map[string]bool{}, ids: map[int]string{}}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		db.lines = append(db.lines, line)
		fields := strings.Split(line, ":")
		if len(fields) < 3 || strings.HasPrefix(line, "#") {
			continue
		}
		db.names[fields[0]] = true
		if id, err := strconv.Atoi(fields[2]); err == nil {
			db.ids[id] = fields[0]
		}
	}
	return db
}

func (db accountDB) bytes() []byte {
	var b bytes.Buffer
	for _, l := range db.lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func hasAccounts(s *spec.Spec) bool {
	return len(s.Accounts.Users) > 0 || len(s.Accounts.Groups) > 0
}

// mergeAccounts appends the spec's groups and users to the base's /etc/group
// and /etc/passwd, keeping the base's lines as they are and in their order.
// A name or id that the base already has is an error at the spec's line: a
// silent override would hand the base's files to another account.
func mergeAccounts(s *spec.Spec, basePasswd, baseGroup []byte) (passwd, group []byte, err error) {
	pw := parseAccountDB(basePasswd)
	gr := parseAccountDB(baseGroup)
	var errs spec.ErrorList
	for i, g := range s.Accounts.Groups {
		at := fmt.Sprintf("accounts.groups[%d]", i)
		if gr.names[g.Name] {
			errs = append(errs, s.Errorf(at+".name", "pick another name; the base's /etc/group already has it", "group %q already exists in the base image", g.Name))
			continue
		}
		if owner, ok := gr.ids[g.GID]; ok {
			errs = append(errs, s.Errorf(at+".gid", "pick another gid", "gid %d is already used by group %q of the base image", g.GID, owner))
			continue
		}
		gr.lines = append(gr.lines, fmt.Sprintf("%s:x:%d:%s", g.Name, g.GID, strings.Join(g.Members, ",")))
		gr.names[g.Name] = true
		gr.ids[g.GID] = g.Name
	}
	for i, u := range s.Accounts.Users {
		at := fmt.Sprintf("accounts.users[%d]", i)
		if pw.names[u.Name] {
			errs = append(errs, s.Errorf(at+".name", "pick another name; the base's /etc/passwd already has it", "user %q already exists in the base image", u.Name))
			continue
		}
		if owner, ok := pw.ids[u.UID]; ok {
			errs = append(errs, s.Errorf(at+".uid", "pick another uid", "uid %d is already used by user %q of the base image", u.UID, owner))
			continue
		}
		// ParseSpec fills these in; a Spec built in code may leave them out.
		home, shell := cmp.Or(u.Home, spec.DefaultHome), cmp.Or(u.Shell, spec.DefaultShell)
		pw.lines = append(pw.lines, fmt.Sprintf("%s:x:%d:%d:%s:%s:%s", u.Name, u.UID, u.GID, u.Gecos, home, shell))
		pw.names[u.Name] = true
		pw.ids[u.UID] = u.Name
	}
	if len(errs) > 0 {
		return nil, nil, errs
	}
	return pw.bytes(), gr.bytes(), nil
}
