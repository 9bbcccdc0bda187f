// Package workspace is the web application for the people who do the casework:
// caseworkers, approvers, procurement officers and managers, in their browser.
// Its pages are rendered on the server from html/template, work without
// JavaScript, and speak English and French. It holds no rule of its own: every
// read and action goes through the API's functions (api.Server), on behalf of the
// person signed in, so authorization, validation and the view of a case are the
// API's, and the workflow's validators decide what a case accepts.
package workspace

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/homeward/homeward/api"
	"github.com/homeward/homeward/codec"
	"github.com/homeward/homeward/config"
	"github.com/homeward/homeward/contract"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Workspace serves the pages.
type Workspace struct {
	api    *api.Server
	cfg    config.Config
	cats   catalogs
	pages  map[string]*template.Template
	cookie sealer
	oidc   *oidcSignIn // nil: no identity provider configured
	logger *slog.Logger
	now    func() time.Time
}

// New prepares the workspace over the API's functions. The ring is the payload key
// ring: the session cookies' key is derived from its active key.
func New(logger *slog.Logger, a *api.Server, ring *codec.KeyRing) (*Workspace, error) {
	cats, err := loadCatalogs()
	if err != nil {
		return nil, err
	}
	ck, err := newSealer(ring.Derive("workspace session cookie"))
	if err != nil {
		return nil, err
	}
	w := &Workspace{api: a, cfg: a.Config(), cats: cats, cookie: ck, logger: logger,
		now: func() time.Time { return time.Now().UTC() }}
	if w.pages, err = parsePages(); err != nil {
		return nil, err
	}
	if w.cfg.Auth.OIDC.Issuer != "" && w.cfg.Auth.OIDC.ClientID != "" {
		w.oidc = newOIDCSignIn(w.cfg.Auth.OIDC)
	}
	return w, nil
}

// parsePages parses every page once, each with the layout.
func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" || base == "parts" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", "templates/parts.html", n)
		if err != nil {
			return nil, err
		}
		pages[base] = t
	}
	return pages, nil
}

// Mount adds the workspace's routes to the API's engine (api.Server.Handler).
func (w *Workspace) Mount(r *gin.Engine) {
	static, _ := fs.Sub(staticFiles, "static")
	assets := r.Group("/static", func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=3600")
		c.Header("X-Content-Type-Options", "nosniff")
	})
	assets.StaticFS("/", http.FS(static))
	r.GET("/favicon.ico", func(c *gin.Context) { c.Redirect(http.StatusMovedPermanently, "/static/favicon.svg") })

	pub := r.Group("/", w.headers)
	pub.GET("/signin", w.signInPage)
	pub.POST("/signin", w.signInDev)
	pub.GET("/signin/oidc", w.signInOIDC)
	pub.GET("/signin/callback", w.signInCallback)
	pub.GET("/lang/:lang", w.switchLanguage)

	// A form's POST needs no role check here: the API's function it calls checks
	// the person (one rule, one place). only() chooses which pages to show.
	const (
		cw = contract.RoleCaseworker
		mg = contract.RoleManager
	)
	in := r.Group("/", w.headers, w.signedIn, w.checkCSRF)
	in.POST("/signout", w.signOut)
	in.GET("/", w.myWork)
	in.GET("/cases", w.caseList)
	in.POST("/cases/search", w.caseSearch)
	in.GET("/cases/new", w.only(cw), w.registrationPage)
	in.POST("/cases/new", w.register)
	in.GET("/cases/:id", w.casePage)
	in.POST("/cases/:id/actions/:action", w.act)
	in.POST("/cases/:id/notes", w.addNote)
	in.POST("/cases/:id/documents", w.uploadDocument)
	in.GET("/cases/:id/documents/:doc", w.downloadDocument)
	in.POST("/cases/:id/owner", w.assignOwner)
	in.POST("/cases/:id/consent", w.withdrawConsent)
	in.POST("/cases/:id/transfer", w.transfer)
	in.GET("/stuck", w.only(mg), w.stuckPage)
	in.GET("/reports", w.only(mg), w.reportPage)
	in.GET("/reports/monthly.csv", w.only(mg), w.reportDownload("monthly", "csv"))
	in.GET("/reports/monthly.xlsx", w.only(mg), w.reportDownload("monthly", "xlsx"))
	in.GET("/reports/quarterly.csv", w.only(mg), w.reportDownload("quarterly", "csv"))
	in.GET("/reports/quarterly.xlsx", w.only(mg), w.reportDownload("quarterly", "xlsx"))
	in.GET("/reports/fee-reconciliation.csv", w.only(mg), w.reconciliationDownload)
}

