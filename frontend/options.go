package frontend

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/lock"

	"github.com/moby/buildkit/frontend/subrequests/outline"
)

// The build arguments this frontend reads. They are listed in one table so
// that parsing, the outline subrequest and the README cannot drift apart.
const (
	ArgRegistry      = "STAGEX_REGISTRY"
	ArgLock          = "STAGEX_LOCK"
	ArgAllowUnpinned = "STAGEX_ALLOW_UNPINNED"
	ArgEpoch         = "SOURCE_DATE_EPOCH"
	ArgVersion       = "VERSION"
	ArgCheck         = "STAGEX_CHECK"
	ArgTests         = "STAGEX_TESTS"
	ArgVCSLabels     = "STAGEX_VCS_LABELS"

	ArgVerifySignatures = "STAGEX_VERIFY_SIGNATURES"
	ArgLookaside        = "STAGEX_LOOKASIDE"
	ArgSignedIdentity   = "STAGEX_SIGNED_IDENTITY"
	ArgQuorum           = "STAGEX_SIGNATURE_QUORUM"
)

// CheckMode says whether and how the composed image is checked at build
// time (STAGEX_CHECK).
type CheckMode string

// The check modes. Off is the default, so that the fast path stays fast.
const (
	CheckOff    CheckMode = "off"    // no check, no smoke tests, no check attestation
	CheckWarn   CheckMode = "warn"   // findings are build warnings; failing smoke tests still fail the build
	CheckStrict CheckMode = "strict" // any unaccepted error finding fails the build
)

// TestsMode says what happens to the spec's smoke tests when the check is
// on (STAGEX_TESTS).
type TestsMode string

// The tests modes.
const (
	// TestsRun runs every smoke test (the default).
	TestsRun TestsMode = "run"
	// TestsFixture runs none: the packages are test-bed stand-ins that hold
	// no real programs, so every test is reported "not run: fixture", never
	// as passed.
	TestsFixture TestsMode = "fixture"
)

type buildArg struct {
	name, value, description string
}

var buildArgs = []buildArg{
	{ArgRegistry, "", "Registry that replaces the lock's registry for short names (a mirror or an air-gapped copy); digests stay as they are"},
	{ArgLock, "", "Lock file to use instead of the spec's lock, relative to the spec file"},
	{ArgAllowUnpinned, "0", "Set to 1 to allow references without a digest, with a warning; they are pinned to what the registry serves now"},
	{ArgEpoch, "0", "Unix time for the image's created time, history and generated files"},
	{ArgVersion, "", "Value of the org.opencontainers.image.version label"},
	{ArgCheck, string(CheckOff), "off, warn or strict: check the composed image (ELF closure, layers, hygiene) and run the spec's smoke tests inside BuildKit, attach the report as an attestation; strict fails the build on any unaccepted finding"},
	{ArgTests, string(TestsRun), "run, or fixture to report every smoke test as not run (for builds on stand-in packages that hold no real programs)"},
	{ArgVCSLabels, "0", "Set to 1 to write the org.opencontainers.image.source and .revision labels from the git facts buildx passes (the URL without credentials; a local path is refused); by default they are only in the provenance, so the clone does not change the image"},
	{ArgVerifySignatures, "0", "Set to 1 to require, before composing, a quorum of StageX maintainer signatures on every package digest (keyring: build context " + ContextKeyring + "; signatures: " + ArgLookaside + " or build context " + ContextSignatures + ")"},
	{ArgLookaside, "", "https:// base URL of the StageX signature lookaside, for " + ArgVerifySignatures},
	{ArgSignedIdentity, "", "Repository prefix the signatures name (default: the lock's registry), for " + ArgVerifySignatures},
	{ArgQuorum, "2", "Distinct keyring keys that must have signed each digest, for " + ArgVerifySignatures},
}

// Options are the parsed build arguments and frontend options.
type Options struct {
	Registry      string
	Lock          string
	AllowUnpinned bool
	Epoch         time.Time
	Version       string
	Check         CheckMode
	Tests         TestsMode
	// Revision and Source are the labels' values: set only when
	// STAGEX_VCS_LABELS=1 asks for them, from the vcs:revision and
	// vcs:source options buildx sets (BuildKit records those in the
	// provenance either way).
	Revision string
	Source   string

	VerifySignatures bool
	Lookaside        string // http(s) URL, or "" for the named context
	SignedIdentity   string
	Quorum           int
}

