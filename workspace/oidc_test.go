package workspace

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/api"
	"github.com/homeward/homeward/codec"
	"github.com/homeward/homeward/config"
	"github.com/homeward/homeward/store/storetest"
)

// The production sign-in (OpenID Connect, authorization code with PKCE) against
// a real OpenID provider: zitadel's op library with its own users, run on a
// loopback port (oidcprovider_test.go). The workspace and the API are configured
// for it as in production (auth.oidc.*, from the environment), and a browser (an
// http.Client with a cookie jar) goes through the provider's login form.
func TestOIDCSignIn(t *testing.T) {
	e := newOIDCEnv(t)

	for _, u := range idpPeople {
		t.Run("signs in the "+u.Role, func(t *testing.T) {
			b := e.browser(t)
			// Not signed in: sent to the sign-in page, which offers the provider.
			page := b.get(e.ws + "/")
			require.Equal(t, "/signin", page.url.Path)
			require.Contains(t, page.body, `href="/signin/oidc"`)

			page = e.signIn(t, b, u.ID, u.Password)
			require.Equal(t, http.StatusOK, page.status, page.body)
			require.Equal(t, e.ws+"/", page.url.String())
			office := u.Office
			if office == "*" {
				office = "all offices"
			}
			require.Regexp(t, `<span class="person">`+regexp.QuoteMeta(u.ID)+` · [^<]+ · `+regexp.QuoteMeta(office)+`</span>`,
				page.body, "the page names who signed in, in their office")

			// PKCE: the authorization request carried an S256 challenge, and the
			// token request the verifier that hashes to it.
			q := e.idp.lastAuthorize()
			require.Equal(t, "S256", q.Get("code_challenge_method"))
			require.Len(t, q.Get("code_challenge"), 43)
			require.Equal(t, "code", q.Get("response_type"))
			require.Equal(t, idpClientID, q.Get("client_id"))
			require.Equal(t, e.ws+"/signin/callback", q.Get("redirect_uri"))
			require.Contains(t, strings.Fields(q.Get("scope")), "openid")
			require.NotEmpty(t, q.Get("state"))
			require.NotEmpty(t, q.Get("nonce"))
			form, how := e.idp.lastToken()
			require.Equal(t, "authorization_code", form.Get("grant_type"))
			sum := sha256.Sum256([]byte(form.Get("code_verifier")))
			require.Equal(t, q.Get("code_challenge"), base64.RawURLEncoding.EncodeToString(sum[:]))
			require.Equal(t, "basic", how, "the client secret goes in HTTP Basic, as the client is registered")

			// The cookies: the sign-in under way, then the session.
			pre := b.cookie(t, "/signin/oidc", pendingCookie)
			require.True(t, pre.HttpOnly)
			require.Equal(t, http.SameSiteLaxMode, pre.SameSite)
			require.Equal(t, "/", pre.Path)
			s := b.cookie(t, "/signin/callback", sessionCookie)
			require.NotEmpty(t, s.Value)
			require.True(t, s.HttpOnly)
			require.Equal(t, http.SameSiteLaxMode, s.SameSite)
			require.Equal(t, "/", s.Path)
			require.False(t, s.Secure, "on loopback over plain HTTP a browser would drop a Secure cookie")
			require.Equal(t, int(e.ttl.Seconds()), s.MaxAge)
			require.Less(t, b.cookie(t, "/signin/callback", pendingCookie).MaxAge, 0, "the sign-in under way ends")
			require.NotContains(t, s.Value, u.ID, "the session is sealed")
		})
	}

	t.Run("a callback with another state is refused", func(t *testing.T) {
		b := e.browser(t)
		back := e.loginUntilCallback(t, b, "amara.diallo", "pw-cw")
		forged := *back
		q := forged.Query()
		require.NotEmpty(t, q.Get("code"))
		q.Set("state", "not-the-state-of-this-sign-in")
		forged.RawQuery = q.Encode()
		page := b.get(forged.String())
		require.Equal(t, http.StatusUnauthorized, page.status)
		require.Contains(t, page.body, "The sign-in did not work")
		require.Nil(t, b.setCookie(sessionCookie), "no session")
		require.Contains(t, e.logs.String(), "no sign-in under way for this state")
		// The sign-in under way ended with that callback: even the provider's
		// real answer is refused now, so a code is tried once.
		require.Equal(t, http.StatusUnauthorized, b.get(back.String()).status)
		require.Nil(t, b.setCookie(sessionCookie))
		require.Equal(t, "/signin", b.get(e.ws+"/").url.Path, "still not signed in")
	})

	t.Run("another browser's callback is refused", func(t *testing.T) {
		// Login CSRF: someone's own code and state, sent to someone else's browser.
		back := e.loginUntilCallback(t, e.browser(t), "amara.diallo", "pw-cw")
		victim := e.browser(t)
		page := victim.get(back.String())
		require.Equal(t, http.StatusUnauthorized, page.status)
		require.Nil(t, victim.setCookie(sessionCookie))
	})

	for _, r := range idpRefused {
		t.Run("refuses "+r.name, func(t *testing.T) {
			b := e.browser(t)
			page := e.signIn(t, b, r.user.ID, r.user.Password)
			require.Equal(t, http.StatusUnauthorized, page.status, page.body)
			require.Contains(t, page.body, "The sign-in did not work")
			require.Nil(t, b.setCookie(sessionCookie), "no session")
			require.Contains(t, e.logs.String(), r.why, "refused for that reason, after a good code exchange")
			require.Equal(t, "/signin", b.get(e.ws+"/").url.Path)
		})
	}

	t.Run("a refusal from the provider ends the sign-in", func(t *testing.T) {
		// The person declines at the provider: it calls back with an error and the
		// sign-in's own state.
		b := e.browser(t)
		b.stopAt = e.idp.URL + "/authorize"
		to := b.get(e.ws + "/signin/oidc")
		require.Equal(t, http.StatusFound, to.status)
		u, err := url.Parse(to.location)
		require.NoError(t, err)
		page := b.get(e.ws + "/signin/callback?" + url.Values{"state": {u.Query().Get("state")}, "error": {"access_denied"}}.Encode())
		require.Equal(t, http.StatusUnauthorized, page.status)
		require.Nil(t, b.setCookie(sessionCookie))
		require.Contains(t, e.logs.String(), `reason="the identity provider answered access_denied"`)
	})

	t.Run("signs out", func(t *testing.T) {
		b := e.browser(t)
		page := e.signIn(t, b, "amara.diallo", "pw-cw")
		require.Equal(t, http.StatusOK, page.status)
		m := regexp.MustCompile(`<form method="post" action="/signout"[^>]*><input type="hidden" name="csrf" value="([^"]+)">`).
			FindStringSubmatch(page.body)
		require.NotNil(t, m, "a sign-out form with the session's CSRF token")

		// Without the token: refused, still signed in.
		require.Equal(t, http.StatusForbidden, b.post(e.ws+"/signout", url.Values{}).status)
		require.Equal(t, http.StatusOK, b.get(e.ws+"/").status)

		page = b.post(e.ws+"/signout", url.Values{"csrf": {m[1]}})
		require.Equal(t, "/signin", page.url.Path)
		require.Less(t, b.cookie(t, "/signout", sessionCookie).MaxAge, 0, "the session cookie is cleared")
		res := b.noFollow(t, e.ws+"/")
		require.Equal(t, http.StatusSeeOther, res.StatusCode)
		require.Equal(t, "/signin", res.Header.Get("Location"))
	})

	t.Run("a session expires", func(t *testing.T) {
		b := e.browser(t)
		require.Equal(t, http.StatusOK, e.signIn(t, b, "ibrahima.sow", "pw-ap").status)
		defer e.skew.Store(0)
		e.skew.Store(int64(e.ttl - time.Minute))
		require.Equal(t, http.StatusOK, b.noFollow(t, e.ws+"/").StatusCode, "a minute before the end")
		// The browser still sends the cookie (it is its clock that said 10h);
		// the workspace goes by the session's own expiry, sealed inside it.
		e.skew.Store(int64(e.ttl + time.Second))
		res := b.noFollow(t, e.ws+"/")
		require.Equal(t, http.StatusSeeOther, res.StatusCode)
		require.Equal(t, "/signin", res.Header.Get("Location"))
		var cleared bool
		for _, c := range res.Cookies() {
			cleared = cleared || (c.Name == sessionCookie && c.MaxAge < 0)
		}
		require.True(t, cleared, "the expired session's cookie is cleared")
	})

	t.Run("cookies are Secure outside loopback", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodGet, e.ws+"/signin/oidc", nil)
		require.NoError(t, err)
		req.Host = "homeward.example.org" // as behind a TLS-terminating proxy
		res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		require.NoError(t, err)
		_ = res.Body.Close()
		require.Equal(t, http.StatusFound, res.StatusCode)
		require.True(t, strings.HasPrefix(res.Header.Get("Location"), e.idp.URL+"/authorize?"))
		var secure bool
		for _, c := range res.Cookies() {
			secure = secure || (c.Name == pendingCookie && c.Secure && c.HttpOnly)
		}
		require.True(t, secure, "%v", res.Header.Values("Set-Cookie"))
	})
}

