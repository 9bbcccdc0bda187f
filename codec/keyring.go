package codec

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// KeySize is the length in bytes of every key in a KeyRing (AES-256).
const KeySize = 32

// maxKeyRingBytes bounds what ParseKeyRing and LoadKeyRing accept.
const maxKeyRingBytes = 1 << 20

// keyIDPattern is what a key ID may look like. Key IDs are written, in clear, into every encrypted
// payload's metadata, so they must be short and must not carry anything secret.
var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// KeyRing holds the AES-256-GCM keys of the payload codec by key ID, and which of them encrypts
// new payloads. Older keys stay in the ring so that payloads written under them can still be
// decrypted. A KeyRing is immutable and safe for concurrent use.
//
// Printing a KeyRing (fmt, slog, encoding/json) shows the key IDs only, never key material.
// Marshal is the one way to get the key material back out, in the key file format.
type KeyRing struct {
	active string
	raw    map[string][]byte
	aeads  map[string]cipher.AEAD
}

// keyFile is the key file format:
//
//	{"active":"k2","keys":{"k1":"<standard base64 of 32 bytes>","k2":"..."}}
type keyFile struct {
	Active string            `json:"active"`
	Keys   map[string]string `json:"keys"`
}

// NewKeyRing builds a KeyRing from raw 32-byte keys. The map and slices are copied.
func NewKeyRing(active string, keys map[string][]byte) (*KeyRing, error) {
	if len(keys) == 0 {
		return nil, errors.New("key ring: no keys")
	}
	r := &KeyRing{active: active, raw: make(map[string][]byte, len(keys)), aeads: make(map[string]cipher.AEAD, len(keys))}
	for _, id := range sortedIDs(keys) {
		k := keys[id]
		if !keyIDPattern.MatchString(id) {
			return nil, fmt.Errorf("key ring: key ID %s is not valid (want 1-64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit)", describeID(id))
		}
		if len(k) != KeySize {
			return nil, fmt.Errorf("key ring: key %q is %d bytes, want %d (AES-256)", id, len(k), KeySize)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("key ring: key %q: cannot build AES cipher", id)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("key ring: key %q: cannot build GCM", id)
		}
		r.raw[id] = bytes.Clone(k)
		r.aeads[id] = aead
	}
	if active == "" {
		return nil, errors.New(`key ring: no active key ("active" is empty)`)
	}
	if _, ok := r.aeads[active]; !ok {
		return nil, fmt.Errorf("key ring: active key %s is not one of the keys %q", describeID(active), r.KeyIDs())
	}
	return r, nil
}

// ParseKeyRing parses the key file format (see LoadKeyRing) from a string, for instance the value of
// an environment variable. Errors say what is wrong without quoting key material.
func ParseKeyRing(s string) (*KeyRing, error) {
	return parseKeyRing([]byte(s))
}

// LoadKeyRing reads a key file. The format is JSON:
//
//	{"active": "k2", "keys": {"k1": "<base64>", "k2": "<base64>"}}
//
// where each value is the standard (padded) base64 encoding of 32 random bytes, "active" names the
// key that encrypts new payloads, and every key listed can decrypt. Unknown fields and duplicate key
// IDs are errors.
func LoadKeyRing(path string) (*KeyRing, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("key ring: %w", err)
	}
	defer func() { _ = f.Close() }() // read only: nothing is lost with its error
	b, err := io.ReadAll(io.LimitReader(f, maxKeyRingBytes+1))
	if err != nil {
		return nil, fmt.Errorf("key ring: reading %s: %w", path, err)
	}
	r, err := parseKeyRing(b)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return r, nil
}

