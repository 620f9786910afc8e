package integration

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
	sgroot "github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"

	"edp.buildth.ing/devfw-cicd/stagex/internal/bed"
	"edp.buildth.ing/devfw-cicd/stagex/internal/fixtures"
	"edp.buildth.ing/devfw-cicd/stagex/internal/repo"
	"edp.buildth.ing/devfw-cicd/stagex/internal/solve"
	"edp.buildth.ing/devfw-cicd/stagex/signing"
)

// EnvSignToolsPath lists the folders (PATH-style) holding the pinned cosign,
// kyverno, grype and grype-mkdb binaries; hack/test-integration sets it from
// `hack/tools.sh cosign kyverno grype`.
const envSignToolsPath = "STAGEX_SIGN_TOOLS_PATH"

// testKeyPassword encrypts the cosign-format keys of these tests.
const testKeyPassword = "stagex-test"

var (
	stagexOnce sync.Once
	stagexBin  string
	stagexErr  error

	signRunOnce sync.Once
	signRun     string
)

// stagexCLI builds ./cmd/stagex once and returns its path.
func stagexCLI(t *testing.T) string {
	t.Helper()
	stagexOnce.Do(func() {
		dir, err := tempRoot()
		if err != nil {
			stagexErr = err
			return
		}
		root, err := repo.Root()
		if err != nil {
			stagexErr = err
			return
		}
		stagexBin = filepath.Join(dir, "stagex")
		cmd := exec.Command(goTool(), "build", "-o", stagexBin, "./cmd/stagex")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			stagexErr = fmt.Errorf("go build ./cmd/stagex: %w\n%s", err, out)
		}
	})
	if stagexErr != nil {
		t.Fatal(stagexErr)
	}
	return stagexBin
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}

// signTool finds a pinned signing or scanning tool (cosign, kyverno, grype,
// grype-mkdb) or Renovate (renovate, renovate-config-validator): in
// $STAGEX_SIGN_TOOLS_PATH, else on PATH. Missing, it fails the test under
// CI=true and skips it elsewhere, like a missing bed.
func signTool(t *testing.T, tool string) string {
	t.Helper()
	if dirs := os.Getenv(envSignToolsPath); dirs != "" {
		for _, d := range filepath.SplitList(dirs) {
			p := filepath.Join(d, tool)
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	} else if p, err := exec.LookPath(tool); err == nil {
		return p
	}
	msg := fmt.Sprintf("%s not found in $%s or on PATH (make sign-tools builds it)", tool, envSignToolsPath)
	if bed.InCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// signRepo is a repository path unique to this test run, so that a bed
// kept between runs never shows signatures of an earlier run.
func signRepo(t *testing.T, repo string) string {
	t.Helper()
	signRunOnce.Do(func() {
		b := make([]byte, 4)
		if _, err := rand.Read(b); err != nil {
			panic(err)
		}
		signRun = hex.EncodeToString(b)
	})
	return "stagex-sign/" + signRun + "/" + repo
}

// pushSignImage builds the fixture package "sign-<id>" (each id its own
// content, so its own digest), pushes it as <repo>:v1 and returns its
// digest reference.
func pushSignImage(ctx context.Context, t *testing.T, b *bed.Bed, repo, id string) name.Digest {
	t.Helper()
	f, err := fixtures.BuildOne("sign-"+id, fixtures.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(b.Ref(signRepo(t, repo)) + ":v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, f.Image, remote.WithContext(ctx)); err != nil {
		t.Fatalf("push %s: %v", tag, err)
	}
	return tag.Context().Digest(f.Digest)
}

type cliResult struct {
	out  string // stdout and stderr
	code int
}

// run runs a command and returns its output and exit code; it fails the
// test only when the command could not be started.
func run(ctx context.Context, t *testing.T, env []string, bin string, args ...string) cliResult {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return cliResult{out: string(out)}
	case errors.As(err, &ee):
		return cliResult{out: string(out), code: ee.ExitCode()}
	}
	t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, out)
	return cliResult{}
}

func mustPass(t *testing.T, r cliResult, what string) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("%s: exit %d, want 0\n%s", what, r.code, r.out)
	}
}