// idpPeople are the provider's people, one per role of the workspace's.
var idpPeople = []idpUser{
	{ID: "amara.diallo", Password: "pw-cw", Name: "Amara Diallo", Role: "caseworker", Office: "DE-BER"},
	{ID: "ibrahima.sow", Password: "pw-ap", Name: "Ibrahima Sow", Role: "approver", Office: "GN-CKY"},
	{ID: "fatou.camara", Password: "pw-pr", Name: "Fatou Camara", Role: "procurement", Office: "GN-CKY"},
	{ID: "claire.martin", Password: "pw-mg", Name: "Claire Martin", Role: "manager", Office: "*"},
}

// idpRefused are people the provider signs in whose access token Homeward refuses.
var idpRefused = []struct {
	name string
	user idpUser
	why  string // in the workspace's log
}{
	{"a token without the role claim", idpUser{ID: "no.role", Password: "pw-nr", Name: "No Role", Office: "DE-BER"},
		"the access token carries no Homeward user, role and office"},
	{"a caseworker of every office", idpUser{ID: "star.caseworker", Password: "pw-sc", Name: "Star", Role: "caseworker", Office: "*"},
		"is for managers and services only"},
	{"a partner service", idpUser{ID: "partner.service", Password: "pw-ps", Name: "Partner", Role: "service", Office: "*"},
		"a partner service's account signs in to the API, not the workspace"},
}

