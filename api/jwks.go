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

	mu      sync.RWMutex // held to write while fetching: concurrent misses wait for one fetch
	keys    []jose.JSONWebKey
	fetched time.Time // the last fetch, successful or not (zero: never)
}

func newKeySet(url string, cooldown time.Duration) *keySet {
	return &keySet{url: url, client: &http.Client{Timeout: 10 * time.Second}, cooldown: cooldown, now: time.Now}
}

var errUnknownKey = errors.New("the token is not signed by a key of the identity provider")

// VerifySignature implements oidc.KeySet: the payload, if a key of the set signed it.
func (k *keySet) VerifySignature(ctx context.Context, token string) ([]byte, error) {
	jws, err := jose.ParseSigned(token, signingAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, errors.New("malformed token")
	}
	kid := jws.Signatures[0].Header.KeyID
	k.mu.RLock()
	keys := k.keys
	k.mu.RUnlock()
	if payload, ok := verifyWith(jws, kid, keys); ok {
		return payload, nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	// Another request may have fetched the keys while this one waited.
	if payload, ok := verifyWith(jws, kid, k.keys); ok {
		return payload, nil
	}
	if !k.fetched.IsZero() && k.now().Sub(k.fetched) < k.cooldown {
		return nil, errUnknownKey
	}
	if err := k.refresh(ctx); err != nil {
		return nil, err
	}
	if payload, ok := verifyWith(jws, kid, k.keys); ok {
		return payload, nil
	}
	return nil, errUnknownKey
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

// refresh fetches the JWKS (k.mu held). A failed fetch counts for the cooldown
// too, so an identity provider that is down is not asked on every request.
func (k *keySet) refresh(ctx context.Context) error {
	k.fetched = k.now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	res, err := k.client.Do(req)
	if err != nil {
		return fmt.Errorf("fetching the JWKS: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("fetching the JWKS: %s", res.Status)
	}
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&raw); err != nil {
		return fmt.Errorf("reading the JWKS: %w", err)
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
	k.keys = keys
	return nil
}
