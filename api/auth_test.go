package api_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/api"
	"github.com/homeward/homeward/config"
	"github.com/homeward/homeward/contract"
)

// identityProvider serves a JWKS and signs access tokens, like an OIDC provider.
// It counts the fetches of its JWKS.
type identityProvider struct {
	*httptest.Server
	key     *rsa.PrivateKey
	signer  jose.Signer
	fetches atomic.Int64
	mu      sync.Mutex
	jwks    jose.JSONWebKeySet
	// hang, when set, holds each JWKS request until the client gives up or the
	// channel closes, after telling entered.
	hang    chan struct{}
	entered chan struct{}
}

func newIdentityProvider(t *testing.T) *identityProvider {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	p := &identityProvider{key: key,
		jwks: jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}}}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.fetches.Add(1)
		p.mu.Lock()
		hang, entered, jwks := p.hang, p.entered, p.jwks
		p.mu.Unlock()
		if hang != nil {
			entered <- struct{}{}
			select {
			case <-hang:
			case <-r.Context().Done():
			}
		}
		_ = json.NewEncoder(w).Encode(jwks)
	}))
	t.Cleanup(p.Close)
	p.signer = p.signerFor(t, "k1", key, nil)
	return p
}

func (p *identityProvider) signerFor(t *testing.T, kid string, key *rsa.PrivateKey, opts *jose.SignerOptions) jose.Signer {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, opts)
	require.NoError(t, err)
	return signer
}

// publish adds a key to the JWKS (a key rotation) and returns a signer with it.
func (p *identityProvider) publish(t *testing.T, kid string) jose.Signer {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	p.mu.Lock()
	p.jwks.Keys = append(p.jwks.Keys, jose.JSONWebKey{Key: &key.PublicKey, KeyID: kid, Algorithm: "RS256", Use: "sig"})
	p.mu.Unlock()
	return p.signerFor(t, kid, key, nil)
}

func (p *identityProvider) token(t *testing.T, claims map[string]any) string {
	return signed(t, p.signer, claims)
}

func signed(t *testing.T, signer jose.Signer, claims map[string]any) string {
	s, err := jwt.Signed(signer).Claims(claims).Serialize()
	require.NoError(t, err)
	return s
}

func TestOIDCAccessTokens(t *testing.T) {
	idp := newIdentityProvider(t)
	cfg := config.Auth{Tokens: []config.Token{{Token: "dev-manager", User: "manager", Role: "manager", Office: "*"}},
		OIDC: config.OIDC{Issuer: "https://idp.example", Audience: "homeward", JWKSURL: idp.URL, UserClaim: "sub",
			RoleClaim: "homeward_role", OfficeClaim: "homeward_office"}}
	auth := api.NewAuthenticator(context.Background(), cfg)
	valid := func() map[string]any {
		return map[string]any{"iss": "https://idp.example", "aud": "homeward", "sub": "ana", "exp": time.Now().Add(time.Hour).Unix(),
			"homeward_role": "approver", "homeward_office": "GN-CKY"}
	}
	with := func(k string, v any) map[string]any { c := valid(); c[k] = v; return c }

	p, err := auth.Authenticate(context.Background(), idp.token(t, valid()))
	require.NoError(t, err)
	require.Equal(t, contract.Actor{User: "ana", Role: contract.RoleApprover, Office: "GN-CKY"}, p)

	p, err = auth.Authenticate(context.Background(), "dev-manager")
	require.NoError(t, err, "configured tokens still work")
	require.Equal(t, contract.RoleManager, p.Role)

	for name, tc := range map[string]struct {
		token string
		kind  api.Kind
	}{
		"wrong audience":   {idp.token(t, with("aud", "someone-else")), api.KindUnauthorized},
		"wrong issuer":     {idp.token(t, with("iss", "https://evil.example")), api.KindUnauthorized},
		"expired":          {idp.token(t, with("exp", time.Now().Add(-time.Minute).Unix())), api.KindUnauthorized},
		"not a JWT":        {"not-a-token", api.KindUnauthorized},
		"tampered":         {idp.token(t, valid()) + "x", api.KindUnauthorized},
		"no Homeward role": {idp.token(t, with("homeward_role", "admin")), api.KindForbidden},
		"no office":        {idp.token(t, with("homeward_office", "")), api.KindForbidden},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := auth.Authenticate(context.Background(), tc.token)
			var e *api.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, tc.kind, e.Kind)
		})
	}
}