// oidcEnv is the provider, and the workspace with the API configured for it.
type oidcEnv struct {
	ws   string // the workspace's address
	idp  *testIdP
	w    *Workspace
	ttl  time.Duration
	skew atomic.Int64 // added to the workspace's clock
	logs *syncBuffer
}

func newOIDCEnv(t *testing.T) *oidcEnv {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	e := &oidcEnv{ws: "http://" + l.Addr().String(), logs: &syncBuffer{}}
	users := append([]idpUser{}, idpPeople...)
	for _, r := range idpRefused {
		users = append(users, r.user)
	}
	e.idp = startIdP(t, e.ws+"/signin/callback", users...)
	// The JWKS address, as an operator finds it: in the provider's discovery document.
	res, err := http.Get(e.idp.URL + "/.well-known/openid-configuration")
	require.NoError(t, err)
	var disc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&disc))
	_ = res.Body.Close()
	require.Equal(t, e.idp.URL, disc.Issuer)

	// auth.oidc as in production; the audience and the claims' names are the defaults
	// (homeward; sub, homeward_role, homeward_office).
	env := map[string]string{
		"HOMEWARD_AUTH_OIDC_ISSUER":        e.idp.URL,
		"HOMEWARD_AUTH_OIDC_JWKS_URL":      disc.JWKSURI,
		"HOMEWARD_AUTH_OIDC_CLIENT_ID":     idpClientID,
		"HOMEWARD_AUTH_OIDC_CLIENT_SECRET": idpClientSecret,
		"HOMEWARD_AUTH_OIDC_REDIRECT_URL":  e.ws + "/signin/callback",
	}
	cfg, err := config.Load("", func(k string) string { return env[k] })
	require.NoError(t, err)
	require.Equal(t, "homeward", cfg.Auth.OIDC.Audience)
	require.Empty(t, cfg.Auth.Tokens, "no configured tokens: only the provider signs people in")
	e.ttl = cfg.Workspace.SessionTTL

	logger := slog.New(slog.NewTextHandler(e.logs, nil))
	ring := codec.GenerateKeyRing()
	// No Temporal: signing in and the my-work page read only the case file.
	a := api.New(logger, cfg, storetest.Open(t, "sqlite"), nil, ring)
	e.w, err = New(logger, a, ring)
	require.NoError(t, err)
	e.w.now = func() time.Time { return time.Now().UTC().Add(time.Duration(e.skew.Load())) }
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: a.Handler(e.w.Mount), ReadHeaderTimeout: 10 * time.Second}}
	srv.Start()
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the workspace's log:\n%s", e.logs.String())
		}
	})
	return e
}

