package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/lock"
	"edp.buildth.ing/devfw-cicd/stagex/signing"
	"edp.buildth.ing/devfw-cicd/stagex/spec"
)

const lockUsage = `usage:
  stagex lock        --release-list FILE --keyring FILE --lookaside URL|DIR [PACKAGE… | --from-specs DIR | --all] -o FILE
  stagex lock verify --keyring FILE --lookaside URL|DIR [--lock FILE]
  stagex lock update --release-list FILE --keyring FILE --lookaside URL|DIR [--lock FILE] [--add PACKAGE]… [-o FILE]
  stagex lock copy   --release-list FILE [PACKAGE… | --from-specs DIR | --all] -o FILE
  stagex lock release-list [--lock FILE] [-o FILE]

lock    resolves <registry>/<package>:<version> of a StageX release for each
        --platform, verifies every digest's maintainer signatures (a quorum of
        distinct keys of the keyring) and writes the lock with the signers
verify  re-checks every digest of an existing lock against the lookaside and
        keyring; each must be signed as its entry's version
update  moves a lock to another release (same packages, new versions) and
        prints what changed
copy    copies the list's digests into a lock without resolving or verifying
        them: the checked-in test-data locks (stagex lock copy -h)
release-list
        writes the release list a lock implies (its release; each package's
        version, license, source and linux/amd64 digest), for update after a
        tool such as Renovate edited the lock's versions and digests

common flags: --keyring (repeatable; files or folders of OpenPGP public keys),
--lookaside (the signatures' https:// base URL, or a local copy), --quorum N
(default 2), --signed-identity PREFIX (the repository the signatures name;
default the lock's registry), --platform (repeatable; default linux/amd64),
--timeout (default 10m).
See docs/lock.md.
`

// lockFlags are the flags every lock subcommand shares.
type lockFlags struct {
	keyrings  listFlag
	lookaside string
	quorum    int
	identity  string
	platforms listFlag
	registry  string
	timeout   time.Duration
}

func (f *lockFlags) register(fs *flag.FlagSet, withPlatform bool) {
	fs.Var(&f.keyrings, "keyring", "OpenPGP public keys whose signatures count (file or folder; repeatable)")
	fs.StringVar(&f.lookaside, "lookaside", "", "signature lookaside: https:// base URL or a local folder with the same layout")
	fs.IntVar(&f.quorum, "quorum", lock.DefaultQuorum, "distinct keys that must have signed each digest")
	fs.DurationVar(&f.timeout, "timeout", defaultTimeout, "give up after this long (all registry and lookaside requests together)")
	fs.StringVar(&f.identity, "signed-identity", "", "repository prefix the signatures name, when the images are pulled from a mirror (default: the registry)")
	if withPlatform {
		fs.Var(&f.platforms, "platform", "platform to lock, e.g. linux/arm64 (repeatable or comma-separated; default "+lock.DefaultPlatform+")")
	}
}

// options builds the lock options; the keyring and lookaside are checked
// before any registry request.
func (f *lockFlags) options(ctx context.Context) (lock.Options, error) {
	keyring, err := lock.LoadKeyring(f.keyrings)
	if err != nil {
		return lock.Options{}, err
	}
	// The lookaside is fetched with the same per-request deadline and size
	// limits as every registry request.
	side, err := lock.OpenLookaside(f.lookaside, &http.Client{Transport: signing.NewTransport()})
	if err != nil {
		return lock.Options{}, err
	}
	var platforms []string
	for _, p := range f.platforms {
		for _, one := range strings.Split(p, ",") {
			if one = strings.TrimSpace(one); one != "" {
				platforms = append(platforms, one)
			}
		}
	}
	o := lock.Options{
		Registry:  f.registry,
		Identity:  f.identity,
		Platforms: platforms,
		Policy:    lock.Policy{Keyring: keyring, Lookaside: side, Quorum: f.quorum},
		Remote:    remoteOptions(ctx),
	}
	if f.quorum < 1 {
		return o, &exitError{code: 2, msg: fmt.Sprintf("--quorum %d: want at least 1", f.quorum)}
	}
	return o, o.Policy.Check()
}

