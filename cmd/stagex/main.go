// Command stagex is the project's tool beside the frontend: it signs image
// digests and their BuildKit provenance, verifies N-of-M signatures on them,
// writes the Kyverno policy that enforces the same rule at admission, locks
// StageX packages, checks and rebuilds images, runs the CI pipeline's steps,
// and builds the image set on a test bed. Each subcommand is flags and
// wiring; the logic lives in the packages it names.
//
//	stagex sign   --key cosign.key IMAGE@DIGEST
//	stagex attest --key cosign.key IMAGE@DIGEST
//	stagex verify --threshold N --key k1.pub --identity SUBJECT@ISSUER --trusted-root … IMAGE
//	stagex policy [--kind ImageValidatingPolicy] --threshold N --key k1.pub … --image-pattern PATTERN [-o FILE]
//	stagex check  [--format table|json] [--spec SPEC] IMAGE
//	stagex rebuild --source DIR --addr BUILDKIT IMAGE
//	stagex images [TARGET…]
//	stagex demo
//	stagex reproduce
//	stagex lock [verify|update|copy|release-list] …
//	stagex pipeline build|check|sign|attest|verify|scan|tag|digests …
//	stagex bed up|down|env|status|fixtures NAME
//
// Signatures are cosign's (Sigstore bundles by default, or the legacy
// tags; see package signing), so cosign and Kyverno read them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/admission"
	"edp.buildth.ing/devfw-cicd/stagex/signing"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore-go/pkg/root"
)

const usage = `usage:
  stagex sign   --key KEY [--format bundle|legacy] IMAGE@sha256:DIGEST
  stagex attest --key KEY [--format bundle|legacy] IMAGE@sha256:DIGEST
  stagex verify --threshold N [--key PUB]… [--identity SUBJECT@ISSUER]… [--identity-regexp RE@RE]…
                [--trusted-root trusted_root.json] [--insecure-ignore-tlog] IMAGE
  stagex policy [--kind ClusterPolicy|ImageValidatingPolicy] [--format bundle|legacy] --threshold N
                [--key PUB]… [--identity …]… [--trusted-root …] --image-pattern PATTERN… [--name NAME] [-o FILE]
  stagex check  [--format table|json] [--spec SPEC] [--no-shell] [--platform P] IMAGE
  stagex rebuild --source DIR --addr BUILDKIT [--frontend IMAGE] [--lock FILE] IMAGE
  stagex lock [verify|update] … (see stagex lock help)
  stagex images [--bed NAME] [--digests FILE] [--push] [TARGET…]
  stagex demo [--bed NAME] [--keep] [--show IMAGE]
  stagex reproduce [--beds NAME1,NAME2]
  stagex pipeline STEP … (see stagex pipeline help)
  stagex bed  up|down|env|status|fixtures NAME (see stagex bed help)

sign    adds a cosign-compatible signature over the digest (KEY: PEM PKCS#8, EC or
        PKCS#1 RSA, or a cosign key with its password in COSIGN_PASSWORD); by default
        a Sigstore bundle attached as a referrer, as cosign v3 writes
attest  signs the SLSA provenance BuildKit attached to the image index as an
        in-toto attestation (DSSE), in the same formats
verify  passes when at least N distinct signers (keys, certificate identities)
        signed exactly the image's digest, in either format (a tag is resolved
        to the digest it points to now)
policy  writes the Kyverno ClusterPolicy (or ImageValidatingPolicy) that requires
        the same N of the signers
check   checks that an image can run: ELF closure, layer efficiency, hygiene
        (IMAGE: a registry reference, oci:DIR[:REF], oci-archive:FILE[:REF] or
        docker-archive:FILE; see stagex check -h)
rebuild rebuilds IMAGE from its provenance and DIR's spec and lock at the recorded
        revision, and compares the digests (what a signer runs before signing)
lock    writes, verifies or updates the StageX lock (stagex lock help)
images  builds the image set of docker-bake.hcl and prints its digests (make images)
demo    builds the image set offline against fixture packages on a test bed and
        prints a summary; the full log goes to .cache/imageset/demo/demo.log (make demo)
reproduce builds the image set twice, as differently as allowed, and compares the
        digests (make verify-reproducible)
pipeline runs one step of the release pipeline: build by digest, check, sign,
        attest, verify, scan, tag, digests (stagex pipeline help; docs/ci.md)
bed     starts, stops, describes and fills a local BuildKit test bed (stagex bed help)

sign, attest and verify take --timeout (default 10m).
`

