package workspace

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/gin-gonic/gin"
	"golang.org/x/oauth2"

	"github.com/homeward/homeward/api"
	"github.com/homeward/homeward/config"
	"github.com/homeward/homeward/contract"
)

func contextWithSession(ctx context.Context, s session) context.Context {
	return context.WithValue(ctx, sessionKey, s)
}

func sessionOf(c *gin.Context) session {
	s, _ := c.Request.Context().Value(sessionKey).(session)
	return s
}

// devPerson is someone the sign-in page offers on one machine.
type devPerson struct {
	User, Role, Office string
}

// devPeople are the dev tokens' people (not the partners' service), offered only
// where dev sign-in is on: the one-machine stack (homeward dev), never `homeward api`.
func (w *Workspace) devPeople() []devPerson {
	if !w.cfg.Workspace.DevSignIn {
		return nil
	}
	var out []devPerson
	for _, t := range config.DevTokens() {
		if t.Role != string(contract.RoleService) {
			out = append(out, devPerson{User: t.User, Role: t.Role, Office: t.Office})
		}
	}
	return out
}

type signInData struct {
	People []devPerson
	OIDC   bool
	Pre    string
}

func (w *Workspace) signInPage(c *gin.Context) {
	pre := randomToken()
	setCookie(c.Writer, c.Request, preCookie, pre, 15*time.Minute)
	w.render(c, http.StatusOK, "signin", pageData{Title: "signin.title",
		Data: signInData{People: w.devPeople(), OIDC: w.oidc != nil, Pre: pre}})
}

// signInDev signs in one of the dev people (homeward dev only).
func (w *Workspace) signInDev(c *gin.Context) {
	pre, err := c.Request.Cookie(preCookie)
	if err != nil || !sameOrigin(c.Request) || !sameToken(c.PostForm("csrf"), pre.Value) {
		w.render(c, http.StatusForbidden, "error", pageData{Title: "error.csrf.title", Message: "error.csrf"})
		return
	}
	user := c.PostForm("user")
	i := slices.IndexFunc(w.devPeople(), func(p devPerson) bool { return p.User == user })
	if i < 0 {
		w.render(c, http.StatusForbidden, "error", pageData{Title: "error.forbidden.title", Message: "signin.no_dev"})
		return
	}
	p := w.devPeople()[i]
	w.startSession(c, api.Principal{User: p.User, Role: contract.Role(p.Role), Office: p.Office})
}

func (w *Workspace) startSession(c *gin.Context, p api.Principal) {
	if !api.WorksOnCases(p.Role) {
		// A partner's service account (role service, every office) calls the API;
		// it has nothing to do in the workspace.
		w.logger.Warn("sign-in refused", "reason", "a partner service's account signs in to the API, not the workspace")
		w.render(c, http.StatusUnauthorized, "error", pageData{Title: "error.unauthorized.title", Message: "signin.failed"})
		return
	}
	s := session{User: p, CSRF: randomToken(), Expires: w.now().Add(w.cfg.Workspace.SessionTTL)}
	v, err := w.cookie.seal(sessionCookie, s)
	if err != nil {
		w.fail(c, err)
		return
	}
	setCookie(c.Writer, c.Request, preCookie, "", -1)
	setCookie(c.Writer, c.Request, sessionCookie, v, w.cfg.Workspace.SessionTTL)
	w.logger.Info("signed in to the workspace", "user", p.User, "role", p.Role)
	c.Redirect(http.StatusSeeOther, "/")
}

func (w *Workspace) signOut(c *gin.Context) {
	setCookie(c.Writer, c.Request, sessionCookie, "", -1)
	c.Redirect(http.StatusSeeOther, "/signin")
}

func (w *Workspace) switchLanguage(c *gin.Context) {
	lang := c.Param("lang")
	if slices.Contains(languages, lang) {
		setCookie(c.Writer, c.Request, langCookie, lang, 365*24*time.Hour)
	}
	c.Redirect(http.StatusSeeOther, localPath(c.Query("back")))
}

// localPath is back if it is a plain path of this site, else "/": never another
// site (no open redirect), however the address is written ("//x", "/\\x", "/\t/x").
func localPath(back string) string {
	u, err := url.Parse(back)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") ||
		strings.HasPrefix(u.Path, "//") || strings.ContainsFunc(back+u.Path, func(r rune) bool {
		return r < 0x20 || r == 0x7f || r == '\\' // a browser drops control characters, reads a backslash as a slash
	}) {
		return "/"
	}
	return u.EscapedPath()
}

