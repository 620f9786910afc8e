package integration

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/check"
	"edp.buildth.ing/devfw-cicd/stagex/internal/fixtures"
)

// checkSpec composes the ELF fixtures: musl, and either hello with its
// library or hello-broken, whose library no package ships.
const checkSpec = `version: 1
name: %NAME%
packages: [core-musl, %PACKAGES%]
config:
  env: {HOME: /home/nonroot}
  user: nonroot
  workdir: /home/nonroot
  entrypoint: [%PROGRAM%]
accounts:
  groups: [{name: nonroot, gid: 65532}]
  users: [{name: nonroot, uid: 65532, gid: 65532, home: /home/nonroot}]
paths:
  - {path: /home/nonroot, type: directory, mode: "0750", uid: 65532, gid: 65532}
`

// TestCheckCommandOnPushedImages builds two images with the frontend,
// pushes them to the bed's registry and runs `stagex check` on each by
// reference: the one whose libraries are all there passes; the one missing
// a library fails, naming the soname, the file and the package.
func TestCheckCommandOnPushedImages(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	b := requireBed(t)
	pushedFixtures(t)
	frontend := frontendImage(t)
	c := client1(ctx, t)
	cli := stagexCLI(t)

	build := func(name, packages, program string, extra ...string) (string, string) {
		body := strings.NewReplacer("%NAME%", name, "%PACKAGES%", packages, "%PROGRAM%", program).Replace(checkSpec)
		dir := specDir(t, frontend, body+strings.Join(extra, ""))
		ref := b.Ref("it/" + name + ":check")
		res, err := buildSpec(ctx, t, c, dir, ref, map[string]string{"SOURCE_DATE_EPOCH": "1700000000"})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return b.Ref("it/" + name + "@" + res.Digest), filepath.Join(dir, "stagex.yaml")
	}

	good, _ := build("check-hello", fixtures.LibHello+", "+fixtures.Hello, "/usr/bin/hello")
	r := run(ctx, t, nil, cli, "check", good)
	mustPass(t, r, "stagex check "+good)
	t.Logf("stagex check %s:\n%s", good, r.out)
	for _, want := range []string{"image: " + good, fixtures.Hello, "efficiency:", "PASS: 0 errors"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("passing check output lacks %q:\n%s", want, r.out)
		}
	}

	broken, _ := build("check-broken", fixtures.HelloBroken, "/usr/bin/hello-broken")
	r = run(ctx, t, nil, cli, "check", broken)
	if r.code != 1 {
		t.Fatalf("stagex check %s: exit %d, want 1\n%s", broken, r.code, r.out)
	}
	t.Logf("stagex check %s:\n%s", broken, r.out)
	for _, want := range []string{string(check.RuleNeededMissing), fixtures.MissingSoname, "/usr/bin/hello-broken", fixtures.HelloBroken, "FAIL: 1 errors"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("failing check output lacks %q:\n%s", want, r.out)
		}
	}

	// The JSON report says the same, field by field.
	r = run(ctx, t, nil, cli, "check", "--format", "json", broken)
	var rep check.Report
	if err := json.Unmarshal([]byte(r.out[:strings.LastIndex(r.out, "}")+1]), &rep); err != nil {
		t.Fatalf("%v\n%s", err, r.out)
	}
	var missing []check.Finding
	for _, f := range rep.Findings {
		if f.Rule == check.RuleNeededMissing {
			missing = append(missing, f)
		}
	}
	if r.code != 1 || rep.Passed || len(missing) != 1 || missing[0].Soname != fixtures.MissingSoname ||
		missing[0].Path != "/usr/bin/hello-broken" || missing[0].Package != fixtures.HelloBroken {
		t.Errorf("exit %d, findings %+v", r.code, rep.Findings)
	}

	// Hygiene: a spec named static that composes a shell (read with
	// --spec), a folder and a file anyone may write, a working folder that
	// is not there; accepted with a reason, a finding passes but shows.
	hygiene, specFile := build("check-hygiene-static", fixtures.LibHello+", "+fixtures.Hello+", core-busybox", "/usr/bin/hello",
		"  - {path: /srv, type: directory, mode: \"0777\"}\n",
		"  - {path: /etc/app.conf, type: file, mode: \"0666\", content: \"x\"}\n")
	r = run(ctx, t, nil, cli, "check", "--format", "json", "--spec", specFile, hygiene)
	rep = check.Report{}
	if err := json.Unmarshal([]byte(r.out[:strings.LastIndex(r.out, "}")+1]), &rep); err != nil {
		t.Fatalf("%v\n%s", err, r.out)
	}
	got := map[string]bool{}
	for _, f := range rep.Findings {
		if f.Severity == check.SeverityError {
			got[string(f.Rule)+" "+f.Path] = true
		}
	}
	for _, want := range []string{"world-writable /srv", "world-writable /etc/app.conf", "shell-present /usr/bin/busybox", "shell-present /usr/bin/sh"} {
		if !got[want] {
			t.Errorf("no %s finding in %+v", want, rep.Findings)
		}
	}
	if r.code != 1 || rep.Passed {
		t.Errorf("hygiene: exit %d, passed %v", r.code, rep.Passed)
	}
}
