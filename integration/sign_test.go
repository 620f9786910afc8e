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

	"edp.buildth.ing/devfw-cicd/stagex/integration/testbed"
	"edp.buildth.ing/devfw-cicd/stagex/signing"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
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
		root, err := testbed.RepoRoot()
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
// grype-mkdb): in
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
	if testbed.InCI() {
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
func pushSignImage(ctx context.Context, t *testing.T, b *testbed.Bed, repo, id string) name.Digest {
	t.Helper()
	f, err := testbed.BuildFixture("sign-"+id, testbed.Options{})
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
	b := bed(t)
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
	sign := func(key string, d name.Digest) cliResult {
		return run(ctx, t, passwordEnv, cli, "sign", "--key", key, d.String())
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
	mustFail(t, run(ctx, t, passwordEnv, cli, "sign", "--key", priv[0], deadRegistry(t)+"/x/y@"+all.DigestStr()),
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

// TestCosignCrossCheck shows that the real cosign accepts what `stagex
// sign` writes, and that `stagex verify` accepts what `cosign sign --key`
// writes, with the transparency log off (the bed is offline).
func TestCosignCrossCheck(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b := bed(t)
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

	// stagex sign → cosign verify: a cosign key and a PKCS#8 key.
	img := pushSignImage(ctx, t, b, "cosign-verifies", "cosign-verifies")
	mustPass(t, run(ctx, t, passwordEnv, cli, "sign", "--key", cosignKey, img.String()), "stagex sign (cosign key)")
	mustPass(t, run(ctx, t, nil, cli, "sign", "--key", priv[1], img.String()), "stagex sign (PKCS#8 key)")
	for _, k := range []string{cosignPub, pub[1]} {
		r := cosignVerify(k, img)
		mustPass(t, r, "cosign verify --key "+k+" of a stagex signature")
		if !strings.Contains(r.out, img.DigestStr()) {
			t.Errorf("cosign verify output does not name %s:\n%s", img.DigestStr(), r.out)
		}
	}
	mustFail(t, cosignVerify(pub[0], img), "cosign verify with a key that did not sign", "no matching signatures")

	// cosign sign --key → stagex verify, alone and counted together with a
	// stagex signature in the same signature tag.
	img2 := pushSignImage(ctx, t, b, "stagex-verifies", "stagex-verifies")
	r = run(ctx, t, passwordEnv, cosign, "sign", "--key", cosignKey, "--tlog-upload=false",
		"--use-signing-config=false", "--new-bundle-format=false", "--allow-http-registry", "--yes", img2.String())
	mustPass(t, r, "cosign sign --key")
	r = run(ctx, t, nil, cli, "verify", "--threshold", "1", "--key", cosignPub, img2.String())
	mustPass(t, r, "stagex verify of a cosign signature")
	if !strings.Contains(r.out, "match     "+cosignPub) {
		t.Errorf("stagex verify does not list the cosign key as matched:\n%s", r.out)
	}
	mustFail(t, run(ctx, t, nil, cli, "verify", "--threshold", "2", "--key", cosignPub, "--key", pub[0], img2.String()),
		"2 of 2 with only the cosign signature", "1 of 2 keys signed")
	mustPass(t, run(ctx, t, passwordEnv, cli, "sign", "--key", priv[0], img2.String()), "stagex sign next to cosign's")
	mustPass(t, run(ctx, t, nil, cli, "verify", "--threshold", "2", "--key", cosignPub, "--key", pub[0], img2.String()),
		"2 of 2: one cosign and one stagex signature")
	mustPass(t, cosignVerify(cosignPub, img2), "cosign verify after stagex added a signature")
}

// TestKyvernoPolicy runs the `kyverno test` suite in policy/test. The
// checked-in policy trusts policy/keys, whose private halves exist nowhere,
// so the suite runs on a policy that `stagex policy` writes for three keys
// generated here, and first checks that it is the checked-in policy but for
// the keys. Then it signs one image per case, renders the resources with
// their digests and runs the real Kyverno CLI, which fetches the signatures
// from the bed.
func TestKyvernoPolicy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b := bed(t)
	cli := stagexCLI(t)
	cosign := signTool(t, "cosign")
	kyverno := signTool(t, "kyverno")
	root, err := testbed.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	suite := t.TempDir()
	priv, pub := testKeys(t, t.TempDir(), 3)
	signer := func(n int) string { return priv[n-1] }
	policyArgs := []string{"policy", "--threshold", "2", "--image-pattern", "*"}
	for _, k := range pub {
		policyArgs = append(policyArgs, "--key", k)
	}
	testPolicy := filepath.Join(suite, "stagex-require-signatures.yaml")
	mustPass(t, run(ctx, t, nil, cli, append(policyArgs, "-o", testPolicy)...), "stagex policy")
	checkedIn, err := os.ReadFile(filepath.Join(root, "policy", "stagex-require-signatures.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	generated, err := os.ReadFile(testPolicy)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := withoutKeys(checkedIn), withoutKeys(generated); a != b {
		t.Fatalf("the tested policy is not the checked-in one but for its keys:\n--- checked in ---\n%s\n--- tested ---\n%s", a, b)
	}
	predicate := filepath.Join(t.TempDir(), "provenance.json")
	if err := os.WriteFile(predicate, []byte(`{"buildDefinition":{"buildType":"https://mobyproject.org/buildkit@v1",`+
		`"externalParameters":{"request":{"frontend":"gateway.v0"}}},"runDetails":{"builder":{"id":"stagex-integration"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}

	// The cases of policy/test/kyverno-test.yaml.
	cases := []struct {
		name       string
		signers    []int
		provenance bool
	}{
		{"two", []int{1, 3}, true},
		{"one", []int{2}, true},
		{"none", nil, false},
		{"noprov", []int{1, 2}, false},
	}
	data := struct {
		Cases  []string
		Images map[string]string
	}{Images: map[string]string{}}
	for _, c := range cases {
		img := pushSignImage(ctx, t, b, "kyverno-"+c.name, "kyverno-"+c.name)
		for _, s := range c.signers {
			mustPass(t, run(ctx, t, passwordEnv, cli, "sign", "--key", signer(s), img.String()), "sign "+c.name)
		}
		if c.provenance {
			// cosign reads only its own key format: signer-1.
			r := run(ctx, t, passwordEnv, cosign, "attest", "--key", signer(1), "--type", "slsaprovenance1",
				"--predicate", predicate, "--tlog-upload=false", "--use-signing-config=false",
				"--new-bundle-format=false", "--allow-http-registry", "--yes", img.String())
			mustPass(t, r, "cosign attest "+c.name)
		}
		data.Cases = append(data.Cases, c.name)
		data.Images[c.name] = img.String()
	}

	suiteFile, err := os.ReadFile(filepath.Join(root, "policy", "test", "kyverno-test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(suite, "kyverno-test.yaml"), suiteFile, 0o644); err != nil {
		t.Fatal(err)
	}
	tmpl, err := template.ParseFiles(filepath.Join(root, "policy", "test", "resources.yaml.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	var res bytes.Buffer
	if err := tmpl.Execute(&res, data); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(suite, "resources.yaml"), res.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	r := run(ctx, t, nil, kyverno, "test", suite, "--require-tests", "--remove-color", "--detailed-results")
	t.Logf("kyverno test:\n%s", r.out)
	mustPass(t, r, "kyverno test")
	// Each expectation of kyverno-test.yaml names two Pods; Kyverno counts
	// two checks per Pod and rule (the image, then the rule).
	if !strings.Contains(r.out, "Test Summary: 16 tests passed and 0 tests failed") {
		t.Errorf("kyverno test summary is not 16 passed, 0 failed")
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
