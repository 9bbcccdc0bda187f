package api_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/homeward/homeward/api"
	"github.com/homeward/homeward/config"
	"github.com/homeward/homeward/contract"
	"github.com/stretchr/testify/require"
)

// identityProvider serves a JWKS and signs access tokens, like an OIDC provider.
type identityProvider struct {
	*httptest.Server
	signer jose.Signer
}

func newIdentityProvider(t *testing.T) *identityProvider {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	jwks := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(jwks)
	}))
	t.Cleanup(srv.Close)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, nil)
	require.NoError(t, err)
	return &identityProvider{Server: srv, signer: signer}
}

func (p *identityProvider) token(t *testing.T, claims map[string]any) string {
	s, err := jwt.Signed(p.signer).Claims(claims).Serialize()
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