// exitError carries an exit code; the message has been printed already
// when msg is empty.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err == nil {
		return
	}
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	if err.Error() != "" {
		fmt.Fprintf(os.Stderr, "stagex: %v\n", err)
	}
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return &exitError{code: 2}
	}
	switch args[0] {
	case "sign":
		return runSign(ctx, args[1:], stdout, stderr)
	case "verify":
		return runVerify(ctx, args[1:], stdout, stderr)
	case "attest":
		return runAttest(ctx, args[1:], stdout, stderr)
	case "policy":
		return runPolicy(args[1:], stdout, stderr)
	case "check":
		return runCheck(ctx, args[1:], stdout, stderr)
	case "rebuild":
		return runRebuild(ctx, args[1:], stdout, stderr)
	case "lock":
		return runLock(ctx, args[1:], stdout, stderr)
	case "images":
		return runImages(ctx, args[1:], stdout, stderr)
	case "demo":
		return runDemo(ctx, args[1:], stdout, stderr)
	case "reproduce":
		return runReproduce(ctx, args[1:], stdout, stderr)
	case "pipeline":
		return runPipeline(ctx, args[1:], stdout, stderr)
	case "bed":
		return runBed(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return &exitError{code: 2, msg: fmt.Sprintf("unknown command %q", args[0])}
}

// listFlag collects a repeated flag in order.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("stagex "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses flags; flags may also follow the positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, &exitError{code: 2, msg: err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// defaultTimeout bounds a whole sign or verify run; package signing bounds
// each registry request and each answer's size on top of it.
const defaultTimeout = 10 * time.Minute

// timeoutFlag adds --timeout to fs.
func timeoutFlag(fs *flag.FlagSet) *time.Duration {
	return fs.Duration("timeout", defaultTimeout, "give up after this long (all registry requests together)")
}

// withTimeout bounds ctx by d, with an error that names the flag.
func withTimeout(ctx context.Context, cmd string, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, d, fmt.Errorf("stagex %s: gave up after %s (--timeout)", cmd, d))
}

// timedOut replaces a deadline error with its cause.
func timedOut(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("%w: %v", context.Cause(ctx), err)
	}
	return err
}

// remoteOptions are the registry options of every subcommand: the
// context, the keychain, and package signing's transport, which bounds
// each request in time and each answer in size.
func remoteOptions(ctx context.Context) []remote.Option {
	return []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain),
		remote.WithTransport(signing.NewTransport())}
}

// signArgs are what sign and attest share: the key, the format, the
// digest.
type signArgs struct {
	keyPath string
	key     *signing.PrivateKey
	format  signing.Format
	digest  name.Digest
	timeout time.Duration
}