// parseOptions reads the options from the build arguments (without their
// "build-arg:" prefix) and the raw frontend options.
func parseOptions(args, opts map[string]string) (Options, error) {
	o := Options{
		Registry: args[ArgRegistry],
		Lock:     args[ArgLock],
		Version:  args[ArgVersion],
		Epoch:    time.Unix(0, 0).UTC(),
		Check:    CheckOff,
		Tests:    TestsRun,
	}
	if v := args[ArgAllowUnpinned]; v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return o, fmt.Errorf("build arg %s=%q: want 1 or 0", ArgAllowUnpinned, v)
		}
		o.AllowUnpinned = b
	}
	if err := parseSignatureOptions(args, &o); err != nil {
		return o, err
	}
	if v := args[ArgEpoch]; v != "" {
		sec, err := strconv.ParseInt(v, 10, 64)
		if err != nil || sec < 0 {
			return o, fmt.Errorf("build arg %s=%q: want a non-negative Unix time in seconds", ArgEpoch, v)
		}
		o.Epoch = time.Unix(sec, 0).UTC()
	}
	switch v := CheckMode(args[ArgCheck]); v {
	case "":
	case CheckOff, CheckWarn, CheckStrict:
		o.Check = v
	default:
		return o, fmt.Errorf("build arg %s=%q: want off, warn or strict", ArgCheck, v)
	}
	switch v := TestsMode(args[ArgTests]); v {
	case "":
	case TestsRun, TestsFixture:
		o.Tests = v
	default:
		return o, fmt.Errorf("build arg %s=%q: want run or fixture", ArgTests, v)
	}
	if v := args[ArgVCSLabels]; v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return o, fmt.Errorf("build arg %s=%q: want 1 or 0", ArgVCSLabels, v)
		}
		if b {
			if o.Revision, o.Source, err = vcsLabels(opts["vcs:revision"], opts["vcs:source"]); err != nil {
				return o, err
			}
		}
	}
	return o, nil
}

// vcsLabels checks the VCS facts for the labels a user asked for: both
// must be there (buildx passes them for a git checkout, buildctl does not),
// and the source must be a remote URL, which it returns without
// credentials, query or fragment. A local path would name the builder's
// disk and differ per clone, so it is refused rather than written.
func vcsLabels(revision, source string) (string, string, error) {
	const hint = "build with buildx from a git checkout whose origin is a remote URL, or pass --opt vcs:source=<url> --opt vcs:revision=<commit>, or drop " + ArgVCSLabels
	if revision == "" || source == "" {
		return "", "", fmt.Errorf("build arg %s=1, but the client passed no VCS source and revision (vcs:source set: %t, vcs:revision set: %t); %s", ArgVCSLabels, source != "", revision != "", hint)
	}
	u, err := vcsSourceURL(source)
	if err != nil {
		return "", "", fmt.Errorf("build arg %s=1: %v; %s", ArgVCSLabels, err, hint)
	}
	return revision, u, nil
}

// scpLike is git's short ssh form, [user@]host:path.
var scpLike = regexp.MustCompile(`^(?:[^@/:]+@)?([A-Za-z0-9.-]+):([^/].*|/.+)$`)

// vcsSourceURL returns a git remote as a URL fit for a label: userinfo
// (credentials), query and fragment removed; git's scp-like form becomes
// ssh://host/path. A local path or a file: URL is an error.
func vcsSourceURL(remote string) (string, error) {
	if !strings.Contains(remote, "://") {
		if m := scpLike.FindStringSubmatch(remote); m != nil {
			return "ssh://" + m[1] + "/" + strings.TrimPrefix(m[2], "/"), nil
		}
		return "", fmt.Errorf("the VCS source %q is a local path, not a URL", remote)
	}
	u, err := url.Parse(remote)
	if err != nil {
		return "", fmt.Errorf("the VCS source is not a URL: %v", err)
	}
	switch u.Scheme {
	case "https", "http", "ssh", "git", "git+ssh":
	default:
		return "", fmt.Errorf("the VCS source %s is a %s: URL, not a remote (https, http, ssh or git)", (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String(), u.Scheme)
	}
	if u.Host == "" {
		return "", fmt.Errorf("the VCS source %s:// URL has no host", u.Scheme)
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String(), nil
}

func outlineArgs() []outline.Arg {
	out := make([]outline.Arg, 0, len(buildArgs))
	for _, a := range buildArgs {
		out = append(out, outline.Arg{Name: a.name, Value: a.value, Description: a.description})
	}
	return out
}

// parseSignatureOptions reads the build-time signature check's options.
// They are checked even when the check is off, so that a typo is not
// silently ignored once it is turned on.
func parseSignatureOptions(args map[string]string, o *Options) error {
	o.Lookaside, o.SignedIdentity, o.Quorum = args[ArgLookaside], args[ArgSignedIdentity], lock.DefaultQuorum
	if v := args[ArgVerifySignatures]; v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("build arg %s=%q: want 1 or 0", ArgVerifySignatures, v)
		}
		o.VerifySignatures = b
	}
	if v := o.Lookaside; v != "" && !strings.HasPrefix(v, "https://") && !strings.HasPrefix(v, "http://") {
		return fmt.Errorf("build arg %s=%q: want an http(s):// URL; for a local copy pass it as build context %s", ArgLookaside, v, ContextSignatures)
	}
	if v := args[ArgQuorum]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("build arg %s=%q: want a whole number of keys, at least 1", ArgQuorum, v)
		}
		o.Quorum = n
	}
	return nil
}