func TestAnotherKeyIsNotTrusted(t *testing.T) {
	idp, other := newIdentityProvider(t), newIdentityProvider(t)
	auth := api.NewAuthenticator(context.Background(), config.Auth{OIDC: config.OIDC{Issuer: "https://idp.example",
		Audience: "homeward", JWKSURL: idp.URL, UserClaim: "sub", RoleClaim: "r", OfficeClaim: "o"}})
	_, err := auth.Authenticate(context.Background(), other.token(t, map[string]any{"iss": "https://idp.example",
		"aud": "homeward", "sub": "x", "r": "manager", "o": "*", "exp": time.Now().Add(time.Hour).Unix()}))
	require.Error(t, err)
}

func oidcConfig(idp *identityProvider, cooldown time.Duration) config.Auth {
	return config.Auth{OIDC: config.OIDC{Issuer: "https://idp.example", Audience: "homeward", JWKSURL: idp.URL,
		UserClaim: "sub", RoleClaim: "homeward_role", OfficeClaim: "homeward_office", PartnerClaim: "homeward_partner",
		JWKSRefreshCooldown: cooldown}}
}

func claims(role, office string, extra ...any) map[string]any {
	c := map[string]any{"iss": "https://idp.example", "aud": "homeward", "sub": "ana", "exp": time.Now().Add(time.Hour).Unix(),
		"homeward_role": role, "homeward_office": office}
	for i := 0; i+1 < len(extra); i += 2 {
		c[extra[i].(string)] = extra[i+1]
	}
	return c
}

// A flood of forged tokens, each naming a key ID of its own, costs the identity
// provider at most one JWKS fetch per cooldown; a key the provider really
// rotated in is still found once the cooldown has passed.
func TestForgedKeyIDsDoNotMakeTheAPIFetchTheJWKSEachTime(t *testing.T) {
	idp := newIdentityProvider(t)
	auth := api.NewAuthenticator(context.Background(), oidcConfig(idp, 300*time.Millisecond))
	_, err := auth.Authenticate(context.Background(), idp.token(t, claims("approver", "GN-CKY")))
	require.NoError(t, err)
	require.EqualValues(t, 1, idp.fetches.Load(), "the first token fetches the keys")

	attacker, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	forged := func() error {
		kid := make([]byte, 8)
		_, _ = rand.Read(kid)
		tok := signed(t, idp.signerFor(t, hex.EncodeToString(kid), attacker, nil), claims("manager", "*"))
		_, err := auth.Authenticate(context.Background(), tok)
		return err
	}
	began := time.Now()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 25 {
				var e *api.Error
				if err := forged(); !errors.As(err, &e) || e.Kind != api.KindUnauthorized {
					t.Errorf("a forged token: %v", err)
				}
			}
		})
	}
	wg.Wait()
	// At most one fetch per cooldown that passed while they were checked (a busy
	// machine takes longer over them), never one per token.
	allowed := 2 + int64(time.Since(began)/(300*time.Millisecond))
	require.LessOrEqual(t, idp.fetches.Load(), min(allowed, 50), "100 forged tokens with unknown key IDs")

	// The provider rotates: a token signed with the new key is accepted once the
	// cooldown allows a fetch, and that costs one fetch, not one per attempt.
	before := idp.fetches.Load()
	rotated := signed(t, idp.publish(t, "k2"), claims("approver", "GN-CKY"))
	require.Eventually(t, func() bool {
		_, err := auth.Authenticate(context.Background(), rotated)
		return err == nil
	}, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, before+1, idp.fetches.Load())
}