func runLock(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "verify":
			return runLockVerify(ctx, args[1:], stdout, stderr)
		case "update":
			return runLockUpdate(ctx, args[1:], stdout, stderr)
		case "copy":
			return runLockCopy(ctx, args[1:], stdout, stderr)
		case "release-list":
			return runLockReleaseList(args[1:], stdout, stderr)
		case "help", "-h", "--help":
			fmt.Fprint(stdout, lockUsage)
			return nil
		}
	}
	fs := newFlagSet("lock", stderr)
	var f lockFlags
	f.register(fs, true)
	fs.StringVar(&f.registry, "registry", "docker.io/stagex", "repository prefix the packages are pulled from")
	var sel packageSelection
	sel.register(fs, "the release's packages: TSV with the columns image, version, license, source_package, digest (digest may be empty)")
	products := fs.String("products", "", "products file whose CPEs and purls go into the lock (default: "+spec.DefaultProductsFile+" beside -o, if there is one)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	list, rel, names, err := sel.packages("lock", lockUsage, pos)
	if err != nil {
		return err
	}
	rows, err := list.Select(rel, names)
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(ctx, "lock", f.timeout)
	defer cancel()
	o, err := f.options(ctx)
	if err != nil {
		return err
	}
	l, res, err := lock.Build(ctx, o, rel, rows)
	if err != nil {
		return fmt.Errorf("lock failed, nothing written:\n%w", timedOut(ctx, err))
	}
	if err := applyProducts(stderr, *products, sel.out, l); err != nil {
		return fmt.Errorf("lock failed, nothing written:\n%w", err)
	}
	report(stdout, stderr, res)
	return writeLock(stdout, sel.out, l)
}

func runLockVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("lock verify", stderr)
	var f lockFlags
	f.register(fs, false)
	file := fs.String("lock", spec.DefaultLockFile, "the lock to check")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return &exitError{code: 2, msg: "lock verify takes no arguments\n" + lockUsage}
	}
	l, err := readLock(*file)
	if err != nil {
		return err
	}
	f.registry = l.Registry
	ctx, cancel := withTimeout(ctx, "lock", f.timeout)
	defer cancel()
	o, err := f.options(ctx)
	if err != nil {
		return err
	}
	res, err := lock.Verify(ctx, o, l)
	if err != nil {
		return fmt.Errorf("%s does not verify:\n%w", *file, timedOut(ctx, err))
	}
	report(stdout, stderr, res)
	fmt.Fprintf(stdout, "verified: %s, %d digests, each signed as its entry's version by at least %d distinct keys of the keyring\n", *file, len(res.Checked), f.quorum)
	return nil
}

func runLockUpdate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("lock update", stderr)
	var f lockFlags
	f.register(fs, true)
	file := fs.String("lock", spec.DefaultLockFile, "the lock to move")
	listFile := fs.String("release-list", "", "the new release's packages (TSV, as for stagex lock)")
	release := fs.String("release", "", "the new StageX release (default: named in the list's leading comment)")
	out := fs.String("o", "", "where to write the new lock, - for stdout (default: replace --lock)")
	products := fs.String("products", "", "products file whose CPEs and purls go into the lock (default: "+spec.DefaultProductsFile+" beside the lock written, if there is one)")
	var add listFlag
	fs.Var(&add, "add", "a package to lock besides the old lock's (repeatable)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || *listFile == "" {
		return &exitError{code: 2, msg: "lock update needs --release-list and no arguments\n" + lockUsage}
	}
	if *out == "" {
		*out = *file
	}
	old, err := readLock(*file)
	if err != nil {
		return err
	}
	list, rel, err := readReleaseList(*listFile, *release)
	if err != nil {
		return err
	}
	f.registry = old.Registry
	ctx, cancel := withTimeout(ctx, "lock", f.timeout)
	defer cancel()
	o, err := f.options(ctx)
	if err != nil {
		return err
	}
	l, res, err := lock.Update(ctx, o, old, rel, list, add)
	if err == nil {
		err = applyProducts(stderr, *products, *out, l)
	}
	if err != nil {
		return fmt.Errorf("update failed, %s left as it was:\n%w", *file, timedOut(ctx, err))
	}
	report(io.Discard, stderr, res)
	diff := lock.Diff(old, l)
	if len(diff) == 0 {
		diff = []string{"no change"}
	}
	w := stdout
	if *out == "-" {
		w = stderr // the lock goes to stdout
	}
	for _, line := range diff {
		fmt.Fprintln(w, line)
	}
	return writeLock(stdout, *out, l)
}

// packageSelection is how stagex lock and lock copy are told the release
// list and the packages to lock: as arguments, --from-specs DIR or --all,
// exactly one of them.
type packageSelection struct {
	listFile, release, fromSpecs, out string
	all                               bool
}

func (p *packageSelection) register(fs *flag.FlagSet, listUsage string) {
	fs.StringVar(&p.listFile, "release-list", "", listUsage)
	fs.StringVar(&p.release, "release", "", "the StageX release (default: named in the list's leading comment)")
	fs.StringVar(&p.fromSpecs, "from-specs", "", "lock the packages the specs (*.yaml) in this folder name, plus "+spec.DefaultBase)
	fs.BoolVar(&p.all, "all", false, "lock every package of the release list")
	fs.StringVar(&p.out, "o", "", "lock file to write, - for stdout")
}

