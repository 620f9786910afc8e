package spec

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// head is the smallest valid spec; cases add their problem from line 3.
const head = "version: 1\npackages: [core-busybox]\n"

func TestParseSpecErrors(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want wantError
	}{
		// The file as YAML.
		{"malformed YAML", lines("version: 1", "packages: [core-busybox", "name: x"),
			wantError{"spec.yaml:2:1", "invalid YAML: did not find expected ',' or ']'", "check indentation"}},
		{"malformed YAML first line", "version: 1: 2\n",
			wantError{"spec.yaml:1:1", "invalid YAML: mapping values are not allowed", "indentation"}},
		{"tab indentation", lines("version: 1", "packages:", "\t- core-busybox"),
			wantError{"spec.yaml:3:1", "invalid YAML", "spaces, not tabs"}},
		{"invalid UTF-8", "version: 1\nname: a\xffb\n",
			wantError{"spec.yaml:2:8", "invalid UTF-8 byte 0xff", "UTF-8"}},
		{"control character", "version: 1\nname: a\x01\n",
			wantError{"spec.yaml:2:8", "control character U+0001", "escape"}},
		{"empty file", "", wantError{"spec.yaml:1:1", "empty spec", "version: 1"}},
		{"only comments", "# syntax=edp.buildth.ing/devfw-cicd/stagex-frontend:1\n# nothing\n",
			wantError{"spec.yaml:1:1", "empty spec", "version: 1"}},
		{"empty document", "---\n", wantError{"spec.yaml:2:1", "empty spec", "version: 1"}},
		{"two documents", head + "---\nversion: 1\n",
			wantError{"spec.yaml:3:1", "more than one YAML document", "remove this \"---\""}},
		{"top level is a list", "- version: 1\n",
			wantError{"spec.yaml:1:1", "the spec: expected a mapping, got a list", "field: value"}},
		{"duplicate top-level key", head + "version: 1\n",
			wantError{"spec.yaml:3:1", "duplicate key \"version\" (first written at line 1)", "remove one"}},
		{"duplicate nested key", head + "config:\n  env: {A: x, A: y}\n",
			wantError{"spec.yaml:4:15", "config.env: duplicate key \"A\"", "remove one"}},
		{"merge key", head + "config: &c {user: app}\nannotations: {<<: {a: b}}\n",
			wantError{"spec.yaml:4:15", "merge keys (<<) are not supported", "write the fields out"}},
		{"alias cycle", head + "config: &c {labels: *c}\n",
			wantError{"spec.yaml:3:21", "config.labels.labels: alias *c refers to itself", "cannot refer"}},
		{"alias expansion bomb", aliasBomb(),
			wantError{"spec.yaml:204:39", "the spec expands to more than 200000 values", "instead of nesting aliases"}},

		// Unknown fields.
		{"unknown top-level field", head + "nmae: x\n",
			wantError{"spec.yaml:3:1", "unknown field \"nmae\" in the spec", "did you mean \"name\"?"}},
		{"unknown field lists valid ones", head + "zzzzzzz: x\n",
			wantError{"spec.yaml:3:1", "unknown field \"zzzzzzz\"", "valid fields: accounts, annotations, archives, base,"}},
		{"unknown nested field", head + "config:\n  usr: app\n",
			wantError{"spec.yaml:4:3", "unknown field \"usr\" in config", "did you mean \"user\"?"}},
		{"unknown deep field", head + "accounts:\n  users:\n    - name: app\n      uid: 1\n      shel: /bin/sh\n",
			wantError{"spec.yaml:7:7", "unknown field \"shel\" in accounts.users[0]", "did you mean \"shell\"?"}},

		// Wrong types.
		{"uid not a number", head + "accounts: {users: [{name: app, uid: abc}]}\n",
			wantError{"spec.yaml:3:37", "accounts.users[0].uid: expected an integer, got the string \"abc\"", "whole number"}},
		{"quoted number", head + "accounts: {groups: [{name: app, gid: \"7\"}]}\n",
			wantError{"spec.yaml:3:38", "expected an integer", "remove the quotes: gid: 7"}},
		{"version as string", "version: \"1\"\npackages: [core-busybox]\n",
			wantError{"spec.yaml:1:10", "version: expected an integer, got the string \"1\"", "remove the quotes"}},
		{"version as float", "version: 1.0\npackages: [core-busybox]\n",
			wantError{"spec.yaml:1:10", "version: expected an integer, got the number 1.0", "whole number"}},
		{"integer too large", head + "accounts: {users: [{name: app, uid: 99999999999999999999}]}\n",
			wantError{"spec.yaml:3:37", "expected an integer, got the number 99999999999999999999", "whole number"}},
		{"integer tag on text", head + "accounts: {users: [{name: app, uid: !!int abc}]}\n",
			wantError{"spec.yaml:3:37", "accounts.users[0].uid: invalid integer \"abc\"", "whole number"}},
		{"packages a map", "version: 1\npackages:\n  core-musl: 1\n",
			wantError{"spec.yaml:3:3", "packages: expected a list, got a mapping", "- item"}},
		{"env value a list", head + "config: {env: {PATH: [/bin]}}\n",
			wantError{"spec.yaml:3:22", "config.env.PATH: expected a string, got a list", "not a list"}},
		{"env a list", head + "config: {env: [A=b]}\n",
			wantError{"spec.yaml:3:15", "config.env: expected a mapping of names to strings, got a list", "name: value"}},
		{"entrypoint a string", head + "config: {entrypoint: /bin/app}\n",
			wantError{"spec.yaml:3:22", "config.entrypoint: expected a list of strings", "[/bin/app]"}},
		{"config a list", head + "config: [a]\n",
			wantError{"spec.yaml:3:9", "config: expected a mapping, got a list", "field: value"}},
		{"package entry a mapping", "version: 1\npackages:\n  - name: core-musl\n",
			wantError{"spec.yaml:3:5", "packages[0]: expected a package name or image reference (a string), got a mapping", "not \"key: value\""}},
		{"custom tag", head + "name: !secret x\n",
			wantError{"spec.yaml:3:7", "name: expected a string, got a !secret value", "without a YAML tag"}},
		{"key not a string", head + "config: {env: {[a]: b}}\n",
			wantError{"spec.yaml:3:16", "config.env: a key must be a string, got a list", "plain names"}},

		// version and packages.
		{"version missing", "packages: [core-busybox]\n",
			wantError{"spec.yaml:1:1", "version is required", "version: 1"}},
		{"version 2", "version: 2\npackages: [core-busybox]\n",
			wantError{"spec.yaml:1:10", "unsupported version 2", "version: 1"}},
		{"packages missing", "version: 1\nname: x\n",
			wantError{"spec.yaml:1:1", "packages is empty", "packages: [core-busybox]"}},
		{"packages empty", "version: 1\npackages: []\n",
			wantError{"spec.yaml:2:1", "packages is empty", "at least one"}},
		{"package name uppercase", "version: 1\npackages: [core-busybox, Core-Musl]\n",
			wantError{"spec.yaml:2:26", "invalid package name \"Core-Musl\"", "lowercase"}},
		{"short name with tag", "version: 1\npackages:\n  - core-go:1.26.0\n",
			wantError{"spec.yaml:3:5", "short name \"core-go:1.26.0\" cannot carry a tag or digest", "write \"core-go\""}},
		{"malformed full reference", "version: 1\npackages:\n  - registry.example.com/Stagex/core-go\n",
			wantError{"spec.yaml:3:5", "invalid image reference \"registry.example.com/Stagex/core-go\"", "lowercase"}},
		{"non-sha256 digest", "version: 1\npackages:\n  - registry.example.com/stagex/core-go@sha512:" + strings.Repeat("a", 128) + "\n",
			wantError{"spec.yaml:3:5", "digest must be sha256:<64 lowercase hex digits>", "@sha256:"}},
		{"empty package entry", "version: 1\npackages: [\"\"]\n",
			wantError{"spec.yaml:2:12", "empty package name", "core-musl"}},
		{"base invalid", head + "base: Core\n",
			wantError{"spec.yaml:3:7", "base: invalid package name \"Core\"", "lowercase"}},

		// lock.
		{"lock absolute", head + "lock: /etc/stagex.lock.yaml\n",
			wantError{"spec.yaml:3:7", "lock \"/etc/stagex.lock.yaml\" must be a relative path", "keep the lock beside the spec"}},
		{"lock escapes", head + "lock: ../stagex.lock.yaml\n",
			wantError{"spec.yaml:3:7", "must be a relative path that stays beside the spec", "beside the spec"}},

		// modes.
		{"mode unquoted", head + "paths: [{path: /a, type: directory, mode: 755}]\n",
			wantError{"spec.yaml:3:43", "paths[0].mode: file mode 755 must be a quoted octal string", "quote it: mode: \"0755\""}},
		{"mode unquoted with zero", head + "copy: [{src: a, dst: /a, mode: 0755}]\n",
			wantError{"spec.yaml:3:32", "copy[0].mode: file mode 0755 must be a quoted octal string", "quote it: mode: \"0755\""}},
		{"mode decimal", head + "paths: [{path: /a, type: file, mode: 493}]\n",
			wantError{"spec.yaml:3:38", "must be a quoted octal string", "quote an octal string"}},
		{"mode not octal", head + "paths: [{path: /a, type: file, mode: \"0789\"}]\n",
			wantError{"spec.yaml:3:38", "paths[0].mode: invalid file mode \"0789\"", "octal digits"}},
		{"mode too long", head + "paths: [{path: /a, type: file, mode: \"017777\"}]\n",
			wantError{"spec.yaml:3:38", "invalid file mode \"017777\"", "octal digits"}},
		{"mode setuid", head + "copy: [{src: a, dst: /a, mode: \"04755\"}]\n",
			wantError{"spec.yaml:3:32", "copy[0].mode: invalid file mode \"04755\": setuid, setgid and sticky bits cannot be written", ""}},
		{"mode sticky", head + "paths: [{path: /a, type: directory, mode: \"1777\"}]\n",
			wantError{"spec.yaml:3:43", "invalid file mode \"1777\"", ""}},
		{"mode symbolic", head + "paths: [{path: /a, type: file, mode: u+x}]\n",
			wantError{"spec.yaml:3:38", "invalid file mode \"u+x\"", "octal digits"}},
		{"mode on symlink", head + "paths: [{path: /a, type: symlink, target: b, mode: \"0777\"}]\n",
			wantError{"spec.yaml:3:52", "mode is set on a symlink", "remove mode"}},

		// paths.
		{"path relative", head + "paths: [{path: etc/app, type: file}]\n",
			wantError{"spec.yaml:3:16", "path \"etc/app\" must be absolute", "/etc/app"}},
		{"path with ..", head + "paths: [{path: /etc/../app, type: file}]\n",
			wantError{"spec.yaml:3:16", "must not contain \"..\"", "/app"}},
		{"path not clean", head + "paths: [{path: /etc//app/, type: file}]\n",
			wantError{"spec.yaml:3:16", "path \"/etc//app/\" is not clean", "\"/etc/app\""}},
		{"path root", head + "paths: [{path: /, type: directory}]\n",
			wantError{"spec.yaml:3:16", "path cannot be \"/\"", "below the root"}},
		{"path missing", head + "paths: [{type: directory}]\n",
			wantError{"spec.yaml:3:9", "path is required", "absolute path"}},
		{"type missing", head + "paths:\n  - path: /a\n",
			wantError{"spec.yaml:4:5", "type is required", "type: directory"}},
		{"type unknown", head + "paths: [{path: /a, type: fifo}]\n",
			wantError{"spec.yaml:3:26", "unknown path type \"fifo\"", "directory, file or symlink"}},
		{"content on directory", head + "paths: [{path: /a, type: directory, content: x}]\n",
			wantError{"spec.yaml:3:46", "content is set on a directory", "only to type: file"}},
		{"target on file", head + "paths: [{path: /a, type: file, target: b}]\n",
			wantError{"spec.yaml:3:40", "target is set on a file", "only to type: symlink"}},
		{"symlink without target", head + "paths: [{path: /a, type: symlink}]\n",
			wantError{"spec.yaml:3:9", "a symlink needs a target", "add target"}},
		{"duplicate path", head + "paths:\n  - {path: /a, type: directory}\n  - {path: /a, type: file}\n",
			wantError{"spec.yaml:5:12", "duplicate path \"/a\"", "paths[0].path (line 4)"}},
		{"path uid out of range", head + "paths: [{path: /a, type: file, uid: -1}]\n",
			wantError{"spec.yaml:3:37", "uid -1 is out of range", "0 to 4294967294"}},

		// copy.
		{"copy src absolute", head + "copy: [{src: /etc/passwd, dst: /a}]\n",
			wantError{"spec.yaml:3:14", "src \"/etc/passwd\" must be relative", "\"etc/passwd\""}},
		{"copy src escapes", head + "copy: [{src: a/../../b, dst: /a}]\n",
			wantError{"spec.yaml:3:14", "src \"a/../../b\" must not contain \"..\"", "cannot leave the build context"}},
		{"copy src missing", head + "copy: [{dst: /a}]\n",
			wantError{"spec.yaml:3:8", "src is required", "add src"}},
		{"copy dst relative", head + "copy: [{src: a, dst: usr/bin/a}]\n",
			wantError{"spec.yaml:3:22", "dst: path \"usr/bin/a\" must be absolute", "/usr/bin/a"}},
		{"copy dst not clean", head + "copy: [{src: a, dst: /usr/./bin}]\n",
			wantError{"spec.yaml:3:22", "is not clean", "\"/usr/bin\""}},
		{"copy from invalid", head + "copy: [{from: \"my ctx\", src: a, dst: /a}]\n",
			wantError{"spec.yaml:3:15", "invalid build context name \"my ctx\"", "--build-context"}},
		{"copy gid out of range", head + "copy: [{src: a, dst: /a, gid: 4294967295}]\n",
			wantError{"spec.yaml:3:31", "gid 4294967295 is out of range", "4294967294"}},

		// accounts.
		{"user name invalid", head + "accounts: {users: [{name: App, uid: 1}]}\n",
			wantError{"spec.yaml:3:27", "invalid user name \"App\"", "lowercase"}},
		{"user name missing", head + "accounts: {users: [{uid: 1}]}\n",
			wantError{"spec.yaml:3:20", "user name is required", "add name"}},
		{"user name too long", head + "accounts: {users: [{name: " + strings.Repeat("a", 33) + ", uid: 1}]}\n",
			wantError{"spec.yaml:3:27", "invalid user name", "at most 32"}},
		{"duplicate user", head + "accounts:\n  users:\n    - {name: app, uid: 1}\n    - {name: app, uid: 2}\n",
			wantError{"spec.yaml:6:14", "duplicate user name \"app\"", "accounts.users[0].name (line 5)"}},
		{"duplicate uid", head + "accounts:\n  users:\n    - {name: a, uid: 7}\n    - {name: b, uid: 7}\n",
			wantError{"spec.yaml:6:22", "duplicate uid 7", "accounts.users[0].uid (line 5)"}},
		{"duplicate group", head + "accounts:\n  groups:\n    - {name: app, gid: 1}\n    - {name: app, gid: 2}\n",
			wantError{"spec.yaml:6:14", "duplicate group name \"app\"", "accounts.groups[0].name (line 5)"}},
		{"duplicate gid", head + "accounts:\n  groups:\n    - {name: a, gid: 9}\n    - {name: b, gid: 9}\n",
			wantError{"spec.yaml:6:22", "duplicate gid 9", "own gid"}},
		{"uid out of range", head + "accounts: {users: [{name: a, uid: 4294967295}]}\n",
			wantError{"spec.yaml:3:35", "uid 4294967295 is out of range", "4294967294"}},
		{"gid negative", head + "accounts: {groups: [{name: a, gid: -5}]}\n",
			wantError{"spec.yaml:3:36", "gid -5 is out of range", "0 to"}},
		{"member invalid", head + "accounts: {groups: [{name: a, gid: 5, members: [Bob]}]}\n",
			wantError{"spec.yaml:3:49", "invalid member name \"Bob\"", "lowercase"}},
		{"home relative", head + "accounts: {users: [{name: a, uid: 5, home: home/a}]}\n",
			wantError{"spec.yaml:3:44", "home: path \"home/a\" must be absolute", "start it with /: /home/a"}},
		{"shell relative", head + "accounts: {users: [{name: a, uid: 5, shell: sh}]}\n",
			wantError{"spec.yaml:3:45", "shell: path \"sh\" must be absolute", "start it with /"}},
		{"gecos with colon", head + "accounts: {users: [{name: a, uid: 5, gecos: \"a:b\"}]}\n",
			wantError{"spec.yaml:3:45", "gecos \"a:b\" cannot be written to /etc/passwd", "remove ':'"}},

		// config.
		{"invalid env name", head + "config:\n  env:\n    MY-VAR: x\n",
			wantError{"spec.yaml:5:5", "invalid env name \"MY-VAR\"", "letters, digits and '_'"}},
		{"env name starting with digit", head + "config: {env: {1X: x}}\n",
			wantError{"spec.yaml:3:16", "invalid env name \"1X\"", "do not start with a digit"}},
		{"user form", head + "config: {user: \"a:b:c\"}\n",
			wantError{"spec.yaml:3:16", "invalid user \"a:b:c\"", "uid:gid"}},
		{"user empty group", head + "config: {user: \"app:\"}\n",
			wantError{"spec.yaml:3:16", "invalid user \"app:\"", "name:group"}},
		{"workdir relative", head + "config: {workdir: app}\n",
			wantError{"spec.yaml:3:19", "workdir: path \"app\" must be absolute", "start it with /"}},
		{"volume relative", head + "config: {volumes: [/ok, data]}\n",
			wantError{"spec.yaml:3:25", "volume: path \"data\" must be absolute", "/data"}},
		{"expose port zero", head + "config: {expose: [\"0\"]}\n",
			wantError{"spec.yaml:3:19", "invalid exposed port \"0\"", "1 to 65535"}},
		{"expose port too large", head + "config: {expose: [70000/tcp]}\n",
			wantError{"spec.yaml:3:19", "invalid exposed port \"70000/tcp\"", "8080/tcp"}},
		{"expose bad protocol", head + "config: {expose: [80/http]}\n",
			wantError{"spec.yaml:3:19", "invalid exposed port \"80/http\"", "/udp"}},
		{"stop signal typo", head + "config: {stop-signal: SIGTREM}\n",
			wantError{"spec.yaml:3:23", "unknown stop signal \"SIGTREM\"", "did you mean \"SIGTERM\""}},
		{"stop signal without SIG", head + "config: {stop-signal: TERM}\n",
			wantError{"spec.yaml:3:23", "unknown stop signal \"TERM\"", "\"SIGTERM\""}},
		{"stop signal number", head + "config: {stop-signal: 99}\n",
			wantError{"spec.yaml:3:23", "unknown stop signal \"99\"", "1 to 64"}},
		{"empty label key", head + "config: {labels: {\"\": x}}\n",
			wantError{"spec.yaml:3:19", "config.labels: empty key", "give the key a name"}},
		{"empty annotation key", head + "annotations:\n  \"\": x\n",
			wantError{"spec.yaml:4:3", "annotations: empty key", "give the key a name"}},

		// Control characters, found by the hardening review: a NUL in a
		// home lands in /etc/passwd, a CR hides what precedes it in a
		// terminal, U+2028 breaks lines in YAML 1.1 and JavaScript readers.
		{"NUL in home", head + "accounts: {users: [{name: a, uid: 5, home: \"/home/a\\0b\"}]}\n",
			wantError{"spec.yaml:3:44", "accounts.users[0].home holds the character U+0000", "only printable text on one line"}},
		{"CR in gecos", head + "accounts: {users: [{name: a, uid: 5, gecos: \"App\\rroot\"}]}\n",
			wantError{"spec.yaml:3:45", "accounts.users[0].gecos holds the character U+000D", "remove it"}},
		{"line feed in gecos", head + "accounts: {users: [{name: a, uid: 5, gecos: \"a\\nroot::0:0::/:/bin/sh\"}]}\n",
			wantError{"spec.yaml:3:45", "accounts.users[0].gecos holds the character U+000A", "remove it"}},
		{"NUL in env value", head + "config:\n  env: {A: \"x\\0y\"}\n",
			wantError{"spec.yaml:4:12", "config.env.A holds the character U+0000", "remove it"}},
		{"NEL in entrypoint", head + "config: {entrypoint: [/bin/app, \"a\\Nb\"]}\n",
			wantError{"spec.yaml:3:33", "config.entrypoint[1] holds the character U+0085", "remove it"}},
		{"line separator in cmd", head + "config: {cmd: [\"a\\Lb\"]}\n",
			wantError{"spec.yaml:3:16", "config.cmd[0] holds the character U+2028", "remove it"}},
		{"NUL in workdir", head + "config: {workdir: \"/app\\0\"}\n",
			wantError{"spec.yaml:3:19", "config.workdir holds the character U+0000", "remove it"}},
		{"CR in volume", head + "config: {volumes: [\"/data\\r\"]}\n",
			wantError{"spec.yaml:3:20", "config.volumes[0] holds the character U+000D", "remove it"}},
		{"CR in user", head + "config: {user: \"app\\r\"}\n",
			wantError{"spec.yaml:3:16", "config.user holds the character U+000D", "remove it"}},
		{"NUL in label value", head + "config: {labels: {a.b: \"x\\0\"}}\n",
			wantError{"spec.yaml:3:24", "config.labels.a.b holds the character U+0000", "tabs and line breaks"}},
		{"CR in label key", head + "config: {labels: {\"a\\rb\": x}}\n",
			wantError{"spec.yaml:3:19", "config.labels: the key \"a\\rb\" holds the character U+000D", "remove it"}},
		{"paragraph separator in annotation", head + "annotations: {a.b: \"x\\Py\"}\n",
			wantError{"spec.yaml:3:20", "annotations.a.b holds the character U+2029", "remove it"}},
		{"NUL in symlink target", head + "paths: [{path: /a, type: symlink, target: \"b\\0\"}]\n",
			wantError{"spec.yaml:3:43", "paths[0].target holds the character U+0000", "remove it"}},
		{"NUL in copy src", head + "copy: [{src: \"a\\0\", dst: /a}]\n",
			wantError{"spec.yaml:3:14", "copy[0].src holds the character U+0000", "remove it"}},
		{"ESC in name", head + "name: \"app\\e[2J\"\n",
			wantError{"spec.yaml:3:7", "name holds the character U+001B", "remove it"}},
		{"CR in description", head + "description: \"a\\rb\"\n",
			wantError{"spec.yaml:3:14", "description holds the character U+000D", "tabs and line breaks"}},

		// Paths are clean or refused.
		{"workdir with dot-dot", head + "config: {workdir: /a/../../b}\n",
			wantError{"spec.yaml:3:19", "workdir: path \"/a/../../b\" must not contain \"..\"", "/b"}},
		{"workdir not clean", head + "config: {workdir: /app/}\n",
			wantError{"spec.yaml:3:19", "workdir: path \"/app/\" is not clean", "\"/app\""}},
		{"volume with dot-dot", head + "config: {volumes: [/data/../etc]}\n",
			wantError{"spec.yaml:3:20", "volume: path \"/data/../etc\" must not contain \"..\"", "/etc"}},
		{"home not clean", head + "accounts: {users: [{name: a, uid: 5, home: /home//a}]}\n",
			wantError{"spec.yaml:3:44", "home: path \"/home//a\" is not clean", "\"/home/a\""}},

		// Keys as BuildKit reads them: an annotation key with a blank is
		// dropped silently by its exporter.
		{"label key with a space", head + "config: {labels: {\"org.example team\": x}}\n",
			wantError{"spec.yaml:3:19", "config.labels: key \"org.example team\" has a blank", "without blanks"}},
		{"annotation key with a tab", head + "annotations: {\"a\\tb\": x}\n",
			wantError{"spec.yaml:3:15", "annotations: key \"a\\tb\" has a blank", "without blanks"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := ParseSpec("spec.yaml", []byte(c.src))
			if s != nil {
				t.Errorf("ParseSpec returned a spec with an error")
			}
			requireError(t, err, c.want)
		})
	}
}