// The token's type (typ header) and authorized party (azp), where the provider
// sets them, must be those of an access token for Homeward.
func TestAccessTokenTypeAndAuthorizedParty(t *testing.T) {
	idp := newIdentityProvider(t)
	cfg := oidcConfig(idp, time.Minute)
	auth := api.NewAuthenticator(context.Background(), cfg)
	typed := func(typ string, c map[string]any) string {
		opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ))
		return signed(t, idp.signerFor(t, "k1", idp.key, opts), c)
	}
	for name, tc := range map[string]struct {
		token string
		kind  api.Kind // "" accepted
	}{
		"no typ":                        {idp.token(t, claims("approver", "GN-CKY")), ""},
		"typ at+jwt":                    {typed("at+jwt", claims("approver", "GN-CKY")), ""},
		"typ application/at+jwt":        {typed("application/at+jwt", claims("approver", "GN-CKY")), ""},
		"typ JWT":                       {typed("JWT", claims("approver", "GN-CKY")), ""},
		"typ of a logout token":         {typed("logout+jwt", claims("approver", "GN-CKY")), api.KindUnauthorized},
		"typ of a refresh token":        {typed("refresh+jwt", claims("approver", "GN-CKY")), api.KindUnauthorized},
		"azp: the audience":             {idp.token(t, claims("approver", "GN-CKY", "azp", "homeward")), ""},
		"azp: another client":           {idp.token(t, claims("approver", "GN-CKY", "azp", "someone-elses-app")), api.KindUnauthorized},
		"azp: not a string":             {idp.token(t, claims("approver", "GN-CKY", "azp", 7)), api.KindUnauthorized},
		"every office for a manager":    {idp.token(t, claims("manager", "*")), ""},
		"every office for a service":    {idp.token(t, claims("service", "*", "homeward_partner", "medical")), ""},
		"a service of no partner kind":  {idp.token(t, claims("service", "*")), api.KindForbidden},
		"a service of an unknown kind":  {idp.token(t, claims("service", "*", "homeward_partner", "travel")), api.KindForbidden},
		"every office for a caseworker": {idp.token(t, claims("caseworker", "*")), api.KindForbidden},
		"every office for an approver":  {idp.token(t, claims("approver", "*")), api.KindForbidden},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := auth.Authenticate(context.Background(), tc.token)
			if tc.kind == "" {
				require.NoError(t, err)
				return
			}
			var e *api.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, tc.kind, e.Kind)
		})
	}

	cfg.OIDC.AuthorizedParties = []string{"homeward-web"}
	auth = api.NewAuthenticator(context.Background(), cfg)
	_, err := auth.Authenticate(context.Background(), idp.token(t, claims("approver", "GN-CKY", "azp", "homeward-web")))
	require.NoError(t, err, "a configured client")
	_, err = auth.Authenticate(context.Background(), idp.token(t, claims("approver", "GN-CKY", "azp", "homeward")))
	require.Error(t, err, "the configured clients replace the audience")
}

// While a JWKS fetch hangs (a forged token asked for an unknown key, the
// identity provider is slow), tokens signed with a known key are still verified
// at once.
func TestAKnownKeyDoesNotWaitForAFetch(t *testing.T) {
	idp := newIdentityProvider(t)
	auth := api.NewAuthenticator(context.Background(), oidcConfig(idp, time.Nanosecond))
	valid := idp.token(t, claims("approver", "GN-CKY"))
	_, err := auth.Authenticate(context.Background(), valid)
	require.NoError(t, err)

	hang := make(chan struct{})
	idp.mu.Lock()
	idp.hang, idp.entered = hang, make(chan struct{}, 1)
	entered := idp.entered
	idp.mu.Unlock()
	defer close(hang)
	attacker, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	forged := signed(t, idp.signerFor(t, "made-up", attacker, nil), claims("manager", "*"))
	go func() { _, _ = auth.Authenticate(context.Background(), forged) }()
	<-entered

	done := make(chan error, 1)
	go func() { _, err := auth.Authenticate(context.Background(), valid); done <- err }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(2 * time.Second):
		t.Fatal("a token with a known key waited for the hanging JWKS fetch")
	}
}
