package lock

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// KeyringHint says where StageX's maintainer keys come from; every keyring
// error carries it, since a missing or empty keyring is the usual first
// mistake.
const KeyringHint = "StageX's README points to its maintainers' public keys (the keys folder of the StageX repository) " +
	"and MAINTAINERS links each maintainer's Keyoxide profile; fetch the keys (e.g. from keys.openpgp.org), " +
	"check their fingerprints out of band, and export them: gpg --export --armor FPR1 FPR2 … > stagex-keyring.asc (see docs/lock.md)"

// Keyring is the set of OpenPGP keys whose signatures count.
type Keyring struct {
	entities openpgp.EntityList
}

// LoadKeyring reads OpenPGP public keys from files and folders (every
// regular file in a folder, sorted; not recursive). A file may be armored,
// holding one or more armored key blocks, or binary (gpg --export). A key
// given twice is kept once.
func LoadKeyring(paths []string) (*Keyring, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("no keyring given: pass --keyring FILE\nhint: %s", KeyringHint)
	}
	var files []KeyFile
	for _, p := range paths {
		names, err := keyFiles(p)
		if err != nil {
			return nil, err
		}
		for _, f := range names {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("keyring %s: %w\nhint: %s", f, err, KeyringHint)
			}
			files = append(files, KeyFile{Name: f, Data: data})
		}
	}
	return ParseKeyring(files)
}

// KeyFile is one keyring file's content, named for messages.
type KeyFile struct {
	Name string
	Data []byte
}

// ParseKeyring reads the public keys of keyring files already in memory
// (the frontend reads them from a build context). Every file must hold at
// least one public key and no private key.
func ParseKeyring(files []KeyFile) (*Keyring, error) {
	if len(files) == 0 {
		return nil, fmt.Errorf("the keyring holds no file\nhint: %s", KeyringHint)
	}
	k := &Keyring{}
	seen := map[string]bool{}       // primary fingerprints
	material := map[string]string{} // key material -> primary fingerprint
	for _, f := range files {
		els, err := readKeys(f.Data)
		if err != nil {
			return nil, fmt.Errorf("keyring %s: %v\nhint: write OpenPGP public keys, armored or binary (gpg --export)", f.Name, err)
		}
		if len(els) == 0 {
			return nil, fmt.Errorf("keyring %s holds no OpenPGP public key\nhint: %s", f.Name, KeyringHint)
		}
		for _, e := range els {
			fpr := Fingerprint(e)
			if e.PrivateKey != nil {
				return nil, fmt.Errorf("keyring %s holds a private key (%s)\nhint: export the public key only: gpg --export --armor FPR", f.Name, fpr)
			}
			if seen[fpr] {
				continue
			}
			seen[fpr] = true
			for _, m := range keyMaterial(e) {
				if other, dup := material[m]; dup && other != fpr {
					return nil, fmt.Errorf("keyring: keys %s and %s share key material (one private key under two creation times): they are one signer and may not count twice\nhint: keep one of them", other, fpr)
				}
				material[m] = fpr
			}
			k.entities = append(k.entities, e)
		}
	}
	return k, nil
}

// keyFiles expands a folder into its regular files, sorted.
func keyFiles(p string) ([]string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("keyring %s: %w\nhint: %s", p, errors.Unwrap(err), KeyringHint)
	}
	if !st.IsDir() {
		return []string{p}, nil
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
			files = append(files, filepath.Join(p, e.Name()))
		}
	}
	sort.Strings(files)
	if len(files) == 0 {
		return nil, fmt.Errorf("keyring folder %s holds no key file\nhint: %s", p, KeyringHint)
	}
	return files, nil
}

// readKeys reads every key of a keyring file: binary packets (gpg
// --export), or every armored public key block in turn.
func readKeys(data []byte) (openpgp.EntityList, error) {
	if !isArmored(data) {
		return openpgp.ReadKeyRing(bytes.NewReader(data))
	}
	blocks, err := decodeArmor(data)
	if err != nil {
		return nil, err
	}
	var all openpgp.EntityList
	for _, b := range blocks {
		if b.Type != openpgp.PublicKeyType {
			return nil, fmt.Errorf("armored block %q is not a public key block (%q)", b.Type, openpgp.PublicKeyType)
		}
		els, err := openpgp.ReadKeyRing(b.Body)
		if err != nil {
			return nil, err
		}
		all = append(all, els...)
	}
	return all, nil
}

const armorBegin, armorEnd = "-----BEGIN PGP ", "-----END PGP "

func isArmored(data []byte) bool { return bytes.Contains(data, []byte(armorBegin)) }

// decodeArmor decodes every armored block of data in order. The blocks are
// cut apart first: armor.Decode reads ahead past a block's end, and
// openpgp.ReadArmoredKeyRing stops after the first block.
func decodeArmor(data []byte) ([]*armor.Block, error) {
	var blocks []*armor.Block
	for rest := data; ; {
		i := bytes.Index(rest, []byte(armorBegin))
		if i < 0 {
			break
		}
		rest = rest[i:]
		end := len(rest)
		if j := bytes.Index(rest, []byte(armorEnd)); j >= 0 {
			if k := bytes.IndexByte(rest[j:], '\n'); k >= 0 {
				end = j + k + 1
			}
		}
		b, err := armor.Decode(bytes.NewReader(rest[:end]))
		if err != nil {
			return nil, fmt.Errorf("armored block %d: %v", len(blocks)+1, err)
		}
		blocks = append(blocks, b)
		rest = rest[end:]
	}
	return blocks, nil
}

// Fingerprints returns the primary key fingerprints of the keyring, sorted.
func (k *Keyring) Fingerprints() []string {
	out := make([]string, 0, len(k.entities))
	for _, e := range k.entities {
		out = append(out, Fingerprint(e))
	}
	sort.Strings(out)
	return out
}

// Fingerprint is an entity's primary key fingerprint as the lock records
// it: uppercase hex without spaces.
func Fingerprint(e *openpgp.Entity) string {
	return strings.ToUpper(fmt.Sprintf("%x", e.PrimaryKey.Fingerprint))
}

// keyMaterial identifies the public key material of an entity's primary key
// and subkeys, whatever their creation times. An OpenPGP fingerprint hashes
// the creation time too, so one private key exported under two creation
// times has two fingerprints; the quorum counts fingerprints, so the keyring
// refuses such twins (the RSA-modulus rule of package signing, for PGP).
func keyMaterial(e *openpgp.Entity) []string {
	keys := []*packet.PublicKey{e.PrimaryKey}
	for _, sk := range e.Subkeys {
		keys = append(keys, sk.PublicKey)
	}
	var out []string
	for _, pk := range keys {
		var b bytes.Buffer
		if pk == nil || pk.SerializeForHash(&b) != nil {
			continue
		}
		body := b.Bytes()
		// 0x99 + 2-byte length (v4) or 0x9b + 4-byte length (v6), then the
		// version octet and the 4-octet creation time, which is zeroed.
		at := 4
		if body[0] != 0x99 {
			at = 6
		}
		if len(body) < at+4 {
			continue
		}
		clear(body[at : at+4])
		sum := sha256.Sum256(body)
		out = append(out, hex.EncodeToString(sum[:]))
	}
	return out
}
