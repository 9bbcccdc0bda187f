package codec

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// Sealer encrypts the most sensitive columns of the case file at rest with its own
// key ring (not the payload ring), and makes keyed hashes for the lookups that
// need equality (the same person registered twice) without storing the values.
type Sealer struct {
	ring   *KeyRing
	lookup []byte
}

// sealedPrefix marks a sealed value: "enc:<key id>:<base64 nonce|ciphertext>".
const sealedPrefix = "enc:"

// NewSealer seals with the ring's active key. The lookup key is derived from the
// key named lookupKeyID, which never changes (rotation adds keys and keeps old
// ones), so hashes stay equal across rotations.
func NewSealer(ring *KeyRing, lookupKeyID string) (*Sealer, error) {
	key, ok := ring.raw[lookupKeyID]
	if !ok {
		return nil, fmt.Errorf("%w: the lookup key %q is not in the ring", ErrUnknownKey, lookupKeyID)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("homeward lookup key v1"))
	return &Sealer{ring: ring, lookup: mac.Sum(nil)}, nil
}

// Seal encrypts a value; the column name is bound to it, so a value cannot be
// moved to another column unnoticed.
func (s *Sealer) Seal(column, plain string) (string, error) {
	id := s.ring.active
	aead := s.ring.aeads[id]
	nonce := make([]byte, nonceSize, nonceSize+len(plain)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	sealed := aead.Seal(nonce, nonce, []byte(plain), []byte(id+"\x00"+column))
	return sealedPrefix + id + ":" + base64.StdEncoding.EncodeToString(sealed), nil
}

// Open decrypts a sealed value. A value without the prefix was stored before
// sealing began (or is an anonymised placeholder) and is returned as it is.
func (s *Sealer) Open(column, value string) (string, error) {
	rest, ok := strings.CutPrefix(value, sealedPrefix)
	if !ok {
		return value, nil
	}
	id, b64, ok := strings.Cut(rest, ":")
	aead, known := s.ring.aeads[id]
	if !ok || !known {
		return "", fmt.Errorf("%w: sealed %s under key %q", ErrUnknownKey, column, id)
	}
	data, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(data) < nonceSize {
		return "", fmt.Errorf("%w: sealed %s", ErrMalformed, column)
	}
	plain, err := aead.Open(nil, data[:nonceSize], data[nonceSize:], []byte(id+"\x00"+column))
	if err != nil {
		return "", fmt.Errorf("%w: sealed %s", ErrDecrypt, column)
	}
	return string(plain), nil
}

// Hash is a keyed hash of the parts (normalised by the caller), for equality lookups.
func (s *Sealer) Hash(parts ...string) string {
	mac := hmac.New(sha256.New, s.lookup)
	mac.Write([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(mac.Sum(nil))
}