// aliasBomb repeats an anchored list of 1000 names in 300 groups, which
// expands to more values than any real spec holds.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString(head + "config: {volumes: &v [" + strings.Repeat("/a, ", 999) + "/a]}\naccounts:\n  groups:\n")
	for i := range 300 {
		b.WriteString("    - {name: g" + strconv.Itoa(i) + ", gid: " + strconv.Itoa(i) + ", members: *v}\n")
	}
	return b.String()
}

func TestParseSpecAccepts(t *testing.T) {
	for name, src := range map[string]string{
		"scratch base":         head + "base: scratch\n",
		"full reference base":  head + "base: registry.example.com/stagex/core-filesystem@" + digestC + "\n",
		"unpinned reference":   "version: 1\npackages: [registry.example.com/stagex/core-go:1.26.0]\n", // Resolve decides
		"numeric user":         head + "config: {user: \"1000\"}\n",
		"named user and group": head + "config: {user: \"nobody:nogroup\"}\n", // CheckUser decides
		"signals":              head + "config: {stop-signal: SIGRTMIN+3}\n",
		"numeric signal":       head + "config: {stop-signal: 15}\n",
		"expose without proto": head + "config: {expose: [\"53\", 53/udp, 9/sctp]}\n",
		"mode without zero":    head + "paths: [{path: /a, type: file, mode: \"644\"}]\n",
		"copy to root":         head + "copy: [{from: rootfs, src: ., dst: /}]\n",
		"lock in subdirectory": head + "lock: locks/stagex.lock.yaml\n",
		"syntax line":          "# syntax=edp.buildth.ing/devfw-cicd/stagex-frontend:1\n" + head,
		"document markers":     "---\n" + head + "...\n",
		"null fields":          head + "config: ~\nname: ~\n",
		"relative symlink":     head + "paths: [{path: /bin/sh, type: symlink, target: busybox}]\n",
		"user gid from base":   head + "accounts: {users: [{name: app, uid: 1000, gid: 100}]}\n",
		"group members":        head + "accounts: {groups: [{name: wheel, gid: 10, members: [root, app]}]}\n",
		"crlf line endings":    "version: 1\r\npackages: [core-busybox]\r\n",
		"byte order mark":      "\uFEFF" + head,
		"gid max":              head + "accounts: {groups: [{name: big, gid: 4294967294}]}\n",
		"hex and underscores":  head + "accounts: {groups: [{name: hex, gid: 0x10}, {name: und, gid: 1_000}]}\n",
	} {
		t.Run(name, func(t *testing.T) {
			mustParseSpec(t, src)
		})
	}
}