// mustFail checks a non-zero exit whose output says why.
func mustFail(t *testing.T, r cliResult, what string, want ...string) {
	t.Helper()
	if r.code == 0 {
		t.Fatalf("%s: exit 0, want a failure\n%s", what, r.out)
	}
	for _, w := range want {
		if !strings.Contains(r.out, w) {
			t.Errorf("%s: output lacks %q:\n%s", what, w, r.out)
		}
	}
}

// testKeys writes n fresh ECDSA key pairs in the formats `stagex sign`
// reads: the first as a cosign encrypted key (testKeyPassword), the second
// as PKCS#8, the third as SEC 1 "EC PRIVATE KEY", and so on in turn.
func testKeys(t *testing.T, dir string, n int) (priv, pub []string) {
	t.Helper()
	for i := 1; i <= n; i++ {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		var block *pem.Block
		switch i % 3 {
		case 1:
			der, err := x509.MarshalPKCS8PrivateKey(k)
			if err != nil {
				t.Fatal(err)
			}
			enc, err := encrypted.Encrypt(der, []byte(testKeyPassword))
			if err != nil {
				t.Fatal(err)
			}
			block = &pem.Block{Type: "ENCRYPTED SIGSTORE PRIVATE KEY", Bytes: enc}
		case 2:
			der, err := x509.MarshalPKCS8PrivateKey(k)
			if err != nil {
				t.Fatal(err)
			}
			block = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
		default:
			der, err := x509.MarshalECPrivateKey(k)
			if err != nil {
				t.Fatal(err)
			}
			block = &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}
		}
		pubDER, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		kp := filepath.Join(dir, fmt.Sprintf("k%d.key", i))
		pp := filepath.Join(dir, fmt.Sprintf("k%d.pub", i))
		if err := os.WriteFile(kp, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(pp, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644); err != nil {
			t.Fatal(err)
		}
		priv, pub = append(priv, kp), append(pub, pp)
	}
	return priv, pub
}

var passwordEnv = []string{signing.PasswordEnv + "=" + testKeyPassword}

// signatureImage reads the signature image of d.
func signatureImage(t *testing.T, d name.Digest) (v1.Image, name.Tag) {
	t.Helper()
	tag, err := signing.SignatureTag(d)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(tag)
	if err != nil {
		t.Fatalf("reading %s: %v", tag, err)
	}
	return img, tag
}

func layerCount(t *testing.T, img v1.Image) int {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	return len(m.Layers)
}