func parseKeyRing(b []byte) (*KeyRing, error) {
	if len(b) > maxKeyRingBytes {
		return nil, fmt.Errorf("key ring: more than %d bytes", maxKeyRingBytes)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, errors.New("key ring: empty")
	}
	// json's own error messages may quote a character of the input; report only the position.
	if !json.Valid(b) {
		var syn *json.SyntaxError
		if err := json.Unmarshal(b, new(any)); errors.As(err, &syn) {
			return nil, fmt.Errorf("key ring: not valid JSON (near byte %d); want {\"active\":\"<id>\",\"keys\":{\"<id>\":\"<base64 of 32 bytes>\"}}", syn.Offset)
		}
		return nil, errors.New("key ring: not valid JSON")
	}
	if err := checkNoDuplicateKeyIDs(b); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var kf keyFile
	if err := dec.Decode(&kf); err != nil {
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &typ):
			return nil, fmt.Errorf("key ring: field %q has the wrong type; want {\"active\":\"<id>\",\"keys\":{\"<id>\":\"<base64 of 32 bytes>\"}}", typ.Field)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
			return nil, fmt.Errorf("key ring: unknown field %s (allowed: \"active\", \"keys\")", describeID(field))
		default:
			return nil, errors.New("key ring: cannot decode; want {\"active\":\"<id>\",\"keys\":{\"<id>\":\"<base64 of 32 bytes>\"}}")
		}
	}
	if len(kf.Keys) == 0 {
		return nil, errors.New(`key ring: no keys ("keys" is missing or empty)`)
	}
	raw := make(map[string][]byte, len(kf.Keys))
	for _, id := range sortedIDs(kf.Keys) {
		k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(kf.Keys[id]))
		if err != nil {
			return nil, fmt.Errorf("key ring: key %s is not standard base64", describeID(id))
		}
		raw[id] = k
	}
	return NewKeyRing(kf.Active, raw)
}

// checkNoDuplicateKeyIDs rejects a "keys" object that names an ID twice: encoding/json would keep
// the last one silently, and payloads written under the other would become unreadable.
func checkNoDuplicateKeyIDs(b []byte) error {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return nil // the typed decode reports it
	}
	keys, ok := top["keys"]
	if !ok {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(keys))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil
		}
		id, _ := t.(string)
		if seen[id] {
			return fmt.Errorf("key ring: key ID %s appears twice in \"keys\"", describeID(id))
		}
		seen[id] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil
		}
	}
	return nil
}

// ActiveKeyID returns the ID of the key that encrypts new payloads.
func (r *KeyRing) ActiveKeyID() string { return r.active }

// KeyIDs returns every key ID in the ring, sorted.
func (r *KeyRing) KeyIDs() []string { return sortedIDs(r.raw) }

// WithKey returns a copy of the ring with one more key. If activate is true the new key becomes the
// active one. Adding an ID that is already present is an error.
func (r *KeyRing) WithKey(id string, key []byte, activate bool) (*KeyRing, error) {
	if _, ok := r.raw[id]; ok {
		return nil, fmt.Errorf("key ring: key ID %q already exists", id)
	}
	keys := make(map[string][]byte, len(r.raw)+1)
	for k, v := range r.raw {
		keys[k] = v
	}
	keys[id] = key
	active := r.active
	if activate {
		active = id
	}
	return NewKeyRing(active, keys)
}

// WithActive returns a copy of the ring whose active key is id, which must be in the ring.
func (r *KeyRing) WithActive(id string) (*KeyRing, error) {
	return NewKeyRing(id, r.raw)
}

// Marshal returns the ring in the key file format (indented JSON with a trailing newline).
// The result contains key material: write it only to a file of mode 0600 or a secret store.
func (r *KeyRing) Marshal() []byte {
	kf := keyFile{Active: r.active, Keys: make(map[string]string, len(r.raw))}
	for id, k := range r.raw {
		kf.Keys[id] = base64.StdEncoding.EncodeToString(k)
	}
	b, err := json.MarshalIndent(kf, "", "  ")
	if err != nil {
		panic(err) // strings only: cannot fail
	}
	return append(b, '\n')
}

// String describes the ring without key material.
func (r KeyRing) String() string {
	return fmt.Sprintf("codec.KeyRing{active: %q, keys: %q}", r.active, sortedIDs(r.raw))
}

// GoString keeps %#v from printing key material.
func (r KeyRing) GoString() string { return r.String() }

// LogValue keeps slog from printing key material.
func (r KeyRing) LogValue() slog.Value {
	return slog.GroupValue(slog.String("active", r.active), slog.Any("keys", sortedIDs(r.raw)))
}

// MarshalJSON keeps encoding/json from printing key material; use Marshal for the key file.
func (r KeyRing) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Active string   `json:"active"`
		Keys   []string `json:"key_ids"`
	}{r.active, sortedIDs(r.raw)})
}

// NewKey returns 32 bytes from crypto/rand.
func NewKey() []byte {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		panic("codec: crypto/rand failed: " + err.Error())
	}
	return k
}

// NewKeyID returns a fresh key ID: "k" + the UTC date + "-" + 6 random hex digits, for instance
// "k20261105-3fa9c2". IDs sort by creation date, which helps a person reading the key file.
func NewKeyID() string {
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("codec: crypto/rand failed: " + err.Error())
	}
	return "k" + time.Now().UTC().Format("20060102") + "-" + hex.EncodeToString(b[:])
}

