package workspace

// A real OpenID provider for the sign-in test: zitadel's OpenID-certified
// provider library (github.com/zitadel/oidc/v3/pkg/op), run in-process on a
// loopback port with an in-memory storage of its own: the people below, one
// confidential client (the workspace) that gets JWT access tokens, and a login
// form. Only what the authorization-code flow needs is implemented; the rest of
// op.Storage refuses.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// idpUser is a person at the identity provider. An empty Role or Office: the
// provider puts no such claim in their access token.
type idpUser struct {
	ID, Password, Name, Role, Office string
}

const (
	idpClientID     = "homeward-workspace"
	idpClientSecret = "workspace-secret"
	idpAudience     = "homeward" // auth.oidc.audience: the API
)

// testIdP is the provider, its storage, and what it was asked.
type testIdP struct {
	URL      string // the issuer
	server   *httptest.Server
	provider *op.Provider
	key      *rsa.PrivateKey
	keyID    string
	users    map[string]idpUser
	redirect string // the workspace's callback, the client's one redirect URI

	mu        sync.Mutex
	requests  map[string]*idpAuthRequest
	codes     map[string]string // code -> auth request ID
	authorize []url.Values      // the query of each authorization request
	token     []url.Values      // the form of each token request
	tokenAuth []string          // how each token request authenticated the client
}

// startIdP runs the provider on a loopback port. The workspace's callback must
// be known before: it is the client's registered redirect URI.
func startIdP(t *testing.T, redirect string, users ...idpUser) *testIdP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &testIdP{key: key, keyID: uuid.NewString(), users: map[string]idpUser{}, redirect: redirect,
		requests: map[string]*idpAuthRequest{}, codes: map[string]string{}}
	for _, u := range users {
		p.users[u.ID] = u
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.URL = "http://" + l.Addr().String()
	var cryptoKey [32]byte
	if _, err := rand.Read(cryptoKey[:]); err != nil {
		t.Fatal(err)
	}
	p.provider, err = op.NewProvider(&op.Config{
		CryptoKey:          cryptoKey,
		CodeMethodS256:     true, // PKCE with S256
		SupportedUILocales: []language.Tag{language.English},
	}, p, op.StaticIssuer(p.URL), op.WithAllowInsecure()) // http: loopback only
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", p.loginPage)
	mux.HandleFunc("POST /login", op.NewIssuerInterceptor(p.provider.IssuerFromRequest).HandlerFunc(p.login))
	mux.Handle("/", p.provider)
	p.server = &httptest.Server{Listener: l, Config: &http.Server{Handler: p.record(mux), ReadHeaderTimeout: 10 * time.Second}}
	p.server.Start()
	t.Cleanup(p.server.Close)
	return p
}

// record keeps the authorization requests' queries and the token requests'
// forms, to check what the workspace sent.
func (p *testIdP) record(next http.Handler) http.Handler {
	authorize := p.URL + "/authorize"
	token := p.URL + "/oauth/token"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p.URL + r.URL.Path {
		case authorize:
			p.mu.Lock()
			p.authorize = append(p.authorize, r.URL.Query())
			p.mu.Unlock()
		case token:
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			form, _ := url.ParseQuery(string(body))
			how := "post"
			if _, _, ok := r.BasicAuth(); ok {
				how = "basic"
			}
			p.mu.Lock()
			p.token = append(p.token, form)
			p.tokenAuth = append(p.tokenAuth, how)
			p.mu.Unlock()
		}
		next.ServeHTTP(w, r)
	})
}

func (p *testIdP) lastAuthorize() url.Values {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.authorize) == 0 {
		return nil
	}
	return p.authorize[len(p.authorize)-1]
}

func (p *testIdP) lastToken() (url.Values, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.token) == 0 {
		return nil, ""
	}
	return p.token[len(p.token)-1], p.tokenAuth[len(p.tokenAuth)-1]
}

// The login UI: a form for the user name and password of the auth request.

var loginForm = template.Must(template.New("login").Parse(`<!doctype html>
<title>Test IdP: sign in</title>
<form method="post" action="/login">
<input type="hidden" name="id" value="{{.ID}}">
<label>User <input name="username"></label>
<label>Password <input name="password" type="password"></label>
{{if .Error}}<p class="error">{{.Error}}</p>{{end}}
<button type="submit">Sign in</button>
</form>`))