// headers: what every page sends. No script but the workspace's own files, no
// inline script or style, no framing, no referrer beyond the workspace, and no
// page with personal data in a cache.
func (w *Workspace) headers(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	c.Next()
}

type ctxKey int

const sessionKey ctxKey = iota

// signedIn admits a person with a live session: their requests go to the API's
// functions as them. Without one, they are sent to sign in.
func (w *Workspace) signedIn(c *gin.Context) {
	var s session
	ck, err := c.Request.Cookie(sessionCookie)
	if err == nil {
		err = w.cookie.open(sessionCookie, ck.Value, &s)
	}
	if err != nil || !w.now().Before(s.Expires) || !api.WorksOnCases(s.User.Role) {
		if ck != nil {
			setCookie(c.Writer, c.Request, sessionCookie, "", -1)
		}
		c.Redirect(http.StatusSeeOther, "/signin")
		c.Abort()
		return
	}
	ctx := api.WithPrincipal(c.Request.Context(), s.User)
	c.Request = c.Request.WithContext(contextWithSession(ctx, s))
	c.Next()
}

// checkCSRF refuses a form that does not carry the session's secret, and one
// posted from another origin.
func (w *Workspace) checkCSRF(c *gin.Context) {
	if c.Request.Method != http.MethodPost {
		c.Next()
		return
	}
	s := sessionOf(c)
	if strings.HasPrefix(c.ContentType(), "multipart/") {
		// An upload: at most a document and its form, read into memory (never to disk).
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, api.MaxDocumentBytes+1<<20)
		if err := c.Request.ParseMultipartForm(api.MaxDocumentBytes + 1<<20); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				w.render(c, http.StatusRequestEntityTooLarge, "error", pageData{Title: "error.too-large.title", Message: "error.too_large_file"})
				c.Abort()
				return
			}
		}
	}
	if !sameOrigin(c.Request) || !sameToken(c.Request.PostFormValue("csrf"), s.CSRF) {
		w.render(c, http.StatusForbidden, "error", pageData{Title: "error.csrf.title", Message: "error.csrf"})
		c.Abort()
		return
	}
	c.Next()
}

// sameOrigin: a browser names the page a form was sent from; it must be ours.
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		origin = r.Header.Get("Referer")
		if origin == "" {
			return true // not a browser, or one that says nothing: the secret decides
		}
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host
}

// only admits the roles.
func (w *Workspace) only(roles ...contract.Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !slices.Contains(roles, sessionOf(c).User.Role) {
			w.render(c, http.StatusForbidden, "error", pageData{Title: "error.forbidden.title", Message: "error.forbidden"})
			c.Abort()
			return
		}
		c.Next()
	}
}

// pageData is what every page template gets.
type pageData struct {
	Title   string // a catalogue key
	Message string // a catalogue key (error pages)
	Flash   string // a catalogue key: what the last action did
	Nav     string
	Problem *problem // a refusal or errors to show
	Data    any

	lang    string
	cats    catalogs
	User    *api.Principal
	CSRF    string
	Path    string
	DevMode bool
}

// T is a message in the page's language.
func (p pageData) T(key string, args ...any) string { return p.cats.text(p.lang, key, args...) }

// Label is a field's name in words: "household[1].date_of_birth" is the
// household's "date of birth" label with the member's number.
func (p pageData) Label(field string) string {
	base, n := fieldLabelKey(field)
	label := p.T("field." + base)
	if n > 0 {
		return label + " (" + strconv.Itoa(n) + ")"
	}
	return label
}