// GenerateKeyRing returns a new ring holding one random key, which is active.
func GenerateKeyRing() *KeyRing {
	id := NewKeyID()
	r, err := NewKeyRing(id, map[string][]byte{id: NewKey()})
	if err != nil {
		panic(err)
	}
	return r
}

// GenerateKeyRingFile creates a new key file at path holding one random key, with mode 0600, and
// returns the ring. It refuses to overwrite an existing file (the error then satisfies
// errors.Is(err, fs.ErrExist)), because replacing a key file makes every payload encrypted under its
// keys unreadable. The parent directory must exist.
func GenerateKeyRingFile(path string) (*KeyRing, error) {
	r := GenerateKeyRing()
	// Its folder too: on a fresh checkout `homeward dev` has not made data/ yet.
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("key ring: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("key ring: %w", err)
	}
	// A write that failed leaves no half-written file behind, or says so: it would
	// hold key material, and the next start would refuse to overwrite it.
	fail := func(err error) (*KeyRing, error) {
		_ = f.Close() // the write's own error is the one to report; it may be closed already
		return nil, fmt.Errorf("key ring: writing %s: %w", path, errors.Join(err, os.Remove(path)))
	}
	if _, err := f.Write(r.Marshal()); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	return r, nil
}

// LoadOrGenerateKeyRingFile loads the key file at path, or creates it with GenerateKeyRingFile if
// it does not exist. created reports which happened. Meant for `homeward dev`.
func LoadOrGenerateKeyRingFile(path string) (r *KeyRing, created bool, err error) {
	r, err = LoadKeyRing(path)
	if err == nil {
		return r, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, err
	}
	r, err = GenerateKeyRingFile(path)
	if errors.Is(err, os.ErrExist) { // another process created it in between
		r, err = LoadKeyRing(path)
		return r, false, err
	}
	return r, err == nil, err
}

// RotateKeyRing takes key file content, adds a fresh random key, makes it the active key, keeps all
// the old keys, and returns the new content and the new key's ID. The input is validated first.
func RotateKeyRing(content []byte) (newContent []byte, newID string, err error) {
	r, err := parseKeyRing(content)
	if err != nil {
		return nil, "", err
	}
	newID = NewKeyID()
	for r.raw[newID] != nil {
		newID = NewKeyID()
	}
	r, err = r.WithKey(newID, NewKey(), true)
	if err != nil {
		return nil, "", err
	}
	return r.Marshal(), newID, nil
}

// RotateKeyRingFile rotates the key file at path in place (see RotateKeyRing): the new content is
// written to a temporary file of mode 0600 in the same directory and renamed over the old one, so a
// crash leaves either the old or the new file. Processes that already loaded the ring keep using
// the old active key until restarted; they cannot decrypt payloads written under the new key until
// then (a workflow task failing that way is retried, not lost).
func RotateKeyRingFile(path string) (newID string, err error) {
	old, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("key ring: %w", err)
	}
	content, newID, err := RotateKeyRing(old)
	if err != nil {
		return "", fmt.Errorf("%w (file %s)", err, path)
	}
	if err := writeFileAtomic(path, content); err != nil {
		return "", err
	}
	return newID, nil
}

func writeFileAtomic(path string, content []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("key ring: %w", err)
	}
	name := tmp.Name()
	// A temporary file left behind would hold key material: its removal's error is reported too.
	fail := func(err error) error {
		_ = tmp.Close() // the write's own error is the one to report; it may be closed already
		return fmt.Errorf("key ring: writing %s: %w", path, errors.Join(err, os.Remove(name)))
	}
	if err := tmp.Chmod(0o600); err != nil {
		return fail(err)
	}
	if _, err := tmp.Write(content); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(name, path); err != nil {
		return fail(err)
	}
	return nil
}

func sortedIDs[V any](m map[string]V) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// describeID quotes a key ID for an error message if it looks like one; anything else (which might
// be key material pasted in the wrong place) is described by its length only.
func describeID(id string) string {
	if keyIDPattern.MatchString(id) {
		return strconv.Quote(id)
	}
	return fmt.Sprintf("(not shown: %d characters, not a valid key ID)", len(id))
}

// Derive is a 32-byte key for one purpose (such as sealing the workspace's session
// cookies), derived from the active key with HMAC-SHA256: the purpose's key changes
// when the active key does, and it never reveals the key it comes from.
func (r *KeyRing) Derive(purpose string) []byte {
	m := hmac.New(sha256.New, r.raw[r.active])
	m.Write([]byte("homeward derived key\x00" + purpose))
	return m.Sum(nil)
}