func (p *testIdP) loginPage(w http.ResponseWriter, r *http.Request) {
	_ = loginForm.Execute(w, struct{ ID, Error string }{r.URL.Query().Get("authRequestID"), ""})
}

func (p *testIdP) login(w http.ResponseWriter, r *http.Request) {
	id, user, pw := r.FormValue("id"), r.FormValue("username"), r.FormValue("password")
	p.mu.Lock()
	req, ok := p.requests[id]
	u, known := p.users[user]
	good := ok && known && u.Password == pw
	if good {
		req.UserID, req.done, req.authTime = u.ID, true, time.Now().UTC()
	}
	p.mu.Unlock()
	if !good {
		w.WriteHeader(http.StatusUnauthorized)
		_ = loginForm.Execute(w, struct{ ID, Error string }{id, "wrong user name or password"})
		return
	}
	http.Redirect(w, r, op.AuthCallbackURL(p.provider)(r.Context(), id), http.StatusFound)
}

// idpAuthRequest is an authorization request under way (op.AuthRequest).
type idpAuthRequest struct {
	ID, ClientID, RedirectURI, State, Nonce, UserID string
	Scopes                                          []string
	ResponseType                                    oidc.ResponseType
	ResponseMode                                    oidc.ResponseMode
	Challenge                                       *oidc.CodeChallenge
	done                                            bool
	authTime                                        time.Time
}

func (a *idpAuthRequest) GetID() string       { return a.ID }
func (a *idpAuthRequest) GetACR() string      { return "" }
func (a *idpAuthRequest) GetAMR() []string    { return []string{"pwd"} }
func (a *idpAuthRequest) GetClientID() string { return a.ClientID }

// GetAudience: the tokens are for the workspace (the ID token's audience) and
// for the API (the access token's): both in aud, as ZITADEL or Keycloak with an
// audience mapper do.
func (a *idpAuthRequest) GetAudience() []string                 { return []string{a.ClientID, idpAudience} }
func (a *idpAuthRequest) GetAuthTime() time.Time                { return a.authTime }
func (a *idpAuthRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.Challenge }
func (a *idpAuthRequest) GetNonce() string                      { return a.Nonce }
func (a *idpAuthRequest) GetRedirectURI() string                { return a.RedirectURI }
func (a *idpAuthRequest) GetResponseType() oidc.ResponseType    { return a.ResponseType }
func (a *idpAuthRequest) GetResponseMode() oidc.ResponseMode    { return a.ResponseMode }
func (a *idpAuthRequest) GetScopes() []string                   { return a.Scopes }
func (a *idpAuthRequest) GetState() string                      { return a.State }
func (a *idpAuthRequest) GetSubject() string                    { return a.UserID }
func (a *idpAuthRequest) Done() bool                            { return a.done }

// The client: the workspace, confidential (client secret, HTTP Basic), code
// flow only, JWT access tokens.
type idpClient struct{ redirect string }

func (c idpClient) GetID() string                       { return idpClientID }
func (c idpClient) RedirectURIs() []string              { return []string{c.redirect} }
func (c idpClient) PostLogoutRedirectURIs() []string    { return nil }
func (c idpClient) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (c idpClient) AuthMethod() oidc.AuthMethod         { return oidc.AuthMethodBasic }
func (c idpClient) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c idpClient) GrantTypes() []oidc.GrantType        { return []oidc.GrantType{oidc.GrantTypeCode} }
func (c idpClient) LoginURL(id string) string           { return "/login?authRequestID=" + url.QueryEscape(id) }
func (c idpClient) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeJWT }
func (c idpClient) IDTokenLifetime() time.Duration      { return 5 * time.Minute }
func (c idpClient) DevMode() bool                       { return false }
func (c idpClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c idpClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c idpClient) IsScopeAllowed(string) bool           { return false }
func (c idpClient) IDTokenUserinfoClaimsAssertion() bool { return false }
func (c idpClient) ClockSkew() time.Duration             { return 0 }

// Keys: one RSA key, RS256.
type idpKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k idpKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k idpKey) Algorithm() jose.SignatureAlgorithm          { return jose.RS256 }
func (k idpKey) ID() string                                  { return k.id }
func (k idpKey) Use() string                                 { return "sig" }

type idpPrivateKey struct{ idpKey }

func (k idpPrivateKey) Key() any { return k.key }

type idpPublicKey struct{ idpKey }

func (k idpPublicKey) Key() any { return &k.key.PublicKey }

// op.Storage.

var errUnsupported = errors.New("not supported by the test provider")

