package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/lock/locktest"
)

// policyFiles are the checked-in Kyverno policies, relative to the
// repository: the ClusterPolicy and the ImageValidatingPolicy.
var policyFiles = []string{"policy/stagex-require-signatures.yaml", "policy/stagex-require-signatures-ivpol.yaml"}

// splitWords splits a command line written by policyCommand: plain words
// and single-quoted words, where a quote inside is written as the four
// characters quote, backslash, quote, quote.
func splitWords(s string) []string {
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted && c == '\'':
			quoted = false
		case quoted:
			cur.WriteByte(c)
		case c == '\'':
			quoted, inWord = true, true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == ' ':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// TestPolicyGolden regenerates the checked-in policy with the command its
// header records (from the repository root, reading policy/keys) and
// requires the same bytes: the policy and the trusted keys cannot drift
// apart. `make policy` rewrites it.
func TestPolicyGolden(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(root)
	for _, policyFile := range policyFiles {
		t.Run(filepath.Base(policyFile), func(t *testing.T) { checkPolicyGolden(t, root, policyFile) })
	}
}

func checkPolicyGolden(t *testing.T, root, policyFile string) {
	want, err := os.ReadFile(filepath.Join(root, policyFile))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(want))
	sc.Scan()
	sc.Scan()
	cmdline, ok := strings.CutPrefix(sc.Text(), "#   ")
	if !ok {
		t.Fatalf("%s: line 2 is not the regenerating command: %q", policyFile, sc.Text())
	}
	args := splitWords(cmdline)
	if len(args) < 2 || args[0] != "stagex" || args[1] != "policy" {
		t.Fatalf("header command %q is not `stagex policy …`", cmdline)
	}
	// Write to a temporary file instead of the recorded -o target.
	out := filepath.Join(t.TempDir(), "policy.yaml")
	for i := range args {
		if args[i] == "-o" && i+1 < len(args) {
			if args[i+1] != policyFile {
				t.Errorf("header writes %s, want %s", args[i+1], policyFile)
			}
			args[i+1] = out
		}
	}
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), args[1:], &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// The header records -o with the real target; the temporary file's
	// header names the temporary path.
	got = bytes.Replace(got, []byte(out), []byte(policyFile), 1)
	if !bytes.Equal(got, want) {
		t.Errorf("%s is not what its header command writes now; run `make policy`:\n--- got\n%s", policyFile, got)
	}
}

func TestPolicyCommandQuoting(t *testing.T) {
	cmd := policyCommand(policyArgs{kind: kindClusterPolicy, name: "p", format: "bundle", threshold: 2,
		patterns: []string{"*", "reg.example/it's/*"}, keys: []string{"a b.pub"}, ids: &identityOptions{}})
	want := `stagex policy --name p --threshold 2 --image-pattern '*' --image-pattern 'reg.example/it'\''s/*' --key 'a b.pub'`
	if cmd != want {
		t.Fatalf("got  %s\nwant %s", cmd, want)
	}
	words := splitWords(cmd)
	if words[9] != "reg.example/it's/*" || words[11] != "a b.pub" {
		t.Errorf("round trip: %q", words)
	}
}

func TestVerifyRefusesBadPolicies(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	k1 := filepath.Join(root, "policy/keys/signer-1.pub")
	k2 := filepath.Join(root, "policy/keys/signer-2.pub")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"verify", "--threshold", "3", "--key", k1, "--key", k2, "reg.example/x:1"}, "threshold 3 is greater than the 2 keys"},
		{[]string{"verify", "--threshold", "1", "--key", k1, "--key", k1, "reg.example/x:1"}, "duplicates key"},
		{[]string{"sign", "--key", k1, "reg.example/x:1"}, "never a tag"},
		{[]string{"policy", "--threshold", "3", "--key", k1, "--key", k2, "--image-pattern", "*"}, "threshold 3 is greater"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), tc.args, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want %q", tc.args, err, tc.want)
		}
	}
}

// TestTimeoutFlag: a registry that accepts the connection and never
// answers. sign, attest, verify and lock give up at --timeout and say so;
// without a bound they waited forever.
func TestTimeoutFlag(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	priv := filepath.Join(t.TempDir(), "k.key")
	if err := os.WriteFile(priv, testPrivateKeyPEM(t), 0o600); err != nil {
		t.Fatal(err)
	}
	img := l.Addr().String() + "/x/y@sha256:" + strings.Repeat("a", 64)
	// stagex lock against the same registry: one package of a release list.
	dir := t.TempDir()
	keyring := locktest.WriteKeyring(t, dir, locktest.NewKey(t, "a", false), locktest.NewKey(t, "b", false))
	list := writeFile(t, filepath.Join(dir, "release.tsv"), "# StageX release 2026.03.0\n"+
		"image\tversion\tlicense\tsource_package\tdigest\n"+
		"core-musl\t1.2.5\tMIT\tcore/musl\t\n")
	for _, args := range [][]string{
		{"verify", "--timeout", "500ms", "--threshold", "1", "--key", filepath.Join(root, "policy/keys/signer-1.pub"), img},
		{"sign", "--timeout", "500ms", "--key", priv, img},
		{"attest", "--timeout", "500ms", "--key", priv, img},
		{"lock", "--timeout", "500ms", "--release-list", list, "--registry", l.Addr().String() + "/stagex",
			"--keyring", keyring, "--lookaside", t.TempDir(), "-o", filepath.Join(dir, "out.lock.yaml"), "core-musl"},
	} {
		start := time.Now()
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), args, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), "gave up after 500ms (--timeout)") {
			t.Errorf("%s: err = %v, want the --timeout error", args[0], err)
		}
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("%s took %s with --timeout 500ms", args[0], el)
		}
	}
}

// testPrivateKeyPEM is a fresh PKCS#8 ECDSA key.
func testPrivateKeyPEM(t *testing.T) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}
