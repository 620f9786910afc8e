// Command stagex signs image digests, verifies N-of-M signatures on them
// and writes the Kyverno policy that enforces the same rule at admission.
//
//	stagex sign   --key cosign.key IMAGE@DIGEST
//	stagex verify --threshold N --key k1.pub --key k2.pub … IMAGE
//	stagex policy --threshold N --key k1.pub … --image-pattern PATTERN [-o FILE]
//
// Signatures are cosign's key-based format (see package signing), so
// `cosign verify --key` and Kyverno read them.
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

	"edp.buildth.ing/devfw-cicd/stagex/admission"
	"edp.buildth.ing/devfw-cicd/stagex/signing"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

const usage = `usage:
  stagex sign   --key KEY IMAGE@sha256:DIGEST
  stagex verify --threshold N --key PUB [--key PUB]… IMAGE
  stagex policy --threshold N --key PUB [--key PUB]… --image-pattern PATTERN… [--name NAME] [-o FILE]
  stagex lock [verify|update] … (see stagex lock help)

sign    adds a cosign-compatible signature over the digest (KEY: PEM PKCS#8, EC or
        PKCS#1 RSA, or a cosign key with its password in COSIGN_PASSWORD)
verify  passes when at least N distinct keys signed exactly the image's digest
        (a tag is resolved to the digest it points to now)
policy  writes the Kyverno ClusterPolicy that requires the same N of the keys
lock    writes, verifies or updates the StageX lock (stagex lock help)
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
	case "policy":
		return runPolicy(args[1:], stdout, stderr)
	case "lock":
		return runLock(ctx, args[1:], stdout, stderr)
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

func remoteOptions(ctx context.Context) []remote.Option {
	return []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}
}

func runSign(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sign", stderr)
	keyPath := fs.String("key", "", "private key: PEM (PKCS#8 or EC) or a cosign key (password in COSIGN_PASSWORD)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *keyPath == "" || len(pos) != 1 {
		return &exitError{code: 2, msg: "sign needs --key and exactly one IMAGE@sha256:DIGEST"}
	}
	d, err := name.NewDigest(pos[0])
	if err != nil {
		return fmt.Errorf("%s: sign takes a digest reference (IMAGE@sha256:…), never a tag: %w", pos[0], err)
	}
	pemBytes, err := os.ReadFile(*keyPath)
	if err != nil {
		return err
	}
	key, err := signing.LoadPrivateKey(pemBytes, signing.EnvPassword)
	if err != nil {
		return fmt.Errorf("%s: %w", *keyPath, err)
	}
	res, err := signing.Sign(ctx, d, key, remoteOptions(ctx)...)
	if err != nil {
		return err
	}
	if res.AlreadySigned {
		fmt.Fprintf(stdout, "%s: already signed by %s (%s); nothing written\n", d, *keyPath, key.Fingerprint)
		return nil
	}
	fmt.Fprintf(stdout, "%s: signed by %s (%s)\n", d, *keyPath, key.Fingerprint)
	fmt.Fprintf(stdout, "signatures: %s@%s (%d in all)\n", res.Tag, res.Manifest, res.Signatures)
	return nil
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
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || len(keyPaths) == 0 || *threshold == 0 {
		return &exitError{code: 2, msg: "verify needs --threshold N, at least one --key and exactly one IMAGE"}
	}
	keys, err := loadKeys(keyPaths)
	if err != nil {
		return err
	}
	policy := signing.Policy{Threshold: *threshold, Keys: keys}
	if err := policy.Check(); err != nil {
		return err
	}
	r, err := signing.Verify(ctx, pos[0], policy, remoteOptions(ctx)...)
	if r != nil {
		printReport(stdout, r)
	}
	if err != nil {
		return fmt.Errorf("verification failed: %w", err)
	}
	return nil
}

func printReport(w io.Writer, r *signing.Report) {
	if r.Tag != "" {
		fmt.Fprintf(w, "image: %s resolves to %s (checking that digest)\n", r.Tag, r.Digest.DigestStr())
	} else {
		fmt.Fprintf(w, "image: %s\n", r.Digest)
	}
	fmt.Fprintf(w, "signatures: %d in %s\n", r.Signatures, r.SignatureTag)
	for _, k := range r.Matched {
		fmt.Fprintf(w, "  match     %s (%s)\n", k.Name, k.Fingerprint)
	}
	for _, k := range r.Unmatched {
		fmt.Fprintf(w, "  no match  %s (%s)\n", k.Name, k.Fingerprint)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  ignored   %s\n", p)
	}
	if r.Passed() {
		fmt.Fprintf(w, "verified: %d of %d keys signed %s (threshold %d)\n",
			len(r.Matched), len(r.Matched)+len(r.Unmatched), r.Digest.DigestStr(), r.Threshold)
	}
}

func runPolicy(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("policy", stderr)
	threshold := fs.Int("threshold", 0, "N: how many distinct keys must have signed")
	policyName := fs.String("name", admission.DefaultName, "the ClusterPolicy's name")
	out := fs.String("o", "", "write the policy to this file (default: stdout)")
	var keyPaths, patterns listFlag
	fs.Var(&keyPaths, "key", "trusted public key (PEM); repeat for each of the M keys")
	fs.Var(&patterns, "image-pattern", "image reference pattern the policy applies to; repeatable")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || len(keyPaths) == 0 || *threshold == 0 || len(patterns) == 0 {
		return &exitError{code: 2, msg: "policy needs --threshold N, at least one --key and one --image-pattern, and no arguments"}
	}
	// Each file is read and parsed once, by the same function verify uses:
	// the policy embeds the parsed keys, re-encoded, never the files.
	keys, err := loadKeys(keyPaths)
	if err != nil {
		return err
	}
	opts := admission.Options{
		Name:          *policyName,
		Threshold:     *threshold,
		Keys:          keys,
		ImagePatterns: patterns,
		Command:       policyCommand(*policyName, *threshold, patterns, keyPaths, *out),
	}
	y, err := admission.ClusterPolicy(opts)
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
// for its header.
func policyCommand(policyName string, threshold int, patterns, keys []string, out string) string {
	args := []string{"stagex", "policy"}
	if policyName != admission.DefaultName {
		args = append(args, "--name", policyName)
	}
	args = append(args, "--threshold", fmt.Sprint(threshold))
	for _, p := range patterns {
		args = append(args, "--image-pattern", p)
	}
	for _, k := range keys {
		args = append(args, "--key", k)
	}
	if out != "" {
		args = append(args, "-o", out)
	}
	for i, a := range args {
		args[i] = shellQuote(a)
	}
	return strings.Join(args, " ")
}

// shellQuote quotes a word for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