func (p *testIdP) CreateAuthRequest(_ context.Context, r *oidc.AuthRequest, userID string) (op.AuthRequest, error) {
	req := &idpAuthRequest{ID: uuid.NewString(), ClientID: r.ClientID, RedirectURI: r.RedirectURI, State: r.State,
		Nonce: r.Nonce, UserID: userID, Scopes: r.Scopes, ResponseType: r.ResponseType, ResponseMode: r.ResponseMode}
	if r.CodeChallenge != "" {
		req.Challenge = &oidc.CodeChallenge{Challenge: r.CodeChallenge, Method: r.CodeChallengeMethod}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests[req.ID] = req
	return req, nil
}

func (p *testIdP) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r, ok := p.requests[id]; ok {
		return r, nil
	}
	return nil, errors.New("no such auth request")
}

func (p *testIdP) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	p.mu.Lock()
	id, ok := p.codes[code]
	p.mu.Unlock()
	if !ok {
		return nil, errors.New("code invalid or used")
	}
	return p.AuthRequestByID(ctx, id)
}

func (p *testIdP) SaveAuthCode(_ context.Context, id, code string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.codes[code] = id
	return nil
}

func (p *testIdP) DeleteAuthRequest(_ context.Context, id string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.requests, id)
	for code, rid := range p.codes {
		if rid == id {
			delete(p.codes, code) // a code works once
		}
	}
	return nil
}

// CreateAccessToken: the token's ID (jti) and expiry; op signs the JWT itself.
func (p *testIdP) CreateAccessToken(context.Context, op.TokenRequest) (string, time.Time, error) {
	return uuid.NewString(), time.Now().UTC().Add(5 * time.Minute), nil
}

func (p *testIdP) CreateAccessAndRefreshTokens(context.Context, op.TokenRequest, string) (string, string, time.Time, error) {
	return "", "", time.Time{}, errUnsupported
}

func (p *testIdP) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, errUnsupported
}

func (p *testIdP) TerminateSession(context.Context, string, string) error { return nil }

func (p *testIdP) RevokeToken(context.Context, string, string, string) *oidc.Error {
	return oidc.ErrUnsupportedGrantType()
}

func (p *testIdP) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}

func (p *testIdP) SigningKey(context.Context) (op.SigningKey, error) {
	return idpPrivateKey{idpKey{p.keyID, p.key}}, nil
}

func (p *testIdP) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (p *testIdP) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{idpPublicKey{idpKey{p.keyID, p.key}}}, nil
}

func (p *testIdP) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	if id != idpClientID {
		return nil, fmt.Errorf("no client %q", id)
	}
	return idpClient{redirect: p.redirect}, nil
}

func (p *testIdP) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	if id != idpClientID || secret != idpClientSecret {
		return errors.New("wrong client or secret")
	}
	return nil
}

func (p *testIdP) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest: the ID token's (and userinfo's) profile claims.
func (p *testIdP) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, r op.IDTokenRequest, _ []string) error {
	p.userinfo(info, r.GetSubject())
	return nil
}

func (p *testIdP) userinfo(info *oidc.UserInfo, subject string) {
	info.Subject = subject
	if u, ok := p.users[subject]; ok {
		info.Name, info.PreferredUsername = u.Name, u.ID
	}
}

func (p *testIdP) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, _, subject, _ string) error {
	p.userinfo(info, subject)
	return nil
}

func (p *testIdP) SetIntrospectionFromToken(context.Context, *oidc.IntrospectionResponse, string, string, string) error {
	return errUnsupported
}

// GetPrivateClaimsFromScopes: the access token's Homeward claims, the role and
// office the API reads (auth.oidc.role_claim, office_claim).
func (p *testIdP) GetPrivateClaimsFromScopes(_ context.Context, userID, _ string, _ []string) (map[string]any, error) {
	u, ok := p.users[userID]
	if !ok {
		return nil, fmt.Errorf("no user %q", userID)
	}
	claims := map[string]any{"name": u.Name}
	if u.Role != "" {
		claims["homeward_role"] = u.Role
	}
	if u.Office != "" {
		claims["homeward_office"] = u.Office
	}
	if u.Role == "service" {
		claims["homeward_partner"] = "medical"
	}
	return claims, nil
}

func (p *testIdP) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errUnsupported
}

func (p *testIdP) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errUnsupported
}

func (p *testIdP) Health(context.Context) error { return nil }

var _ op.Storage = (*testIdP)(nil)
