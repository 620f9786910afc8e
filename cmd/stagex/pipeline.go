package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/bake"
	"edp.buildth.ing/devfw-cicd/stagex/pipeline"
	"edp.buildth.ing/devfw-cicd/stagex/signing"
)

const pipelineUsage = `usage: stagex pipeline STEP [--dir DIR] [flags]

The release pipeline of the bake file's images, one step at a time; the
steps share DIR/pipeline.json (default DIR .cache/pipeline). A step runs on
an image only when every step before it passed there; tag writes the bake
file's tags only for an image every step passed. See docs/ci.md.

  build   [--buildkit-addr ADDR | --builder NAME] [--buildx CMD] [-f FILE] [--var K=V]… [--set S]… [TARGET…]
          bake, pushing every image by digest only; records digests and tags
  check   run stagex check on every image (with its spec)
  sign    --key KEY… [--keyless --cosign CMD --signing-config F --trusted-root F] [--format F]
  attest  --key KEY… [--format F]: sign each image's BuildKit provenance
  verify  --threshold N --key PUB… [--identity S@I… --trusted-root F]: N of M on every image
  scan    [--scanner grype,trivy] [--fail-severity high] [--vex FILE] [--attest-key KEY…] [--out DIR]
  tag     point the tags at the digests of the images that passed every step
  digests [-o FILE]: write the digests table (also to $GITHUB_STEP_SUMMARY when set)

Every step but build takes --timeout (default 10m).
`

// defaultPipelineDir is where the steps keep their state.
const defaultPipelineDir = ".cache/pipeline"

