package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
)

// TokenEnv is set in a Forgejo (or GitHub) job only when the forge hands
// out OIDC tokens: on Forgejo, when the workflow has
// `enable-openid-connect: true`. cosign reads the token through it.
const TokenEnv = "ACTIONS_ID_TOKEN_REQUEST_URL"

// Keyless says how to sign keyless with cosign: against a Sigstore of your
// own (Fulcio, Rekor) whose signing config and trusted root you give; the
// public Fulcio does not trust Forgejo's OIDC issuer.
type Keyless struct {
	Cosign        string // the cosign binary
	SigningConfig string // Sigstore signing_config.json: the Fulcio and Rekor URLs
	TrustedRoot   string // Sigstore trusted_root.json the Fulcio chains to
}

// Args are the cosign arguments that sign ref keyless.
func (k Keyless) Args(ref string) []string {
	return []string{"sign", "--yes", "--signing-config", k.SigningConfig, "--trusted-root", k.TrustedRoot, ref}
}

// Check refuses keyless signing it cannot do: no OIDC token from the forge,
// or no Sigstore of your own to sign with.
func (k Keyless) Check(getenv func(string) string) error {
	switch {
	case getenv(TokenEnv) == "":
		return errors.New("keyless signing, but the forge hands out no OIDC token (" + TokenEnv + " is not set)\n" +
			"hint: on Forgejo, set `enable-openid-connect: true` on the job; or sign with keys only")
	case k.SigningConfig == "" || k.TrustedRoot == "":
		return errors.New("keyless signing needs the signing config and the trusted root of a Sigstore that trusts the forge's OIDC issuer\n" +
			"hint: the public Fulcio does not trust Forgejo; give your own Fulcio's (SIGSTORE_SIGNING_CONFIG, SIGSTORE_TRUSTED_ROOT)")
	}
	for _, f := range []string{k.SigningConfig, k.TrustedRoot} {
		if _, err := os.Stat(f); err != nil {
			return err
		}
	}
	if _, err := exec.LookPath(k.Cosign); err != nil {
		return fmt.Errorf("keyless signing runs cosign: %w", err)
	}
	return nil
}

// SignKeyless signs every image keyless with cosign (a Sigstore bundle with
// a Fulcio certificate for the job's identity), as part of the sign step:
// after Sign (when there are keys too) on the images Sign passed.
func SignKeyless(ctx context.Context, s *State, k Keyless, w io.Writer) error {
	if err := k.Check(os.Getenv); err != nil {
		return err
	}
	return s.Run(StepSign, func(img *Image) (string, error) {
		prev, signed := img.Steps[StepSign]
		if signed && !prev.Passed {
			return "", errors.New(prev.Detail) // the key signatures failed
		}
		cmd := exec.CommandContext(ctx, k.Cosign, k.Args(img.Repo+"@"+img.Digest)...)
		cmd.Stdout, cmd.Stderr = w, w
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("cosign sign (keyless): %w", err)
		}
		if signed {
			return prev.Detail + "; keyless", nil
		}
		return "keyless", nil
	})
}