// The labels the frontend writes, and the ones naming an archive's origin,
// are refused at their line when the spec is parsed, so --check and lint
// see them too.
func TestReservedLabels(t *testing.T) {
	for k, from := range ReservedLabels {
		_, err := ParseSpec("spec.yaml", []byte("version: 1\npackages: [core-musl]\nconfig:\n  labels:\n    org.example.team: a\n    "+k+": x\n"))
		requireError(t, err, wantError{at: fmt.Sprintf("spec.yaml:6:%d", 7+len(k)), msg: "label " + k + " is reserved: the frontend sets it", hint: from})
	}
	_, err := ParseSpec("spec.yaml", []byte("version: 1\npackages: [core-musl]\nconfig:\n  labels: {"+ArchiveLabelPrefix+"jre: from StageX}\n"))
	requireError(t, err, wantError{at: fmt.Sprintf("spec.yaml:4:%d", 14+len(ArchiveLabelPrefix+"jre")), msg: "reserved: it names an archive's origin"})
	if _, err := ParseSpec("spec.yaml", []byte("version: 1\npackages: [core-musl]\nconfig:\n  labels: {org.opencontainers.image.vendor: EDP}\n")); err != nil {
		t.Errorf("a label the frontend does not write: %v", err)
	}
}

// A spec built in code has no positions, but its problems still name the
// field, at the start of the file.
func TestValidateNamesFieldsOfCodeBuiltSpec(t *testing.T) {
	s := &Spec{Version: 1, File: "spec.yaml", Packages: []PackageRef{{Ref: "core-musl"}},
		Paths: []Path{{Path: "/a", Type: PathFile}, {Path: "/a", Type: PathFile, UID: -1}}}
	err := s.Validate()
	requireError(t, err, wantError{at: "spec.yaml:1:1", msg: "uid -1 is out of range"})
	requireError(t, err, wantError{at: "spec.yaml:1:1", msg: "duplicate path", hint: "first listed at paths[0].path"})
}