// packages reads the release list and returns it, its release and the
// names of the packages selected (pos: the command's arguments).
func (p *packageSelection) packages(cmd, usage string, pos []string) (*lock.ReleaseList, string, []string, error) {
	selectors := 0
	for _, on := range []bool{len(pos) > 0, p.fromSpecs != "", p.all} {
		if on {
			selectors++
		}
	}
	switch {
	case p.listFile == "" || p.out == "":
		return nil, "", nil, &exitError{code: 2, msg: cmd + " needs --release-list and -o\n" + usage}
	case selectors != 1:
		return nil, "", nil, &exitError{code: 2, msg: cmd + " takes the packages to lock as arguments, or --from-specs DIR, or --all: exactly one of them"}
	}
	list, rel, err := readReleaseList(p.listFile, p.release)
	if err != nil {
		return nil, "", nil, err
	}
	names := pos
	switch {
	case p.all:
		names = list.Names()
	case p.fromSpecs != "":
		if names, err = lock.SpecPackages(p.fromSpecs, p.out); err != nil {
			return nil, "", nil, err
		}
	}
	return list, rel, names, nil
}

// applyProducts writes the CPEs and purls of the products file into the
// lock. Without --products, the products file beside the lock written is
// used when there is one; without any, the lock carries no CPE or purl,
// and a note says so.
func applyProducts(stderr io.Writer, products, out string, l *spec.Lock) error {
	if products == "" {
		dir := "."
		if out != "-" {
			dir = filepath.Dir(out)
		}
		products = filepath.Join(dir, spec.DefaultProductsFile)
		if _, err := os.Stat(products); errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(stderr, "note: no %s: the lock carries no CPE or purl for scanners (--products names one)\n", products)
			return nil
		}
	}
	return lock.ApplyProducts(products, l)
}

// readReleaseList reads a release list and settles which release it is.
func readReleaseList(file, release string) (*lock.ReleaseList, string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	list, err := lock.ParseReleaseList(file, f)
	if err != nil {
		return nil, "", err
	}
	switch {
	case release == "" && list.Release == "":
		return nil, "", fmt.Errorf("%s names no release in its leading comment (\"# StageX release 2026.03.0\"): pass --release", file)
	case release == "":
		release = list.Release
	case list.Release != "" && list.Release != release:
		return nil, "", fmt.Errorf("--release %s, but %s is the list of release %s", release, file, list.Release)
	}
	return list, release, nil
}

// runLockReleaseList writes lock.ListOf the lock, to -o or stdout.
func runLockReleaseList(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("lock release-list", stderr)
	file := fs.String("lock", spec.DefaultLockFile, "the lock to read")
	out := fs.String("o", "-", "where to write the list, - for stdout")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return &exitError{code: 2, msg: "lock release-list takes no arguments\n" + lockUsage}
	}
	l, err := readLock(*file)
	if err != nil {
		return err
	}
	var b strings.Builder
	if err := lock.ListOf(l).Write(&b); err != nil {
		return err
	}
	if *out == "-" {
		_, err = io.WriteString(stdout, b.String())
		return err
	}
	return os.WriteFile(*out, []byte(b.String()), 0o644)
}

func readLock(file string) (*spec.Lock, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%w\nhint: name the lock with --lock FILE", err)
	}
	return spec.ParseLock(file, data)
}

// writeLock writes the lock with its header; "-" is stdout.
func writeLock(stdout io.Writer, out string, l *spec.Lock) error {
	data, err := l.Marshal()
	if err != nil {
		return err
	}
	data = append([]byte(lock.Header(l.Release)), data...)
	if out == "-" {
		_, err = stdout.Write(data)
		return err
	}
	return lock.WriteFile(out, data)
}

// report prints what was verified, and the notes, which go to stderr so
// that a lock written to stdout stays clean.
func report(stdout, stderr io.Writer, res *lock.Result) {
	for _, n := range res.Notes {
		fmt.Fprintf(stderr, "note: %s\n", n)
	}
	for _, c := range res.Checked {
		line := fmt.Sprintf("ok  %s: signed by %s", c.Subject, strings.Join(c.Signers, ", "))
		if len(c.Unknown) > 0 {
			line += fmt.Sprintf(" (%d more by keys outside the keyring)", len(c.Unknown))
		}
		fmt.Fprintln(stdout, line)
	}
}