// fieldLabelKey drops a field's indexes, and says which item (1-based) it is of.
func fieldLabelKey(field string) (string, int) {
	var b strings.Builder
	n := 0
	for {
		i := strings.IndexByte(field, '[')
		j := strings.IndexByte(field, ']')
		if i < 0 || j < i {
			b.WriteString(field)
			return b.String(), n
		}
		b.WriteString(field[:i])
		if k, err := strconv.Atoi(field[i+1 : j]); err == nil && n == 0 {
			n = k + 1
		}
		field = field[j+1:]
	}
}

// Lang is the page's language.
func (p pageData) Lang() string { return p.lang }

// Other is the language the switch offers.
func (p pageData) Other() string {
	if p.lang == "fr" {
		return "en"
	}
	return "fr"
}

// Is says whether the person has one of the roles.
func (p pageData) Is(roles ...string) bool {
	return p.User != nil && slices.Contains(roles, string(p.User.Role))
}

func (w *Workspace) render(c *gin.Context, status int, page string, d pageData) {
	d.lang, d.cats, d.Path = languageOf(c.Request), w.cats, c.Request.URL.Path
	if s, ok := c.Request.Context().Value(sessionKey).(session); ok {
		d.User, d.CSRF = &s.User, s.CSRF
	}
	if d.Flash == "" {
		d.Flash = w.takeFlash(c)
	}
	t, ok := w.pages[page]
	if !ok {
		c.String(http.StatusInternalServerError, "no page %s", page)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", d); err != nil {
		w.logger.Error("page not rendered", "page", page, "error", err.Error())
		c.String(http.StatusInternalServerError, "the page could not be shown")
		return
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// flash is a one-time message after a redirect (post, then redirect, then get):
// a catalogue key in a short-lived cookie.
const flashCookie = "hw_flash"

func (w *Workspace) flash(c *gin.Context, key string) {
	setCookie(c.Writer, c.Request, flashCookie, url.QueryEscape(key), time.Minute)
}

func (w *Workspace) takeFlash(c *gin.Context) string {
	ck, err := c.Request.Cookie(flashCookie)
	if err != nil {
		return ""
	}
	setCookie(c.Writer, c.Request, flashCookie, "", -1)
	key, _ := url.QueryUnescape(ck.Value)
	if !w.cats.has("en", key) {
		return ""
	}
	return key
}

// problem is what went wrong, for a page: the API's kind of problem, its words,
// and the field errors (each shown beside its field and in the summary at the top).
type problem struct {
	Kind   api.Kind
	Detail string
	Fields map[string]string
	Order  []contract.FieldError
}

func problemOf(err error) *problem {
	e := api.ProblemOf(err)
	p := &problem{Kind: e.Kind, Detail: e.Detail, Fields: map[string]string{}, Order: e.Fields}
	for _, f := range e.Fields {
		if _, dup := p.Fields[f.Field]; !dup {
			p.Fields[f.Field] = f.Message
		}
		// A list's item error also shows beside the list's field (languages[0] -> languages).
		if i := strings.LastIndex(f.Field, "["); i > 0 && strings.HasSuffix(f.Field, "]") {
			if _, dup := p.Fields[f.Field[:i]]; !dup {
				p.Fields[f.Field[:i]] = f.Message
			}
		}
	}
	return p
}

// Field is the message for a field, if it is in error.
func (p *problem) Field(name string) string {
	if p == nil {
		return ""
	}
	return p.Fields[name]
}

// statusOf is the HTTP status a page answers for a problem.
func statusOf(err error) int { return api.ProblemOf(err).Status() }

// fail shows an error page for a problem that has no form to return to.
func (w *Workspace) fail(c *gin.Context, err error) {
	p := problemOf(err)
	if p.Kind == api.KindInternal {
		w.logger.Error("workspace request failed", "error", err.Error())
		p.Detail = ""
	}
	w.render(c, statusOf(err), "error", pageData{Title: "error." + string(p.Kind) + ".title", Problem: p})
}

// Handler is the API with the workspace beside it: what `homeward api` (and so
// `homeward dev`) serves.
func Handler(logger *slog.Logger, a *api.Server, ring *codec.KeyRing) (http.Handler, error) {
	w, err := New(logger.With("component", "workspace"), a, ring)
	if err != nil {
		return nil, err
	}
	return a.Handler(w.Mount), nil
}