// oidcSignIn signs people in with the identity provider: the authorization-code
// flow with PKCE. The access token it gets is verified exactly as the API verifies
// a bearer token (issuer, audience, signature, the role and office claims).
type oidcSignIn struct {
	cfg config.OIDC

	mu       sync.Mutex
	provider *oidc.Provider // discovered at the first sign-in
}

func newOIDCSignIn(cfg config.OIDC) *oidcSignIn { return &oidcSignIn{cfg: cfg} }

func (o *oidcSignIn) oauth(ctx context.Context) (*oauth2.Config, *oidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider == nil {
		p, err := oidc.NewProvider(ctx, o.cfg.Issuer)
		if err != nil {
			return nil, nil, err
		}
		o.provider = p
	}
	return &oauth2.Config{ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret, RedirectURL: o.cfg.RedirectURL,
		Endpoint: o.provider.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "profile"}}, o.provider, nil
}

// pending is a sign-in under way: what the callback must match.
type pending struct {
	State    string    `json:"s"`
	Nonce    string    `json:"n"`
	Verifier string    `json:"v"`
	Expires  time.Time `json:"e"`
}

const pendingCookie = "hw_oidc"

func (w *Workspace) signInOIDC(c *gin.Context) {
	if w.oidc == nil {
		w.render(c, http.StatusNotFound, "error", pageData{Title: "error.not-found.title", Message: "signin.no_oidc"})
		return
	}
	conf, _, err := w.oidc.oauth(c.Request.Context())
	if err != nil {
		w.logger.Warn("identity provider not reachable", "error", err.Error())
		w.render(c, http.StatusServiceUnavailable, "error", pageData{Title: "error.unavailable.title", Message: "signin.idp_down"})
		return
	}
	p := pending{State: randomToken(), Nonce: randomToken(), Verifier: oauth2.GenerateVerifier(), Expires: w.now().Add(10 * time.Minute)}
	v, err := w.cookie.seal(pendingCookie, p)
	if err != nil {
		w.fail(c, err)
		return
	}
	setCookie(c.Writer, c.Request, pendingCookie, v, 10*time.Minute)
	c.Redirect(http.StatusFound, conf.AuthCodeURL(p.State, oauth2.S256ChallengeOption(p.Verifier), oidc.Nonce(p.Nonce)))
}

func (w *Workspace) signInCallback(c *gin.Context) {
	refuse := func(reason string, err error) {
		// Every refusal is logged, with the error when there is one: a forged state
		// or the provider's own refusal are worth seeing too.
		args := []any{"reason", reason}
		if err != nil {
			args = append(args, "error", err.Error())
		}
		w.logger.Warn("sign-in refused", args...)
		w.render(c, http.StatusUnauthorized, "error", pageData{Title: "error.unauthorized.title", Message: "signin.failed"})
	}
	if w.oidc == nil {
		refuse("no identity provider", nil)
		return
	}
	var p pending
	ck, err := c.Request.Cookie(pendingCookie)
	if err == nil {
		err = w.cookie.open(pendingCookie, ck.Value, &p)
	}
	setCookie(c.Writer, c.Request, pendingCookie, "", -1)
	if err != nil || !w.now().Before(p.Expires) || !sameToken(c.Query("state"), p.State) {
		refuse("no sign-in under way for this state", err)
		return
	}
	if e := c.Query("error"); e != "" {
		refuse("the identity provider answered "+e, nil)
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 15*time.Second)
	defer cancel()
	conf, provider, err := w.oidc.oauth(ctx)
	if err != nil {
		refuse("discovery", err)
		return
	}
	tok, err := conf.Exchange(ctx, c.Query("code"), oauth2.VerifierOption(p.Verifier))
	if err != nil {
		refuse("code exchange", err)
		return
	}
	// The ID token says the sign-in is this one (nonce, audience: this client).
	raw, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: conf.ClientID}).Verify(ctx, raw)
	if err != nil || !sameToken(idt.Nonce, p.Nonce) {
		refuse("id token", err)
		return
	}
	// Who they are in Homeward: the access token, verified as the API verifies one.
	who, err := w.api.Authenticate(ctx, tok.AccessToken)
	if err != nil {
		refuse("access token", err)
		return
	}
	w.startSession(c, who) // which admits only people who work on cases
}
