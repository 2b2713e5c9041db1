// Package pii seals complainants' personal data (name, phone, e-mail) with
// AES-256-GCM under keys that each sealed value names by id, and gives a
// keyed hash (HMAC-SHA256) of phone numbers so that one person's complaints
// can be matched without decrypting.
//
// A keyring comes from a key file, from an environment variable, or, for
// the embedded default, from a file generated on first run in the data dir
// with mode 0600. The file holds one "hash" line (the key of the phone
// hash, which never changes) and one "key" line per AES key; the last key
// is the current one, that Seal uses. Rotate adds a new current key;
// values sealed with an older one still open, and re-sealing them (envmon
// keys rotate) moves them to the new key.
//
// pii imports only the standard library.
package pii

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// DefaultFile is the key file's name in the data dir.
const DefaultFile = "cases-keys"

// Env is the environment variable that may hold a keyring, in the key
// file's format with ';' or newlines between lines.
const Env = "ENVMON_CASES_KEYS"

// Prefix starts every sealed value: "pii1:<key id>:<base64 nonce|ciphertext>".
const Prefix = "pii1:"

// Keyring holds the keys. It is safe for concurrent use.
type Keyring struct {
	mu      sync.RWMutex
	path    string // where Rotate saves; "" when from the environment
	hashKey []byte
	ids     []string
	keys    map[string]cipher.AEAD
	raw     map[string][]byte
}

// Source says where the keyring comes from: File if set, else the
// environment value EnvValue if set, else DataDir/DefaultFile, created
// with a new key on first use.
type Source struct {
	File     string
	EnvValue string
	DataDir  string
}

// Open loads, or on first run creates, the keyring that s names.
func Open(s Source) (*Keyring, error) {
	switch {
	case s.File != "":
		return load(s.File, false)
	case s.EnvValue != "":
		k, err := Parse(strings.ReplaceAll(s.EnvValue, ";", "\n"))
		if err != nil {
			return nil, fmt.Errorf("$%s: %w", Env, err)
		}
		return k, nil
	case s.DataDir != "":
		return load(filepath.Join(s.DataDir, DefaultFile), true)
	}
	return nil, errors.New("pii: no key file, $" + Env + " or data dir")
}

func load(path string, create bool) (*Keyring, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && create {
		k := New()
		k.path = path
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("pii: %w", err)
		}
		if err := k.save(); err != nil {
			return nil, err
		}
		return k, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pii: key file: %w", err)
	}
	k, err := Parse(string(data))
	if err != nil {
		return nil, fmt.Errorf("pii: key file %s: %w", path, err)
	}
	k.path = path
	return k, nil
}

// New returns a keyring with a new hash key and a new current key, kept in
// memory only.
func New() *Keyring {
	k := &Keyring{keys: map[string]cipher.AEAD{}, raw: map[string][]byte{}, hashKey: random(32)}
	k.add(newID(), random(32))
	return k
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func newID() string { return "k" + hex.EncodeToString(random(4)) }

// Parse reads a keyring in the key file's format.
func Parse(s string) (*Keyring, error) {
	k := &Keyring{keys: map[string]cipher.AEAD{}, raw: map[string][]byte{}}
	for i, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		bad := fmt.Errorf("line %d: want \"hash <base64>\" or \"key <id> <base64 of 32 bytes>\"", i+1)
		switch {
		case len(f) == 2 && f[0] == "hash":
			b, err := base64.StdEncoding.DecodeString(f[1])
			if err != nil || len(b) < 16 {
				return nil, bad
			}
			k.hashKey = b
		case len(f) == 3 && f[0] == "key":
			b, err := base64.StdEncoding.DecodeString(f[2])
			if err != nil || len(b) != 32 || strings.ContainsRune(f[1], ':') {
				return nil, bad
			}
			if _, dup := k.raw[f[1]]; dup {
				return nil, fmt.Errorf("line %d: key id %s repeated", i+1, f[1])
			}
			k.add(f[1], b)
		default:
			return nil, bad
		}
	}
	if len(k.ids) == 0 || k.hashKey == nil {
		return nil, errors.New("want a hash line and at least one key line")
	}
	return k, nil
}