func runPipeline(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, pipelineUsage)
		if len(args) == 0 {
			return &exitError{code: 2}
		}
		return nil
	}
	step, args := args[0], args[1:]
	fs := newFlagSet("pipeline "+step, stderr)
	dir := fs.String("dir", defaultPipelineDir, "the pipeline folder (its state: pipeline.json)")
	// Every step but the build (which takes as long as the bake does) is
	// bounded, like sign and verify.
	timeout := new(time.Duration)
	if step != "build" {
		timeout = timeoutFlag(fs)
	}
	var run func() error
	switch step {
	case "build":
		run = pipelineBuild(ctx, fs, dir, &args, stderr)
	case "check":
		run = func() error {
			return withState(ctx, *dir, *timeout, "check", func(ctx context.Context, s *pipeline.State) error {
				return pipeline.Check(ctx, s, ".", stdout, remoteOptions(ctx)...)
			})
		}
	case "sign":
		keys, format := pipelineKeys(fs, "key", "signing key (PEM, or a cosign key with COSIGN_PASSWORD); repeat for each")
		keyless := fs.Bool("keyless", false, "also sign keyless with cosign (needs the forge's OIDC token and your own Sigstore)")
		k := pipeline.Keyless{}
		fs.StringVar(&k.Cosign, "cosign", "cosign", "the cosign command for --keyless")
		fs.StringVar(&k.SigningConfig, "signing-config", "", "Sigstore signing_config.json (your Fulcio and Rekor) for --keyless")
		fs.StringVar(&k.TrustedRoot, "trusted-root", "", "Sigstore trusted_root.json of that Fulcio for --keyless")
		run = func() error {
			f, err := signing.ParseFormat(*format)
			if err != nil {
				return &exitError{code: 2, msg: err.Error()}
			}
			if len(*keys) == 0 && !*keyless {
				return &exitError{code: 2, msg: "pipeline sign needs --key (or --keyless)"}
			}
			loaded, err := loadPrivateKeys(*keys)
			if err != nil {
				return err
			}
			return withState(ctx, *dir, *timeout, "sign", func(ctx context.Context, s *pipeline.State) error {
				if len(loaded) > 0 {
					if err := pipeline.Sign(ctx, s, loaded, f, stdout, remoteOptions(ctx)...); err != nil {
						return err
					}
				}
				if *keyless {
					return pipeline.SignKeyless(ctx, s, k, stdout)
				}
				return nil
			})
		}
	case "attest":
		keys, format := pipelineKeys(fs, "key", "attesting key; repeat for each")
		run = func() error {
			f, err := signing.ParseFormat(*format)
			if err != nil {
				return &exitError{code: 2, msg: err.Error()}
			}
			loaded, err := loadPrivateKeys(*keys)
			if err != nil {
				return err
			}
			return withState(ctx, *dir, *timeout, "attest", func(ctx context.Context, s *pipeline.State) error {
				return pipeline.Attest(ctx, s, loaded, f, stdout, remoteOptions(ctx)...)
			})
		}
	case "verify":
		threshold := fs.Int("threshold", 0, "N: how many distinct signers must have signed")
		var keyPaths listFlag
		fs.Var(&keyPaths, "key", "trusted public key (PEM); repeat for each")
		ids := identityFlags(fs)
		run = func() error {
			if len(keyPaths)+ids.count() == 0 || *threshold == 0 {
				return &exitError{code: 2, msg: "pipeline verify needs --threshold N and at least one --key or --identity"}
			}
			policy, err := verifyPolicy(*threshold, keyPaths, ids)
			if err != nil {
				return err
			}
			return withState(ctx, *dir, *timeout, "verify", func(ctx context.Context, s *pipeline.State) error {
				return pipeline.Verify(ctx, s, policy, stdout, remoteOptions(ctx)...)
			})
		}
	case "scan":
		var scanners listFlag
		fs.Var(&scanners, "scanner", "grype or trivy (repeatable or comma-separated; default both)")
		o := pipeline.ScanOptions{Log: stdout}
		fs.StringVar(&o.FailSeverity, "fail-severity", "high", "a finding at or above this fails: low, medium, high or critical")
		fs.StringVar(&o.VEX, "vex", "policy/vex.openvex.json", "OpenVEX document of the accepted findings")
		out := fs.String("out", "", "folder for the reports (default DIR/scan)")
		keys, format := pipelineKeys(fs, "attest-key", "key that signs the results as a vuln attestation; repeatable")
		run = func() error {
			for _, s := range scanners {
				for _, one := range strings.Split(s, ",") {
					if one = strings.TrimSpace(one); one != "" {
						o.Scanners = append(o.Scanners, one)
					}
				}
			}
			if len(scanners) == 0 {
				o.Scanners = []string{pipeline.Grype, pipeline.Trivy}
			}
			f, err := signing.ParseFormat(*format)
			if err != nil {
				return &exitError{code: 2, msg: err.Error()}
			}
			o.Format = f
			if o.AttestKeys, err = loadPrivateKeys(*keys); err != nil {
				return err
			}
			o.Out = *out
			if o.Out == "" {
				o.Out = filepath.Join(*dir, "scan")
			}
			o.RunURI = runURI(os.Getenv)
			summary, closeSummary, err := stepSummary(filepath.Join(o.Out, "summary.md"))
			if err != nil {
				return err
			}
			defer closeSummary()
			o.Summary = summary
			return withState(ctx, *dir, *timeout, "scan", func(ctx context.Context, s *pipeline.State) error {
				return pipeline.Scan(ctx, s, o, remoteOptions(ctx)...)
			})
		}
	case "tag":
		run = func() error {
			return withState(ctx, *dir, *timeout, "tag", func(ctx context.Context, s *pipeline.State) error {
				return pipeline.Tag(ctx, s, stdout, remoteOptions(ctx)...)
			})
		}
	case "digests":
		out := fs.String("o", "", "the table's file (default DIR/DIGESTS.md)")
		run = func() error {
			s, err := pipeline.Load(*dir)
			if err != nil {
				return err
			}
			if *out == "" {
				*out = filepath.Join(*dir, "DIGESTS.md")
			}
			table := pipeline.Digests(s)
			if err := os.WriteFile(*out, table, 0o644); err != nil {
				return err
			}
			stdout.Write(table)
			if p := os.Getenv("GITHUB_STEP_SUMMARY"); p != "" {
				return appendFile(p, table)
			}
			return nil
		}
	default:
		fmt.Fprint(stderr, pipelineUsage)
		return &exitError{code: 2, msg: fmt.Sprintf("pipeline: unknown step %q", step)}
	}
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if step != "build" && len(pos) != 0 {
		return &exitError{code: 2, msg: fmt.Sprintf("pipeline %s takes no arguments, got %q", step, pos)}
	}
	args = pos
	return run()
}