var loginID = regexp.MustCompile(`name="id" value="([^"]+)"`)

// signIn goes through the whole sign-in: the workspace sends the browser to the
// provider, whose login form the person fills in; the provider sends them back
// to the workspace's callback, which answers with a page.
func (e *oidcEnv) signIn(t *testing.T, b *browser, user, password string) page {
	t.Helper()
	login := b.get(e.ws + "/signin/oidc")
	require.Equal(t, http.StatusOK, login.status, login.body)
	require.Equal(t, e.idp.URL+"/login", login.url.Scheme+"://"+login.url.Host+login.url.Path, "at the provider's login")
	m := loginID.FindStringSubmatch(login.body)
	require.NotNil(t, m, login.body)
	return b.post(e.idp.URL+"/login", url.Values{"id": {m[1]}, "username": {user}, "password": {password}})
}

// loginUntilCallback signs in at the provider and stops before the workspace's
// callback: the address the provider sends the browser back to.
func (e *oidcEnv) loginUntilCallback(t *testing.T, b *browser, user, password string) *url.URL {
	t.Helper()
	b.stopAt = e.ws + "/signin/callback"
	defer func() { b.stopAt = "" }()
	page := e.signIn(t, b, user, password)
	require.Equal(t, http.StatusFound, page.status, page.body)
	u, err := url.Parse(page.location)
	require.NoError(t, err)
	require.Equal(t, b.stopAt, u.Scheme+"://"+u.Host+u.Path)
	return u
}

// browser is an http.Client with a cookie jar that keeps every response it saw.
type browser struct {
	c      *http.Client
	stopAt string // a redirect to this address (without query) is not followed
	seen   []*http.Response
}

type page struct {
	status   int
	url      *url.URL // where the browser ended
	body     string
	location string
}

func (e *oidcEnv) browser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	b := &browser{}
	b.c = &http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: b,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if b.stopAt != "" && req.URL.Scheme+"://"+req.URL.Host+req.URL.Path == b.stopAt {
				return http.ErrUseLastResponse
			}
			if len(via) > 10 {
				return http.ErrUseLastResponse
			}
			return nil
		}}
	return b
}

// RoundTrip keeps each response (headers only) for the checks of its cookies.
func (b *browser) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(req)
	if err == nil {
		b.seen = append(b.seen, &http.Response{StatusCode: res.StatusCode, Header: res.Header.Clone(), Request: req})
	}
	return res, err
}

func (b *browser) do(req *http.Request) page {
	res, err := b.c.Do(req)
	if err != nil {
		panic(err)
	}
	defer func() { _ = res.Body.Close() }()
	body, _ := io.ReadAll(res.Body)
	return page{status: res.StatusCode, url: res.Request.URL, body: string(body), location: res.Header.Get("Location")}
}

func (b *browser) get(u string) page {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.do(req)
}

// post sends a form as a browser does, naming the page's origin.
func (b *browser) post(u string, form url.Values) page {
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	to, _ := url.Parse(u)
	req.Header.Set("Origin", to.Scheme+"://"+to.Host)
	return b.do(req)
}

// noFollow is one request, its redirect not followed.
func (b *browser) noFollow(t *testing.T, u string) *http.Response {
	t.Helper()
	c := *b.c
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := c.Get(u)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	return res
}

// cookie is the cookie of that name a response to that path set, the first
// since the browser started.
func (b *browser) cookie(t *testing.T, path, name string) *http.Cookie {
	t.Helper()
	for _, res := range b.seen {
		if res.Request.URL.Path != path {
			continue
		}
		for _, c := range res.Cookies() {
			if c.Name == name {
				return c
			}
		}
	}
	t.Fatalf("no response to %s set the cookie %s", path, name)
	return nil
}

// setCookie is a cookie of that name with a value that a response set since
// the browser started (nil: none).
func (b *browser) setCookie(name string) *http.Cookie {
	for _, res := range b.seen {
		for _, c := range res.Cookies() {
			if c.Name == name && c.Value != "" && c.MaxAge >= 0 {
				return c
			}
		}
	}
	return nil
}

// syncBuffer is the workspace's log, written by the servers' goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}