func (k *Keyring) add(id string, key []byte) {
	block, _ := aes.NewCipher(key)
	gcm, _ := cipher.NewGCM(block)
	k.ids = append(k.ids, id)
	k.keys[id] = gcm
	k.raw[id] = key
}

// Format writes the keyring in the key file's format. It is secret.
func (k *Keyring) Format() string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	var b strings.Builder
	b.WriteString("# envmon cases keyring: secret. The last key is current.\n")
	fmt.Fprintf(&b, "hash %s\n", base64.StdEncoding.EncodeToString(k.hashKey))
	for _, id := range k.ids {
		fmt.Fprintf(&b, "key %s %s\n", id, base64.StdEncoding.EncodeToString(k.raw[id]))
	}
	return b.String()
}

// save writes the key file with mode 0600, atomically.
func (k *Keyring) save() error {
	tmp := k.path + ".tmp"
	if err := os.WriteFile(tmp, []byte(k.Format()), 0o600); err != nil {
		return fmt.Errorf("pii: save keys: %w", err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fmt.Errorf("pii: save keys: %w", err)
	}
	if err := os.Rename(tmp, k.path); err != nil {
		return fmt.Errorf("pii: save keys: %w", err)
	}
	return nil
}

// Current is the id of the key Seal uses.
func (k *Keyring) Current() string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.ids[len(k.ids)-1]
}

// Rotate adds a new current key and, when the keyring came from a file,
// saves it. It returns the new key's id.
func (k *Keyring) Rotate() (string, error) {
	k.mu.Lock()
	id := newID()
	k.add(id, random(32))
	path := k.path
	k.mu.Unlock()
	if path == "" {
		return id, nil
	}
	return id, k.save()
}

// Seal encrypts s under the current key, with aad binding it to its place
// (such as "complainant:ID:phone"). The empty string seals to "".
func (k *Keyring) Seal(s, aad string) string {
	if s == "" {
		return ""
	}
	k.mu.RLock()
	id := k.ids[len(k.ids)-1]
	gcm := k.keys[id]
	k.mu.RUnlock()
	nonce := random(gcm.NonceSize())
	out := gcm.Seal(nonce, nonce, []byte(s), []byte(aad))
	return Prefix + id + ":" + base64.RawStdEncoding.EncodeToString(out)
}

// KeyID returns the id of the key that sealed v.
func KeyID(v string) string {
	rest, ok := strings.CutPrefix(v, Prefix)
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, ":")
	return id
}

// Open decrypts a value Seal gave with the same aad.
func (k *Keyring) Open(v, aad string) (string, error) {
	if v == "" {
		return "", nil
	}
	rest, ok := strings.CutPrefix(v, Prefix)
	id, enc, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 {
		return "", errors.New("pii: not a sealed value")
	}
	k.mu.RLock()
	gcm := k.keys[id]
	k.mu.RUnlock()
	if gcm == nil {
		return "", fmt.Errorf("pii: unknown key %s", id)
	}
	b, err := base64.RawStdEncoding.DecodeString(enc)
	if err != nil || len(b) < gcm.NonceSize() {
		return "", errors.New("pii: corrupt sealed value")
	}
	plain, err := gcm.Open(nil, b[:gcm.NonceSize()], b[gcm.NonceSize():], []byte(aad))
	if err != nil {
		return "", fmt.Errorf("pii: open value sealed with %s: %w", id, err)
	}
	return string(plain), nil
}

// PhoneHash is the keyed hash of a phone number, after keeping only its
// digits (and a leading +86 or 86 dropped), or "" for no number.
func (k *Keyring) PhoneHash(phone string) string {
	var d strings.Builder
	for _, r := range phone {
		if r >= '0' && r <= '9' {
			d.WriteRune(r)
		}
	}
	n := d.String()
	if len(n) == 13 && strings.HasPrefix(n, "86") {
		n = n[2:]
	}
	if n == "" {
		return ""
	}
	k.mu.RLock()
	m := hmac.New(sha256.New, k.hashKey)
	k.mu.RUnlock()
	m.Write([]byte("phone:" + n))
	return hex.EncodeToString(m.Sum(nil))
}