// TestSignVerifyThreshold signs fixture images with three generated keys
// and checks that `stagex verify` counts exactly the valid signatures over
// exactly the digest, and fails closed on everything else.
func TestSignVerifyThreshold(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b := requireBed(t)
	cli := stagexCLI(t)
	dir := t.TempDir()
	priv, pub := testKeys(t, dir, 3)
	verify := func(threshold int, image string, keys ...string) cliResult {
		args := []string{"verify", "--threshold", fmt.Sprint(threshold)}
		for _, k := range keys {
			args = append(args, "--key", k)
		}
		return run(ctx, t, nil, cli, append(args, image)...)
	}
	// The legacy format: this test reads and alters the .sig tag itself.
	sign := func(key string, d name.Digest) cliResult {
		return run(ctx, t, passwordEnv, cli, "sign", "--format", "legacy", "--key", key, d.String())
	}

	// Three signers: each signature is added, none replaces another.
	all := pushSignImage(ctx, t, b, "all", "all")
	for i, k := range priv {
		mustPass(t, sign(k, all), "sign with "+k)
		img, _ := signatureImage(t, all)
		if n := layerCount(t, img); n != i+1 {
			t.Fatalf("after %d signers the signature tag holds %d signatures", i+1, n)
		}
	}
	r := sign(priv[0], all)
	mustPass(t, r, "signing again with the same key")
	if !strings.Contains(r.out, "already signed") {
		t.Errorf("signing twice with one key: want \"already signed\":\n%s", r.out)
	}
	if img, _ := signatureImage(t, all); layerCount(t, img) != 3 {
		t.Errorf("signing twice with one key added a signature")
	}
	r = verify(2, all.String(), pub...)
	mustPass(t, r, "verify --threshold 2 over 3 signatures")
	for _, p := range pub {
		if !strings.Contains(r.out, "match     "+p) {
			t.Errorf("verify does not list %s as matched:\n%s", p, r.out)
		}
	}
	mustPass(t, verify(3, all.String(), pub...), "verify --threshold 3 over 3 signatures")

	// One valid signature among the three keys is not two.
	one := pushSignImage(ctx, t, b, "one", "one")
	mustPass(t, sign(priv[1], one), "sign")
	mustFail(t, verify(2, one.String(), pub...), "threshold 2 with 1 signature",
		"1 of 3 keys signed "+one.DigestStr()+", threshold 2", "match     "+pub[1], "no match  "+pub[0])
	mustPass(t, verify(1, one.String(), pub...), "threshold 1 with 1 signature")

	// A signature moved onto another image's digest: the signatures of
	// "all" copied to the signature tag of "moved".
	moved := pushSignImage(ctx, t, b, "moved", "moved")
	allSigs, _ := signatureImage(t, all)
	movedTag, err := signing.SignatureTag(moved)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(movedTag, allSigs, remote.WithContext(ctx)); err != nil {
		t.Fatal(err)
	}
	mustFail(t, verify(1, moved.String(), pub...), "signatures moved from another digest",
		"0 of 3 keys signed "+moved.DigestStr(), "signs "+all.DigestStr()+", not "+moved.DigestStr())

	// A tampered payload: two valid signatures, then one payload altered
	// (same signature annotation). One valid signature is left.
	tampered := pushSignImage(ctx, t, b, "tampered", "tampered")
	mustPass(t, sign(priv[0], tampered), "sign")
	mustPass(t, sign(priv[2], tampered), "sign")
	mustPass(t, verify(2, tampered.String(), pub...), "verify before tampering")
	tamperFirstPayload(ctx, t, tampered)
	mustFail(t, verify(2, tampered.String(), pub...), "tampered payload",
		"1 of 3 keys signed", "signature 1: does not verify under any given key")

	// A tag that moved after signing: verify resolves it and says so.
	tagged := pushSignImage(ctx, t, b, "tagged", "tagged-1")
	mustPass(t, sign(priv[0], tagged), "sign")
	mustPass(t, sign(priv[1], tagged), "sign")
	tagRef := tagged.Context().Tag("v1").String()
	r = verify(2, tagRef, pub...)
	mustPass(t, r, "verify by tag")
	if !strings.Contains(r.out, "resolves to "+tagged.DigestStr()) {
		t.Errorf("verify by tag does not say what the tag resolves to:\n%s", r.out)
	}
	retagged := pushSignImage(ctx, t, b, "tagged", "tagged-2")
	mustFail(t, verify(2, tagRef, pub...), "tag moved since signing",
		"resolves to "+retagged.DigestStr(), "has moved since signing", "the given keys signed "+tagged.DigestStr())

	// Key sets that cannot mean N of M distinct parties.
	dup := filepath.Join(dir, "k1-copy.pub")
	if b, err := os.ReadFile(pub[0]); err != nil {
		t.Fatal(err)
	} else if err := os.WriteFile(dup, b, 0o644); err != nil {
		t.Fatal(err)
	}
	mustFail(t, verify(2, all.String(), pub[0], dup, pub[1]), "duplicated key", "duplicates key "+pub[0])
	mustFail(t, verify(4, all.String(), pub...), "N > M", "threshold 4 is greater than the 3 keys")

	// No registry: fail closed, saying so.
	mustFail(t, verify(2, deadRegistry(t)+"/x/y:v1", pub...), "registry unreachable", "cannot reach the registry")
	mustFail(t, run(ctx, t, passwordEnv, cli, "sign", "--format", "legacy", "--key", priv[0], deadRegistry(t)+"/x/y@"+all.DigestStr()),
		"sign with the registry unreachable", "cannot reach the registry")
}

