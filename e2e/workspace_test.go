package e2e

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/homeward/homeward/store"
)

// browser is a person using the workspace: an HTTP client with its own cookies
// that does not follow redirects, so each answer can be looked at.
type browser struct {
	t    *testing.T
	h    *homeward
	c    *http.Client
	csrf string
}

func (h *homeward) browser(lang string) *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(h.t, err)
	b := &browser{t: h.t, h: h, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
	if lang != "" {
		b.c.Transport = langTransport{lang}
	}
	return b
}

type langTransport struct{ lang string }

func (l langTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r.Header.Set("Accept-Language", l.lang)
	return http.DefaultTransport.RoundTrip(r)
}

type page struct {
	status   int
	location string
	header   http.Header
	body     string
}

func (b *browser) get(path string) page {
	b.t.Helper()
	res, err := b.c.Get(b.h.s.APIURL + path)
	require.NoError(b.t, err)
	return b.read(res)
}

// post sends a form as a browser does, from a page of the workspace (Origin).
func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.h.s.APIURL+path, strings.NewReader(form.Encode()))
	require.NoError(b.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.h.s.APIURL)
	res, err := b.c.Do(req)
	require.NoError(b.t, err)
	return b.read(res)
}

func (b *browser) read(res *http.Response) page {
	defer func() { _ = res.Body.Close() }()
	body, err := io.ReadAll(res.Body)
	require.NoError(b.t, err)
	p := page{status: res.StatusCode, location: res.Header.Get("Location"), header: res.Header, body: string(body)}
	if m := csrfRE.FindStringSubmatch(p.body); m != nil {
		b.csrf = m[1]
	}
	return p
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signIn picks a dev person on the sign-in page, as homeward dev offers.
func (b *browser) signIn(user string) {
	b.t.Helper()
	signin := b.get("/signin")
	require.Equal(b.t, http.StatusOK, signin.status)
	require.Contains(b.t, signin.body, `value="`+user+`"`)
	done := b.post("/signin", url.Values{"csrf": {b.csrf}, "user": {user}})
	require.Equal(b.t, http.StatusSeeOther, done.status, done.body)
	require.Equal(b.t, "/", done.location)
	b.get("/") // the session's form secret
}

func (b *browser) form(pairs ...string) url.Values {
	f := url.Values{"csrf": {b.csrf}}
	for i := 0; i+1 < len(pairs); i += 2 {
		f.Add(pairs[i], pairs[i+1])
	}
	return f
}

func registrationForm(b *browser, family string) url.Values {
	return b.form("beneficiary.given_name", "Aminata", "beneficiary.family_name", family,
		"beneficiary.date_of_birth", "1990-04-01", "beneficiary.sex", "female", "beneficiary.nationality", "gn",
		"beneficiary.languages", "fr", "beneficiary.phone", "+224 621 234 567",
		"household[0].given_name", "Mariama", "household[0].relationship", "child", "household[0].date_of_birth", "2016-02-11",
		"vulnerabilities", "health_needs", "host_country", "DE", "country_of_return", "GN",
		"area_of_return.region", "Kankan", "area_of_return.district", "Siguiri",
		"sending_office", "DE-BER", "receiving_office", "GN-CKY", "programme", "REAG-GARP",
		"consent.data_processing", "true", "consent.given_at", "2026-11-20T10:00", "idempotency_key", "k-"+family)
}

// The workspace's pages go through the API's rules: sign-in, CSRF, roles, the
// shared validation beside each field, the workflow's refusals in words, search
// by POST within the offices, and French.
func TestWorkspacePages(t *testing.T) {
	h := start(t, testConfig(t, "sqlite"))

	anon := h.browser("")
	first := anon.get("/")
	require.Equal(t, http.StatusSeeOther, first.status)
	require.Equal(t, "/signin", first.location)
	signin := anon.get("/signin")
	for k, want := range map[string]string{"Content-Security-Policy": "script-src 'self'", "X-Frame-Options": "DENY",
		"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"} {
		require.Contains(t, signin.header.Get(k), want, k)
	}
	require.NotContains(t, signin.body, "<script>", "no inline script")
	require.NotContains(t, signin.body, "partner-service", "the partners' service signs in nowhere")

	cw := h.browser("")
	cw.signIn("caseworker-de")
	home := cw.get("/")
	require.Equal(t, http.StatusOK, home.status)
	require.Contains(t, home.body, "My work")
	var cookie *http.Cookie
	for _, c := range cw.c.Jar.Cookies(mustURL(t, h.s.APIURL)) {
		if c.Name == "hw_session" {
			cookie = c
		}
	}
	require.NotNil(t, cookie, "a session cookie")

	// A form without the session's secret changes nothing.
	forged := registrationForm(cw, "Forged")
	forged.Del("csrf")
	refused := cw.post("/cases/new", forged)
	require.Equal(t, http.StatusForbidden, refused.status)
	require.Contains(t, refused.body, "form has expired")
	// Nor one sent from another site, secret or not.
	req, _ := http.NewRequest(http.MethodPost, h.s.APIURL+"/cases/new", strings.NewReader(registrationForm(cw, "Elsewhere").Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://attacker.example")
	res, err := cw.c.Do(req)
	require.NoError(t, err)
	_ = res.Body.Close()
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	list := h.call("GET", "/api/v1/cases", "dev-manager", nil).JSON(t)["items"].([]any)
	require.Empty(t, list, "no case from a refused form")

	// The registration's shared validation, beside the field.
	bad := registrationForm(cw, "Camara")
	bad.Set("beneficiary.phone", "0621")
	bad.Set("household[0].date_of_birth", "2090-01-01")
	invalid := cw.post("/cases/new", bad)
	require.Equal(t, http.StatusUnprocessableEntity, invalid.status)
	require.Regexp(t, `id="beneficiary-phone-error"[^>]*>.*must be an E\.164 number`, invalid.body)
	require.Regexp(t, `id="household-0-date_of_birth-error"[^>]*>.*must not be in the future`, invalid.body)
	require.Contains(t, invalid.body, `href="#household-0-date_of_birth"`, "the summary links to the field")
	require.Contains(t, invalid.body, `value="Mariama"`, "what was typed is kept")

	created := cw.post("/cases/new", registrationForm(cw, "Camara"))
	require.Equal(t, http.StatusSeeOther, created.status, created.body)
	casePath := created.location
	require.Regexp(t, `^/cases/[0-9a-f-]{36}$`, casePath)
	id := strings.TrimPrefix(casePath, "/cases/")
	again := cw.post("/cases/new", registrationForm(cw, "Camara"))
	require.Equal(t, casePath, again.location, "a second click returns the first case")

	// The same person again (another form): the refusal names the earlier case.
	dup := registrationForm(cw, "Camara")
	dup.Set("idempotency_key", "another")
	duplicate := cw.post("/cases/new", dup)
	require.Equal(t, http.StatusConflict, duplicate.status)
	ref := h.call("GET", "/api/v1/cases/"+id, "dev-manager", nil).JSON(t)["reference"].(string)
	require.Contains(t, duplicate.body, "already has an active case: "+ref)

	// The case page offers what the workflow says the case accepts from a caseworker now.
	h.waitCase(id, "counselling", stageIs("Counselling"))
	cp := cw.get(casePath)
	require.Equal(t, http.StatusOK, cp.status)
	require.Contains(t, cp.body, `id="form-counselling"`)
	require.NotContains(t, cp.body, `id="form-screening"`, "not a screening before the counselling")
	require.Contains(t, cp.body, `id="form-withdrawal"`)
	// The workflow refuses what the page does not offer, in words, and nothing changes.
	early := cw.post(casePath+"/actions/screening", cw.form("risk", "low"))
	require.Equal(t, http.StatusConflict, early.status)
	require.Contains(t, early.body, "recording a screening is not possible in stage Counselling")
	require.Equal(t, "Counselling", h.call("GET", "/api/v1/cases/"+id, "dev-manager", nil).JSON(t)["stage"])
	// A withdrawal is checked once more before it goes.
	unconfirmed := cw.post(casePath+"/actions/withdrawal", cw.form("reason", "withdrawn"))
	require.Equal(t, http.StatusUnprocessableEntity, unconfirmed.status)
	require.Contains(t, unconfirmed.body, `id="confirm-error"`)

	done := cw.post(casePath+"/actions/counselling", cw.form("outcome", "confirmed", "held_at", "2026-12-01T10:00",
		"notes", "She confirms."))
	require.Equal(t, http.StatusSeeOther, done.status, done.body)
	after := cw.get(casePath)
	require.Contains(t, after.body, "The counselling is recorded.")
	require.Equal(t, "confirmed", h.call("GET", "/api/v1/cases/"+id, "dev-manager", nil).JSON(t)["counselling"].(map[string]any)["outcome"])

	// Roles: pages and actions of other roles are refused.
	pr := h.browser("")
	pr.signIn("procurement-gn")
	require.Equal(t, http.StatusForbidden, pr.get("/cases/new").status)
	require.Equal(t, http.StatusForbidden, pr.post("/cases/new", registrationForm(pr, "ByProcurement")).status,
		"the form's POST meets Register's own check")
	require.Equal(t, http.StatusForbidden, pr.get("/stuck").status)
	require.Equal(t, http.StatusForbidden, cw.get("/reports").status)
	wrongRole := pr.post(casePath+"/actions/screening", pr.form("risk", "low"))
	require.Equal(t, http.StatusForbidden, wrongRole.status)

	// Search: by POST, within the offices; another office finds nothing and cannot open the case.
	found := cw.post("/cases/search", cw.form("name", "  CAMARA "))
	require.Equal(t, http.StatusOK, found.status)
	require.Contains(t, found.body, ref)
	other := h.browser("")
	other.signIn("caseworker-sn")
	nothing := other.post("/cases/search", other.form("name", "Camara"))
	require.Contains(t, nothing.body, "0 cases found")
	require.NotContains(t, nothing.body, ref)
	require.Equal(t, http.StatusNotFound, other.get(casePath).status)

	// Managers: stuck cases, statistics and the CSV, the Temporal UI link.
	mg := h.browser("")
	mg.signIn("manager")
	require.Equal(t, http.StatusOK, mg.get("/stuck").status)
	rep := mg.get("/reports")
	require.Equal(t, http.StatusOK, rep.status)
	for _, by := range store.Breakdowns {
		require.Contains(t, rep.body, `<svg role="img" aria-labelledby="activity-chart-`+by+`"`, "a chart per table")
	}
	require.Contains(t, rep.body, "Cases by age band")
	require.Contains(t, rep.body, `href="/reports/monthly.xlsx?month=`)
	require.Contains(t, rep.body, `<table class="counts" id="fee-reconciliation">`, "the month's fee reconciliation")
	require.Contains(t, rep.body, "Every fee this month was charged at the agreed rate.")
	fees := mg.get("/reports/fee-reconciliation.csv")
	require.Equal(t, http.StatusOK, fees.status)
	require.True(t, strings.HasPrefix(fees.body, "period,case_id,reference,programme,partner,service"))
	csv := mg.get("/reports/monthly.csv")
	require.Equal(t, http.StatusOK, csv.status)
	require.True(t, strings.HasPrefix(csv.body, "table,period,by,key,currency,registered"))
	xlsx := mg.get("/reports/monthly.xlsx")
	require.Equal(t, http.StatusOK, xlsx.status)
	book, err := excelize.OpenReader(strings.NewReader(xlsx.body))
	require.NoError(t, err, "the workbook opens")
	sheet, err := book.GetRows("Activity")
	require.NoError(t, err)
	require.Equal(t, []string{time.Now().UTC().Format("2006-01"), "total", "all"}, sheet[1][:3])
	require.NoError(t, book.Close())
	quarter := mg.get("/reports?year=2026&q=4")
	require.Equal(t, http.StatusOK, quarter.status)
	require.Contains(t, quarter.body, `href="/reports/quarterly.xlsx?quarter=2026-Q4"`)
	require.Equal(t, http.StatusOK, mg.get("/reports/quarterly.csv?quarter=2026-Q4").status)
	require.Equal(t, http.StatusUnprocessableEntity, mg.get("/reports?month=2026-13").status)
	require.Contains(t, mg.get(casePath).body, `id="temporal-link"`)

	// French, from the browser's language; the switch keeps the page.
	fr := h.browser("fr-FR,fr;q=0.9")
	fr.signIn("caseworker-de")
	require.Contains(t, fr.get("/").body, "Mon travail")
	sw := cw.get("/lang/fr?back=" + url.QueryEscape(casePath))
	require.Equal(t, casePath, sw.location)
	require.Contains(t, cw.get(casePath).body, "Conseil avant le départ")
	require.Equal(t, "/", cw.get("/lang/fr?back=//attacker.example").location, "no redirect off the site")

	// Every page read the case file, not the workflow.
	h.requireNoQueries()

	// Signing out ends the session.
	out := cw.post("/signout", cw.form())
	require.Equal(t, http.StatusSeeOther, out.status)
	require.Equal(t, "/signin", cw.get("/").location)
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	require.NoError(t, err)
	return u
}

// The case page offers the transfer (to the sending office only) and the
// withdrawal of consent (checked once more) as the workflow publishes them, and
// both go through the API's functions.
func TestWorkspaceTransferAndConsent(t *testing.T) {
	h := start(t, testConfig(t, "sqlite"))
	id := h.register()
	h.counsel(id, "confirmed")
	h.waitCase(id, "screening", stageIs("Screening"))
	casePath := "/cases/" + id

	cw := h.browser("")
	cw.signIn("caseworker-de")
	pg := cw.get(casePath)
	require.Contains(t, pg.body, `id="form-transfer"`)
	require.Contains(t, pg.body, `id="form-consent-withdrawal"`)
	gn := h.browser("")
	gn.signIn("caseworker-gn")
	pg = gn.get(casePath)
	require.NotContains(t, pg.body, `id="form-transfer"`, "only the sending office transfers")
	require.Contains(t, pg.body, `id="form-consent-withdrawal"`)

	bad := cw.post(casePath+"/transfer", cw.form("receiving_office", "SN-DKR", "area_of_return.region", "Dakar", "reason", " "))
	require.Equal(t, http.StatusUnprocessableEntity, bad.status)
	require.Contains(t, bad.body, `id="transfer-reason-error"`)
	done := cw.post(casePath+"/transfer", cw.form("receiving_office", "sn-dkr", "area_of_return.region", "Dakar",
		"area_of_return.district", "Pikine", "reason", "She will live with her aunt"))
	require.Equal(t, http.StatusSeeOther, done.status, done.body)
	require.Contains(t, cw.get(casePath).body, "The case is transferred")
	require.Equal(t, http.StatusNotFound, gn.get(casePath).status, "the old receiving office no longer sees it")
	require.Equal(t, "SN-DKR", h.call("GET", "/api/v1/cases/"+id, "dev-manager", nil).JSON(t)["receiving_office"])

	unconfirmed := cw.post(casePath+"/consent", cw.form("withdrawn_at", "2026-12-01T10:00"))
	require.Equal(t, http.StatusUnprocessableEntity, unconfirmed.status)
	require.Contains(t, unconfirmed.body, `id="confirm_consent-error"`)
	done = cw.post(casePath+"/consent", cw.form("withdrawn_at", "2026-12-01T10:00", "confirm_consent", "true"))
	require.Equal(t, http.StatusSeeOther, done.status, done.body)
	after := cw.get(casePath)
	require.Contains(t, after.body, "Consent is withdrawn")
	require.NotContains(t, after.body, `id="form-consent-withdrawal"`)
	c := h.call("GET", "/api/v1/cases/"+id, "dev-manager", nil).JSON(t)
	require.Equal(t, "withdrawn", c["closure_reason"])
	require.Equal(t, false, c["consent"].(map[string]any)["data_processing"])

	fr := h.browser("fr-FR,fr;q=0.9")
	fr.signIn("caseworker-de")
	other := h.register()
	h.waitCase(other, "counselling", stageIs("Counselling"))
	require.Contains(t, fr.get("/cases/"+other).body, "Transférer à un autre bureau d&#39;accueil")
}
