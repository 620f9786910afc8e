// Package locktest builds what the lock tests need, offline: OpenPGP keys,
// StageX-style signatures in a lookaside folder (served over loopback HTTP
// when asked), and packages on an in-process registry.
package locktest

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"edp.buildth.ing/devfw-cicd/stagex/lock"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// NewKey makes an Ed25519 OpenPGP key (fast to generate). With subkey, it
// also gets a signing subkey, which then makes its signatures.
func NewKey(t *testing.T, who string, subkey bool) *openpgp.Entity {
	t.Helper()
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA}
	e, err := openpgp.NewEntity(who, "test", who+"@example.com", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if subkey {
		if err := e.AddSigningSubkey(cfg); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// WriteKeyring writes the public keys, armored, one block each, into one
// file, as gpg --export --armor A B does not (it writes one block); both
// forms are read.
func WriteKeyring(t *testing.T, dir string, keys ...*openpgp.Entity) string {
	t.Helper()
	var buf bytes.Buffer
	for _, k := range keys {
		w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := k.Serialize(w); err != nil {
			t.Fatal(err)
		}
		w.Close()
		buf.WriteString("\n")
	}
	p := filepath.Join(dir, "keyring.asc")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Payload is the payload StageX's sign.sh signs.
func Payload(ref, digest string) []byte {
	return []byte(fmt.Sprintf(`{"critical":{"identity":{"docker-reference":%q},"image":{"docker-manifest-digest":%q},"type":"atomic container signature"},"optional":{}}`, ref, digest))
}

// Sign makes a binary OpenPGP signed message, as gpg --sign --no-armor.
// Signing in memory with a fresh key cannot fail short of a bug, so a
// failure panics.
func Sign(k *openpgp.Entity, payload []byte) []byte {
	var buf bytes.Buffer
	w, err := openpgp.Sign(&buf, k, nil, nil)
	if err == nil {
		_, err = w.Write(payload)
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// Lookaside is a lookaside folder under construction.
type Lookaside struct {
	t   *testing.T
	Dir string
}

func NewLookaside(t *testing.T) *Lookaside { return &Lookaside{t: t, Dir: t.TempDir()} }

// Put stores data as the next signature-N of a digest.
func (l *Lookaside) Put(repoPath, digest string, data []byte) string {
	l.t.Helper()
	for n := 1; ; n++ {
		p := filepath.Join(l.Dir, filepath.FromSlash(lock.SignaturePath(repoPath, digest, n)))
		if _, err := os.Stat(p); err == nil {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			l.t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			l.t.Fatal(err)
		}
		return p
	}
}

// SignBy stores a signature of digest, naming ref, by each key.
func (l *Lookaside) SignBy(ref, digest string, keys ...*openpgp.Entity) {
	l.t.Helper()
	named, err := name.ParseReference(ref)
	if err != nil {
		l.t.Fatal(err)
	}
	for _, k := range keys {
		l.Put(named.Context().RepositoryStr(), digest, Sign(k, Payload(ref, digest)))
	}
}

// Serve serves the folder over HTTP on loopback.
func (l *Lookaside) Serve() string {
	srv := httptest.NewServer(http.FileServer(http.Dir(l.Dir)))
	l.t.Cleanup(srv.Close)
	return srv.URL
}

// Registry starts an in-process registry on loopback for the test and
// returns the repository prefix "<host>/stagex" on it.
func Registry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://") + "/stagex"
}

// PushPackage pushes <prefix>/<name>:<version> for the platforms: an
// index for several, a single image for one. It returns the image
// manifest digest of each platform.
func PushPackage(t *testing.T, prefix, pkg, version string, plats ...string) map[string]string {
	t.Helper()
	tag, err := name.NewTag(prefix + "/" + pkg + ":" + version)
	if err != nil {
		t.Fatal(err)
	}
	digests := map[string]string{}
	var idx v1.ImageIndex = empty.Index
	var single v1.Image
	for _, p := range plats {
		img, err := random.Image(64, 1)
		if err != nil {
			t.Fatal(err)
		}
		plat, err := v1.ParsePlatform(p)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture, cf.Variant = plat.OS, plat.Architecture, plat.Variant
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		digests[p] = d.String()
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: plat}})
		single = img
	}
	if len(plats) == 1 {
		err = remote.Write(tag, single)
	} else {
		err = remote.WriteIndex(tag, idx)
	}
	if err != nil {
		t.Fatal(err)
	}
	return digests
}

// Keyring writes the keys to a keyring file and loads it.
func Keyring(t *testing.T, keys ...*openpgp.Entity) *lock.Keyring {
	t.Helper()
	k, err := lock.LoadKeyring([]string{WriteKeyring(t, t.TempDir(), keys...)})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// WantErr fails unless err contains every part; it logs err, so that
// -v shows the messages users get.
func WantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", parts)
	}
	t.Logf("error (as expected):\n%v", err)
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q\ndoes not contain %q", err, p)
		}
	}
}

// ReleaseListHeader is the header line of a release list.
const ReleaseListHeader = "image\tversion\tlicense\tsource_package\tdigest\n"

// ReleaseList is a release list of release 2026.03.0 with the rows given,
// each "image<TAB>version<TAB>license<TAB>source_package<TAB>digest".
func ReleaseList(rows ...string) string {
	return "# StageX release 2026.03.0 (signed tag): test list\n# a second comment\n" + ReleaseListHeader + strings.Join(rows, "\n") + "\n"
}
