package codec

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// BlindIndex is a keyed hash of a normalised search value of a kind (a name
// token, a phone number, a document number), for finding cases by it without
// storing the value. Its key is derived from the lookup key for this purpose
// alone ("homeward search key v1"), so a blind index never equals an identity
// hash (Hash), and both stay the same across key rotations.
func (s *Sealer) BlindIndex(kind, value string) string {
	key := hmac.New(sha256.New, s.lookup)
	key.Write([]byte("homeward search key v1"))
	mac := hmac.New(sha256.New, key.Sum(nil))
	mac.Write([]byte(kind + "\x00" + value))
	return hex.EncodeToString(mac.Sum(nil))
}