// pipelineBuild wires the build step; args are the targets once parsed.
func pipelineBuild(ctx context.Context, fs *flag.FlagSet, dir *string, args *[]string, stderr io.Writer) func() error {
	addr := fs.String("buildkit-addr", "", "BuildKit daemon to build on, through buildx's remote driver (tcp://…, unix://…); default: buildx's builder")
	builder := fs.String("builder", "", "the buildx builder to use (default: buildx's current one)")
	buildx := fs.String("buildx", "buildx", "the buildx command (\"docker buildx\" for the Docker CLI plugin)")
	file := fs.String("f", bake.File, "the bake file")
	var vars, sets listFlag
	fs.Var(&vars, "var", "bake variable K=V (repeatable)")
	fs.Var(&sets, "set", "bake --set override (repeatable)")
	return func() error {
		b := &bake.Builder{Command: strings.Fields(*buildx), Name: *builder, Desc: "buildx"}
		if len(b.Command) == 0 {
			return &exitError{code: 2, msg: "--buildx is empty"}
		}
		if *addr != "" {
			if *builder != "" {
				return &exitError{code: 2, msg: "--buildkit-addr and --builder: give one"}
			}
			var err error
			abs, err := filepath.Abs(filepath.Join(*dir, "buildx"))
			if err != nil {
				return err
			}
			if b, err = bake.RemoteBuilder(ctx, b.Command[0], abs, "stagex-pipeline", *addr); err != nil {
				return err
			}
		}
		bk := bake.Bake{Root: ".", File: *file, Vars: map[string]string{}, Set: sets, Targets: *args, Output: stderr}
		for _, v := range vars {
			k, val, ok := strings.Cut(v, "=")
			if !ok || k == "" {
				return &exitError{code: 2, msg: fmt.Sprintf("--var %q: want NAME=VALUE", v)}
			}
			bk.Vars[k] = val
		}
		s, err := pipeline.Build(ctx, b, bk, *dir)
		if err != nil {
			return err
		}
		for _, img := range s.Images {
			fmt.Fprintf(stderr, "built %s: %s@%s\n", img.Target, img.Repo, img.Digest)
		}
		return nil
	}
}

// withState loads the state and runs one step on it, bounded by timeout.
func withState(ctx context.Context, dir string, timeout time.Duration, cmd string, fn func(context.Context, *pipeline.State) error) error {
	s, err := pipeline.Load(dir)
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(ctx, "pipeline "+cmd, timeout)
	defer cancel()
	return timedOut(ctx, fn(ctx, s))
}

// pipelineKeys adds a repeatable key flag and --format.
func pipelineKeys(fs *flag.FlagSet, flagName, usage string) (*listFlag, *string) {
	var keys listFlag
	fs.Var(&keys, flagName, usage)
	format := fs.String("format", string(signing.FormatBundle), "bundle (what cosign v3 writes) or legacy")
	return &keys, format
}

// loadPrivateKeys reads signing keys (a cosign key's password from
// COSIGN_PASSWORD).
func loadPrivateKeys(paths []string) ([]pipeline.Key, error) {
	var out []pipeline.Key
	for _, p := range paths {
		pemBytes, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		k, err := signing.LoadPrivateKey(pemBytes, signing.EnvPassword)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		out = append(out, pipeline.Key{Name: p, Key: k})
	}
	return out, nil
}

// runURI names the forge run (Forgejo sets the GitHub variables), or "".
func runURI(getenv func(string) string) string {
	if getenv("GITHUB_RUN_ID") == "" {
		return ""
	}
	return getenv("GITHUB_SERVER_URL") + "/" + getenv("GITHUB_REPOSITORY") + "/actions/runs/" + getenv("GITHUB_RUN_ID")
}

// stepSummary is the scan summary's writer: file, and $GITHUB_STEP_SUMMARY
// when it is set.
func stepSummary(file string) (io.Writer, func(), error) {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return nil, nil, err
	}
	f, err := os.Create(file)
	if err != nil {
		return nil, nil, err
	}
	ws, closers := []io.Writer{f}, []io.Closer{f}
	if p := os.Getenv("GITHUB_STEP_SUMMARY"); p != "" {
		g, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			f.Close()
			return nil, nil, err
		}
		ws, closers = append(ws, g), append(closers, g)
	}
	return io.MultiWriter(ws...), func() {
		for _, c := range closers {
			c.Close()
		}
	}, nil
}

func appendFile(p string, data []byte) error {
	f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
