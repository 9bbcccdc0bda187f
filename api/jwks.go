package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// signingAlgs are the JWS algorithms Homeward accepts from an identity provider.
var signingAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.PS256}

// keySet is the identity provider's signing keys (its JWKS). A token that names
// a key the set does not hold makes it fetch the JWKS again, but at most once per
// cooldown: otherwise every forged token with a made-up key ID would become a
// request to the identity provider (go-oidc's RemoteKeySet fetches each time).
type keySet struct {
	url      string
	client   *http.Client
	cooldown time.Duration
	now      func() time.Time

	fetch sync.Mutex   // one fetch at a time: concurrent misses wait for it, not for each other's
	mu    sync.RWMutex // guards keys and fetched; never held across a fetch, so known keys never wait
	keys  []jose.JSONWebKey
	// fetched is when the JWKS was last asked for, successfully or not (zero: never).
	fetched time.Time
}

func newKeySet(url string, cooldown time.Duration) *keySet {
	return &keySet{url: url, client: &http.Client{Timeout: 10 * time.Second}, cooldown: cooldown, now: time.Now}
}

var errUnknownKey = errors.New("the token is not signed by a key of the identity provider")

// VerifySignature implements oidc.KeySet: the payload, if a key of the set signed it.
func (k *keySet) VerifySignature(ctx context.Context, token string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(token, signingAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, errors.New("malformed token")
	}
	kid := jws.Signatures[0].Header.KeyID
	if payload, ok := verifyWith(jws, kid, k.current()); ok {
		return payload, nil
	}
	k.fetch.Lock()
	defer k.fetch.Unlock()
	// Another request may have fetched the keys while this one waited.
	if payload, ok := verifyWith(jws, kid, k.current()); ok {
		return payload, nil
	}
	k.mu.Lock()
	cooling := !k.fetched.IsZero() && k.now().Sub(k.fetched) < k.cooldown
	if !cooling {
		// A failed fetch counts for the cooldown too, so an identity provider
		// that is down is not asked on every request.
		k.fetched = k.now()
	}
	k.mu.Unlock()
	if cooling {
		return nil, errUnknownKey
	}
	keys, err := k.get(ctx)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	k.keys = keys
	k.mu.Unlock()
	if payload, ok := verifyWith(jws, kid, keys); ok {
		return payload, nil
	}
	return nil, errUnknownKey
}

func (k *keySet) current() []jose.JSONWebKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.keys
}

func verifyWith(jws *jose.JSONWebSignature, kid string, keys []jose.JSONWebKey) ([]byte, bool) {
	for _, key := range keys {
		if kid != "" && key.KeyID != kid {
			continue
		}
		if payload, err := jws.Verify(&key); err == nil {
			return payload, true
		}
	}
	return nil, false
}

// get fetches the JWKS: the signing keys it holds.
func (k *keySet) get(ctx context.Context) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	res, err := k.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching the JWKS: %w", err)
	}
	defer func() { _ = res.Body.Close() }()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching the JWKS: %s", res.Status)
	}
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&raw); err != nil {
		return nil, fmt.Errorf("reading the JWKS: %w", err)
	}
	var keys []jose.JSONWebKey
	for _, r := range raw.Keys {
		var key jose.JSONWebKey
		// A key of a type go-jose does not know, or for encryption, is not ours to use.
		if err := json.Unmarshal(r, &key); err != nil || (key.Use != "" && key.Use != "sig") || !key.IsPublic() {
			continue
		}
		keys = append(keys, key)
	}
	return keys, nil
}