func parseSignArgs(cmd string, args []string, stderr io.Writer) (*signArgs, error) {
	fs := newFlagSet(cmd, stderr)
	keyPath := fs.String("key", "", "private key: PEM (PKCS#8 or EC) or a cosign key (password in COSIGN_PASSWORD)")
	formatName := fs.String("format", string(signing.FormatBundle), "bundle (a Sigstore bundle attached as a referrer, what cosign v3 writes) or legacy (the .sig/.att tag)")
	timeout := timeoutFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return nil, err
	}
	format, err := signing.ParseFormat(*formatName)
	if err != nil {
		return nil, &exitError{code: 2, msg: err.Error()}
	}
	if *keyPath == "" || len(pos) != 1 {
		return nil, &exitError{code: 2, msg: cmd + " needs --key and exactly one IMAGE@sha256:DIGEST"}
	}
	d, err := name.NewDigest(pos[0])
	if err != nil {
		return nil, fmt.Errorf("%s: %s takes a digest reference (IMAGE@sha256:…), never a tag: %w", pos[0], cmd, err)
	}
	keys, err := loadPrivateKeys([]string{*keyPath})
	if err != nil {
		return nil, err
	}
	return &signArgs{keyPath: *keyPath, key: keys[0].Key, format: format, digest: d, timeout: *timeout}, nil
}

func runSign(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a, err := parseSignArgs("sign", args, stderr)
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(ctx, "sign", a.timeout)
	defer cancel()
	res, err := signing.Sign(ctx, a.digest, a.key, a.format, remoteOptions(ctx)...)
	if err != nil {
		return timedOut(ctx, err)
	}
	printSignResult(stdout, a.digest, a.keyPath, a.key, res)
	return nil
}

// runAttest signs the SLSA provenance BuildKit attached to the index, one
// attestation per platform image.
func runAttest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a, err := parseSignArgs("attest", args, stderr)
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(ctx, "attest", a.timeout)
	defer cancel()
	provs, err := signing.Provenance(ctx, a.digest, remoteOptions(ctx)...)
	if err != nil {
		return timedOut(ctx, err)
	}
	for _, p := range provs {
		st, err := signing.AttestStatement(a.digest, p)
		if err != nil {
			return err
		}
		res, err := signing.Attest(ctx, a.digest, a.key, a.format, signing.ProvenanceType, st, remoteOptions(ctx)...)
		if err != nil {
			return timedOut(ctx, err)
		}
		fmt.Fprintf(stdout, "provenance of %s (%s):\n", p.Image, p.Platform)
		printSignResult(stdout, a.digest, a.keyPath, a.key, res)
	}
	return nil
}

// printSignResult says what sign (or attest) wrote.
func printSignResult(w io.Writer, d name.Digest, keyPath string, key *signing.PrivateKey, res *signing.SignResult) {
	if res.AlreadySigned {
		fmt.Fprintf(w, "%s: already signed by %s (%s) in the %s format; nothing written\n", d, keyPath, key.Fingerprint, res.Format)
		return
	}
	fmt.Fprintf(w, "%s: signed by %s (%s)\n", d, keyPath, key.Fingerprint)
	fmt.Fprintf(w, "%s: %s@%s (%d in all)\n", res.Format, res.Where, res.Manifest, res.Signatures)
}