// deadRegistry is a loopback address nothing listens on.
func deadRegistry(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// tamperFirstPayload rewrites the signature image of d with the first
// payload altered (an "optional" claim added) and its signature kept.
func tamperFirstPayload(ctx context.Context, t *testing.T, d name.Digest) {
	t.Helper()
	img, tag := signatureImage(t, d)
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	out := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	for i, desc := range m.Layers {
		l, err := img.LayerByDigest(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		var p bytes.Buffer
		_, err = p.ReadFrom(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		payload := p.Bytes()
		if i == 0 {
			altered := bytes.Replace(payload, []byte(`"optional":null`), []byte(`"optional":{"approved":"yes"}`), 1)
			if bytes.Equal(altered, payload) {
				t.Fatalf("payload has no \"optional\":null to alter: %s", payload)
			}
			payload = altered
		}
		out, err = mutate.Append(out, mutate.Addendum{
			Layer:       static.NewLayer(payload, signing.SimpleSigningMediaType),
			Annotations: desc.Annotations,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := remote.Write(tag, out, remote.WithContext(ctx)); err != nil {
		t.Fatal(err)
	}
}

// TestCosignCrossCheck shows, with cosign v3 in its default (Sigstore
// bundle) format, that cosign verifies what `stagex sign` writes and that
// `stagex verify` counts what `cosign sign --key` writes, each signer once
// across the bundle and legacy formats. The bed is offline, so cosign signs
// with no transparency log (--tlog-upload=false --use-signing-config=false:
// the default signing config names the public Rekor) and verifies with
// --insecure-ignore-tlog; the format stays cosign's default.
func TestCosignCrossCheck(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b := requireBed(t)
	cli := stagexCLI(t)
	cosign := signTool(t, "cosign")
	dir := t.TempDir()
	priv, pub := testKeys(t, dir, 2)

	// A cosign-made key pair, read by stagex too.
	r := run(ctx, t, passwordEnv, cosign, "generate-key-pair", "--output-key-prefix", filepath.Join(dir, "cosign"))
	mustPass(t, r, "cosign generate-key-pair")
	cosignKey, cosignPub := filepath.Join(dir, "cosign.key"), filepath.Join(dir, "cosign.pub")
	cosignVerify := func(key string, d name.Digest) cliResult {
		return run(ctx, t, nil, cosign, "verify", "--key", key,
			"--insecure-ignore-tlog", "--allow-http-registry", d.String())
	}
	cosignSign := func(d name.Digest, extra ...string) cliResult {
		args := append([]string{"sign", "--key", cosignKey, "--tlog-upload=false", "--use-signing-config=false",
			"--allow-http-registry", "--yes"}, extra...)
		return run(ctx, t, passwordEnv, cosign, append(args, d.String())...)
	}
	stagexVerify := func(threshold int, d name.Digest, keys ...string) cliResult {
		args := []string{"verify", "--threshold", fmt.Sprint(threshold)}
		for _, k := range keys {
			args = append(args, "--key", k)
		}
		return run(ctx, t, nil, cli, append(args, d.String())...)
	}

	// stagex sign (default: bundle) → cosign verify (default): a cosign
	// key and a PKCS#8 key.
	img := pushSignImage(ctx, t, b, "cosign-verifies", "cosign-verifies")
	r = run(ctx, t, passwordEnv, cli, "sign", "--key", cosignKey, img.String())
	mustPass(t, r, "stagex sign (cosign key)")
	if !strings.Contains(r.out, "bundle: ") {
		t.Errorf("stagex sign did not write a bundle by default:\n%s", r.out)
	}
	mustPass(t, run(ctx, t, nil, cli, "sign", "--key", priv[1], img.String()), "stagex sign (PKCS#8 key)")
	for _, k := range []string{cosignPub, pub[1]} {
		r := cosignVerify(k, img)
		mustPass(t, r, "cosign verify --key "+k+" of a stagex bundle")
		if !strings.Contains(r.out, img.DigestStr()) {
			t.Errorf("cosign verify output does not name %s:\n%s", img.DigestStr(), r.out)
		}
	}
	mustFail(t, cosignVerify(pub[0], img), "cosign verify with a key that did not sign")

	// stagex sign --format legacy → cosign verify (it falls back to the
	// .sig tag when there is no bundle).
	legacy := pushSignImage(ctx, t, b, "cosign-verifies-legacy", "cosign-verifies-legacy")
	mustPass(t, run(ctx, t, nil, cli, "sign", "--format", "legacy", "--key", priv[1], legacy.String()), "stagex sign --format legacy")
	mustPass(t, cosignVerify(pub[1], legacy), "cosign verify of a legacy stagex signature")

	// cosign sign --key (default: bundle) → stagex verify, alone and
	// counted together with a stagex signature.
	img2 := pushSignImage(ctx, t, b, "stagex-verifies", "stagex-verifies")
	mustPass(t, cosignSign(img2), "cosign sign --key (default format)")
	r = stagexVerify(1, img2, cosignPub)
	mustPass(t, r, "stagex verify of a cosign v3 bundle")
	if !strings.Contains(r.out, "match     "+cosignPub) || !strings.Contains(r.out, "0 in ") || !strings.Contains(r.out, "1 Sigstore bundles") {
		t.Errorf("stagex verify does not count the cosign bundle (and only it):\n%s", r.out)
	}
	mustFail(t, stagexVerify(2, img2, cosignPub, pub[0]), "2 of 2 with only the cosign signature", "1 of 2 keys signed")
	// The same key again in the legacy format is the same signer.
	mustPass(t, cosignSign(img2, "--new-bundle-format=false"), "cosign sign --key --new-bundle-format=false")
	mustFail(t, stagexVerify(2, img2, cosignPub, pub[0]), "one cosign key in both formats", "1 of 2 keys signed")
	mustPass(t, run(ctx, t, passwordEnv, cli, "sign", "--key", priv[0], img2.String()), "stagex sign next to cosign's")
	mustPass(t, stagexVerify(2, img2, cosignPub, pub[0]), "2 of 2: one cosign and one stagex bundle")
	mustPass(t, cosignVerify(cosignPub, img2), "cosign verify after stagex added a bundle")

	// stagex attest → cosign verify-attestation, in both formats, on an
	// index BuildKit built with provenance.
	verifyAtt := func(key string, d name.Digest) cliResult {
		return run(ctx, t, nil, cosign, "verify-attestation", "--key", key, "--type", "slsaprovenance1",
			"--insecure-ignore-tlog", "--allow-http-registry", d.String())
	}
	prov := provenanceImage(ctx, t, b, "cosign-attest", "bundle")
	mustPass(t, run(ctx, t, passwordEnv, cli, "attest", "--key", cosignKey, prov.String()), "stagex attest")
	mustPass(t, verifyAtt(cosignPub, prov), "cosign verify-attestation of a stagex bundle")
	mustFail(t, verifyAtt(pub[0], prov), "cosign verify-attestation with a key that did not attest")
	provLegacy := provenanceImage(ctx, t, b, "cosign-attest-legacy", "legacy")
	mustPass(t, run(ctx, t, nil, cli, "attest", "--format", "legacy", "--key", priv[1], provLegacy.String()), "stagex attest --format legacy")
	mustPass(t, verifyAtt(pub[1], provLegacy), "cosign verify-attestation of a legacy stagex attestation")
}

// provenanceImage builds a one-file image with BuildKit's Dockerfile
// frontend and SLSA provenance (mode=min), pushes it to <repo>:v1 of the
// bed and returns the index digest: the layout `stagex attest` reads, made
// by BuildKit itself.
func provenanceImage(ctx context.Context, t *testing.T, b *bed.Bed, repo, id string) name.Digest {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY id.txt /id.txt\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "id.txt"), []byte(signRepo(t, repo)+" "+id+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tag := b.Ref(signRepo(t, repo)) + ":v1"
	res, err := solve.Dockerfile(ctx, client1(ctx, t), solve.DockerfileBuild{
		DockerfileDir: dir,
		ContextDir:    dir,
		Attrs:         map[string]string{"attest:provenance": "mode=min"},
		Push:          tag,
	})
	if err != nil {
		t.Fatal(err)
	}
	d, err := name.NewDigest(b.Ref(signRepo(t, repo)) + "@" + res.Digest)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestKyvernoPolicy runs the `kyverno test` suites in policy/test against
// both policy kinds. The checked-in policies trust policy/keys, whose
// private halves exist nowhere, so the suites run on the policies `stagex
// policy` writes for three keys generated here, after checking they are
// the checked-in ones but for the keys. Each case is an image BuildKit
// built with provenance, signed with `stagex sign` and attested with
// `stagex attest` as the case says; the real Kyverno CLI fetches
// everything from the bed. It runs in both formats: bundle (the default,
// the checked-in policies) and legacy (policies written with --format
// legacy, signatures and attestations in the .sig and .att tags).
func TestKyvernoPolicy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	for _, format := range []string{"bundle", "legacy"} {
		t.Run(format, func(t *testing.T) { kyvernoSuites(ctx, t, format) })
	}
}

func kyvernoSuites(ctx context.Context, t *testing.T, format string) {
	b := requireBed(t)
	cli := stagexCLI(t)
	kyverno := signTool(t, "kyverno")
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	priv, pub := testKeys(t, t.TempDir(), 3)
	formatFlags := []string{"--format", format}
	cosignFlags := []string{"--new-bundle-format=" + fmt.Sprint(format == "bundle")}
	signer := func(n int) string { return priv[n-1] }

	// The cases of policy/test/kyverno-test*.yaml.
	// "cosign" is signed by cosign v3 (in its default format for bundle)
	// with signer-1
	// (cosign reads only its own key format, which signer-1's is) and by
	// `stagex sign` with signer-2.
	cosign := signTool(t, "cosign")
	cases := []struct {
		name               string
		signers, attesters []int
		cosignSigner       int
	}{
		{"two", []int{1, 3}, []int{1}, 0},
		{"cosign", []int{2}, []int{2}, 1},
		{"one", []int{2}, []int{2}, 0},
		{"none", nil, nil, 0},
		{"noprov", []int{1, 2}, nil, 0},
		{"attestonly", nil, []int{1, 3}, 0},
	}
	data := struct {
		Cases  []string
		Images map[string]string
	}{Images: map[string]string{}}
	for _, c := range cases {
		img := provenanceImage(ctx, t, b, "kyverno-"+format+"-"+c.name, format+"-"+c.name)
		for _, s := range c.signers {
			mustPass(t, run(ctx, t, passwordEnv, cli, append(append([]string{"sign", "--key", signer(s)}, formatFlags...), img.String())...), "sign "+c.name)
		}
		if c.cosignSigner != 0 {
			args := append([]string{"sign", "--key", signer(c.cosignSigner), "--tlog-upload=false",
				"--use-signing-config=false", "--allow-http-registry", "--yes"}, cosignFlags...)
			mustPass(t, run(ctx, t, passwordEnv, cosign, append(args, img.String())...), "cosign sign "+c.name)
		}
		for _, s := range c.attesters {
			r := run(ctx, t, passwordEnv, cli, append(append([]string{"attest", "--key", signer(s)}, formatFlags...), img.String())...)
			mustPass(t, r, "attest "+c.name)
			if !strings.Contains(r.out, "provenance of sha256:") {
				t.Errorf("stagex attest does not name the platform image:\n%s", r.out)
			}
		}
		data.Cases = append(data.Cases, c.name)
		data.Images[c.name] = img.String()
	}
	tmpl, err := template.ParseFiles(filepath.Join(root, "policy", "test", "resources.yaml.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	var res bytes.Buffer
	if err := tmpl.Execute(&res, data); err != nil {
		t.Fatal(err)
	}

	for _, suite := range []struct {
		kind, policy, test, summary string
	}{
		// Each expectation names Pods; Kyverno counts two checks per Pod
		// and ClusterPolicy rule (the image, then the rule), one per Pod
		// for an ImageValidatingPolicy.
		{"ClusterPolicy", "stagex-require-signatures.yaml", "kyverno-test.yaml", "Test Summary: 24 tests passed and 0 tests failed"},
		{"ImageValidatingPolicy", "stagex-require-signatures-ivpol.yaml", "kyverno-test-ivpol.yaml", "Test Summary: 6 tests passed and 0 tests failed"},
	} {
		t.Run(suite.kind, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"policy", "--kind", suite.kind, "--threshold", "2", "--image-pattern", "*"}, formatFlags...)
			for _, k := range pub {
				args = append(args, "--key", k)
			}
			if format == "legacy" && suite.kind == "ImageValidatingPolicy" {
				// Kyverno 1.19.1 refuses legacy key attestations in an
				// ImageValidatingPolicy (two/cosign failed the provenance
				// check), so stagex refuses to write one.
				mustFail(t, run(ctx, t, nil, cli, args...), "stagex policy --kind ImageValidatingPolicy --format legacy",
					"cannot check legacy-format provenance")
				return
			}
			testPolicy := filepath.Join(dir, suite.policy)
			mustPass(t, run(ctx, t, nil, cli, append(args, "-o", testPolicy)...), "stagex policy --kind "+suite.kind)
			checkedIn, err := os.ReadFile(filepath.Join(root, "policy", suite.policy))
			if err != nil {
				t.Fatal(err)
			}
			generated, err := os.ReadFile(testPolicy)
			if err != nil {
				t.Fatal(err)
			}
			if a, b := withoutKeys(checkedIn), withoutKeys(generated); format == "bundle" && a != b {
				t.Fatalf("the tested policy is not the checked-in one but for its keys:\n--- checked in ---\n%s\n--- tested ---\n%s", a, b)
			}
			suiteFile, err := os.ReadFile(filepath.Join(root, "policy", "test", suite.test))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "kyverno-test.yaml"), suiteFile, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "resources.yaml"), res.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			r := run(ctx, t, nil, kyverno, "test", dir, "--require-tests", "--remove-color", "--detailed-results")
			t.Logf("kyverno test:\n%s", r.out)
			mustPass(t, r, "kyverno test")
			if !strings.Contains(r.out, suite.summary) {
				t.Errorf("kyverno test summary is not %q", suite.summary)
			}
		})
	}
}

// withoutKeys drops a policy's comments (they name the key files) and the
// lines of its PEM public keys, leaving everything the keys do not decide.
func withoutKeys(policy []byte) string {
	var out []string
	inKey := false
	for _, line := range strings.Split(string(policy), "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "#"):
		case strings.HasPrefix(trimmed, "-----BEGIN PUBLIC KEY-----"):
			inKey = true
		case strings.HasPrefix(trimmed, "-----END PUBLIC KEY-----"):
			inKey = false
			out = append(out, line[:len(line)-len(trimmed)]+"<key>")
		case !inKey:
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// TestKeylessCosignIdentity: a certificate identity counts in `stagex
// verify` N of M next to a key. cosign v3 signs (default bundle format)
// with a key certified by a test CA (sigstore-go's testing/ca: a root, a
// Fulcio-style intermediate, a leaf with the OIDC issuer extension), the
// way a keyless signature carries its certificate; the trusted root holds
// that CA. Offline there is no transparency log, so verify is run with
// --insecure-ignore-tlog, and once without it to show the log is required.
func TestKeylessCosignIdentity(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b := requireBed(t)
	cli := stagexCLI(t)
	cosign := signTool(t, "cosign")
	dir := t.TempDir()
	priv, pub := testKeys(t, dir, 2) // priv[0] is a cosign key file

	const issuer = "https://issuer.test"
	root, leafPEM := testCertificate(t, dir, priv[0], "x@example.test", issuer)
	img := pushSignImage(ctx, t, b, "keyless", "keyless")
	r := run(ctx, t, passwordEnv, cosign, "sign", "--key", priv[0], "--certificate", leafPEM,
		"--tlog-upload=false", "--use-signing-config=false", "--allow-http-registry", "--yes", img.String())
	mustPass(t, r, "cosign sign --certificate")
	mustPass(t, run(ctx, t, nil, cli, "sign", "--key", priv[1], img.String()), "stagex sign")

	verify := func(extra ...string) cliResult {
		args := []string{"verify", "--threshold", "2", "--key", pub[1],
			"--identity", "x@example.test@" + issuer, "--identity-regexp", `ci-[0-9]+@example\.test@https://issuer\.test`,
			"--trusted-root", root}
		return run(ctx, t, nil, cli, append(append(args, extra...), img.String())...)
	}
	r = verify("--insecure-ignore-tlog")
	mustPass(t, r, "2 of {key, identity X, identity Y} with the key and X")
	if !strings.Contains(r.out, "match     x@example.test@"+issuer+" (certificate identity)") {
		t.Errorf("identity X is not listed as matched:\n%s", r.out)
	}
	mustFail(t, verify(), "the same without --insecure-ignore-tlog", "1 of 3 signers signed", "transparency log")
	mustFail(t, run(ctx, t, nil, cli, "verify", "--threshold", "1", "--identity", "y@example.test@"+issuer,
		"--trusted-root", root, "--insecure-ignore-tlog", img.String()),
		"another identity", "the certificate of x@example.test issued by "+issuer+" matches no given identity")
	other, _ := testCertificate(t, t.TempDir(), priv[0], "x@example.test", issuer)
	mustFail(t, run(ctx, t, nil, cli, "verify", "--threshold", "1", "--identity", "x@example.test@"+issuer,
		"--trusted-root", other, "--insecure-ignore-tlog", img.String()),
		"a CA the trusted root does not hold", "certificate signed by unknown authority")
}

// testCertificate makes a test CA, certifies the key of the cosign key file
// for subject@issuer (valid from a minute ago for ten minutes) and writes
// the leaf (PEM) and a trusted_root.json holding the CA; it returns their
// paths.
func testCertificate(t *testing.T, dir, cosignKey, subject, issuer string) (trustedRoot, leaf string) {
	t.Helper()
	b, err := os.ReadFile(cosignKey)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	der, err := encrypted.Decrypt(blk.Bytes, []byte(testKeyPassword))
	if err != nil {
		t.Fatal(err)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		t.Fatal(err)
	}
	rc, rk, err := ca.GenerateRootCa()
	if err != nil {
		t.Fatal(err)
	}
	ic, ik, err := ca.GenerateFulcioIntermediate(rc, rk)
	if err != nil {
		t.Fatal(err)
	}
	lc, err := ca.GenerateLeafCert(subject, issuer, time.Now().Add(-time.Minute), k, ic, ik)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := sgroot.NewTrustedRoot(sgroot.TrustedRootMediaType01,
		[]sgroot.CertificateAuthority{&sgroot.FulcioCertificateAuthority{Root: rc, Intermediates: []*x509.Certificate{ic}}}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	j, err := tr.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	trustedRoot, leaf = filepath.Join(dir, "trusted_root.json"), filepath.Join(dir, "leaf.pem")
	if err := os.WriteFile(trustedRoot, j, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(leaf, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: lc.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return trustedRoot, leaf
}