func loadKeys(paths []string) ([]*signing.PublicKey, error) {
	keys := make([]*signing.PublicKey, 0, len(paths))
	for _, p := range paths {
		k, err := signing.LoadPublicKey(p)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("verify", stderr)
	threshold := fs.Int("threshold", 0, "N: how many distinct keys must have signed")
	var keyPaths listFlag
	fs.Var(&keyPaths, "key", "trusted public key (PEM); repeat for each of the M keys")
	ids := identityFlags(fs)
	timeout := timeoutFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || len(keyPaths)+ids.count() == 0 || *threshold == 0 {
		return &exitError{code: 2, msg: "verify needs --threshold N, at least one --key or --identity, and exactly one IMAGE"}
	}
	policy, err := verifyPolicy(*threshold, keyPaths, ids)
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(ctx, "verify", *timeout)
	defer cancel()
	r, err := signing.Verify(ctx, pos[0], policy, remoteOptions(ctx)...)
	if r != nil {
		printReport(stdout, r)
	}
	if err != nil {
		return fmt.Errorf("verification failed: %w", timedOut(ctx, err))
	}
	return nil
}

func printReport(w io.Writer, r *signing.Report) {
	if r.Tag != "" {
		fmt.Fprintf(w, "image: %s resolves to %s (checking that digest)\n", r.Tag, r.Digest.DigestStr())
	} else {
		fmt.Fprintf(w, "image: %s\n", r.Digest)
	}
	fmt.Fprintf(w, "signatures: %d in %s, %d Sigstore bundles among its referrers\n", r.Signatures, r.SignatureTag, r.Bundles)
	for _, s := range r.Matched {
		fmt.Fprintf(w, "  match     %s (%s)\n", s.Name(), s.Detail())
	}
	for _, s := range r.Unmatched {
		fmt.Fprintf(w, "  no match  %s (%s)\n", s.Name(), s.Detail())
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  ignored   %s\n", p)
	}
	if r.Passed() {
		fmt.Fprintf(w, "verified: %d of %d signers signed %s (threshold %d)\n",
			len(r.Matched), len(r.Matched)+len(r.Unmatched), r.Digest.DigestStr(), r.Threshold)
	}
}

// verifyPolicy is the N-of-M policy of verify's flags, checked.
func verifyPolicy(threshold int, keyPaths []string, ids *identityOptions) (signing.Policy, error) {
	keys, err := loadKeys(keyPaths)
	if err != nil {
		return signing.Policy{}, err
	}
	policy := signing.Policy{Threshold: threshold, Keys: keys}
	if err := ids.load(&policy); err != nil {
		return signing.Policy{}, err
	}
	return policy, policy.Check()
}

// identityOptions are the keyless signers of verify and policy.
type identityOptions struct {
	exact, regexps listFlag
	trustedRoot    *string
	ignoreTlog     *bool
}

func identityFlags(fs *flag.FlagSet) *identityOptions {
	o := &identityOptions{}
	fs.Var(&o.exact, "identity", "keyless signer SUBJECT@ISSUER (certificate SAN and OIDC issuer); repeat for each")
	fs.Var(&o.regexps, "identity-regexp", "keyless signer SUBJECT_REGEXP@ISSUER_REGEXP, each matched whole; repeat for each")
	o.trustedRoot = fs.String("trusted-root", "", "Sigstore trusted_root.json the identities' certificates chain to (required with --identity)")
	o.ignoreTlog = fs.Bool("insecure-ignore-tlog", false, "do not require transparency-log entries for identity signatures (offline only: certificates are then checked at the current time)")
	return o
}

func (o *identityOptions) count() int { return len(o.exact) + len(o.regexps) }

// load parses the identities and the trusted root into p.
func (o *identityOptions) load(p *signing.Policy) error {
	for _, l := range []struct {
		vals   []string
		regexp bool
	}{{o.exact, false}, {o.regexps, true}} {
		for _, v := range l.vals {
			id, err := signing.ParseIdentity(v, l.regexp)
			if err != nil {
				return err
			}
			p.Identities = append(p.Identities, id)
		}
	}
	if *o.trustedRoot != "" {
		if o.count() == 0 {
			return &exitError{code: 2, msg: "--trusted-root is for --identity signers; none given"}
		}
		tr, err := signing.LoadTrustedRoot(*o.trustedRoot)
		if err != nil {
			return err
		}
		p.TrustedRoot = tr
	}
	p.IgnoreTlog = *o.ignoreTlog
	return nil
}

// Policy kinds `stagex policy --kind` writes.
const (
	kindClusterPolicy = "ClusterPolicy"
	kindIVPolicy      = "ImageValidatingPolicy"
)

func runPolicy(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("policy", stderr)
	threshold := fs.Int("threshold", 0, "N: how many distinct signers must have signed")
	policyName := fs.String("name", admission.DefaultName, "the policy's name")
	kind := fs.String("kind", kindClusterPolicy, "ClusterPolicy (verifyImages) or ImageValidatingPolicy (Kyverno >= 1.15)")
	formatName := fs.String("format", string(signing.FormatBundle), "the signature format the policy counts: bundle (default) or legacy")
	out := fs.String("o", "", "write the policy to this file (default: stdout)")
	var keyPaths, patterns listFlag
	fs.Var(&keyPaths, "key", "trusted public key (PEM); repeat for each key signer")
	fs.Var(&patterns, "image-pattern", "image reference pattern the policy applies to; repeatable")
	ids := identityFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || len(keyPaths)+ids.count() == 0 || *threshold == 0 || len(patterns) == 0 {
		return &exitError{code: 2, msg: "policy needs --threshold N, at least one --key or --identity and one --image-pattern, and no arguments"}
	}
	format, err := signing.ParseFormat(*formatName)
	if err != nil {
		return &exitError{code: 2, msg: err.Error()}
	}
	write := admission.ClusterPolicy
	switch *kind {
	case kindClusterPolicy:
	case kindIVPolicy:
		write = admission.ImageValidatingPolicy
	default:
		return &exitError{code: 2, msg: fmt.Sprintf("--kind %q: want %s or %s", *kind, kindClusterPolicy, kindIVPolicy)}
	}
	// Each file is read and parsed once, by the same function verify uses:
	// the policy embeds the parsed keys, re-encoded, never the files.
	keys, err := loadKeys(keyPaths)
	if err != nil {
		return err
	}
	var sp signing.Policy
	if err := ids.load(&sp); err != nil {
		return err
	}
	opts := admission.Options{
		Name:          *policyName,
		Threshold:     *threshold,
		Keys:          keys,
		Identities:    sp.Identities,
		IgnoreTlog:    sp.IgnoreTlog,
		Format:        format,
		ImagePatterns: patterns,
		Command: policyCommand(policyArgs{kind: *kind, name: *policyName, format: *formatName, threshold: *threshold,
			patterns: patterns, keys: keyPaths, ids: ids, out: *out}),
	}
	if tr, ok := sp.TrustedRoot.(*root.TrustedRoot); ok {
		opts.TrustedRoot = tr
	}
	y, err := write(opts)
	if err != nil {
		return err
	}
	if *out == "" {
		_, err = stdout.Write(y)
		return err
	}
	return os.WriteFile(*out, y, 0o644)
}

// policyCommand is the canonical command line that regenerates a policy,
// for its header: flags in a fixed order, defaults left out.
func policyCommand(c policyArgs) string {
	args := []string{"stagex", "policy"}
	if c.kind != kindClusterPolicy {
		args = append(args, "--kind", c.kind)
	}
	if c.name != admission.DefaultName {
		args = append(args, "--name", c.name)
	}
	if c.format != string(signing.FormatBundle) {
		args = append(args, "--format", c.format)
	}
	args = append(args, "--threshold", fmt.Sprint(c.threshold))
	for _, p := range c.patterns {
		args = append(args, "--image-pattern", p)
	}
	for _, k := range c.keys {
		args = append(args, "--key", k)
	}
	for _, id := range c.ids.exact {
		args = append(args, "--identity", id)
	}
	for _, id := range c.ids.regexps {
		args = append(args, "--identity-regexp", id)
	}
	if c.ids.trustedRoot != nil && *c.ids.trustedRoot != "" {
		args = append(args, "--trusted-root", *c.ids.trustedRoot)
	}
	if c.ids.ignoreTlog != nil && *c.ids.ignoreTlog {
		args = append(args, "--insecure-ignore-tlog")
	}
	if c.out != "" {
		args = append(args, "-o", c.out)
	}
	for i, a := range args {
		args[i] = shellQuote(a)
	}
	return strings.Join(args, " ")
}

// policyArgs are the flags of `stagex policy`, for its header.
type policyArgs struct {
	kind, name, format string
	threshold          int
	patterns, keys     []string
	ids                *identityOptions
	out                string
}

// shellQuote quotes a word for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
