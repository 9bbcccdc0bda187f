package workspace

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/homeward/homeward/api"
	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/money"
)

// My work: the cases waiting on me, overdue first, and my offices' cases per stage.

type stageCount struct {
	Stage string
	Cases int64
}

type myWorkData struct {
	Owner   string // the view: all, mine (me), unassigned (none)
	Cases   []api.Summary
	Overdue int
	Stages  []stageCount
	Total   int64
}

func (w *Workspace) myWork(c *gin.Context) {
	ctx := c.Request.Context()
	owner := c.Query("owner")
	items, err := w.api.Inbox(ctx, owner)
	if err != nil {
		w.fail(c, err)
		return
	}
	// Mine first (the API's order), and within mine and the others, overdue first;
	// then the inbox's order, oldest due first.
	me := sessionOf(c).User.User
	mine := func(s api.Summary) bool { return slices.Contains(slices.Collect(maps.Values(s.Owners)), me) }
	sort.SliceStable(items, func(i, j int) bool {
		if mi, mj := mine(items[i]), mine(items[j]); mi != mj {
			return mi
		}
		return items[i].Overdue && !items[j].Overdue
	})
	counts, err := w.api.ActiveByStage(ctx)
	if err != nil {
		w.fail(c, err)
		return
	}
	d := myWorkData{Cases: items, Owner: owner}
	for _, it := range items {
		if it.Overdue {
			d.Overdue++
		}
	}
	for _, st := range contract.Stages {
		if n := counts[string(st)]; st != contract.StageClosed {
			d.Stages = append(d.Stages, stageCount{Stage: string(st), Cases: n})
			d.Total += n
		}
	}
	w.render(c, http.StatusOK, "mywork", pageData{Title: "mywork.title", Nav: "mywork", Data: d})
}

// Cases: the list with the API's filters, and search.

type listData struct {
	Cases    []api.Summary
	Filter   url.Values
	Next     string // the next page's query
	Searched bool
	Search   url.Values // the terms searched for, to show them again (never in the address)
	Stages   []contract.Stage
	Waiting  []string
}

var waitingOn = []string{"caseworker", "approver", "procurement", "medical_provider", "receiving_office", "system"}

func (w *Workspace) caseList(c *gin.Context) {
	q := url.Values{}
	for k, v := range c.Request.URL.Query() {
		if len(v) > 0 && v[0] != "" { // an empty select is no filter
			q[k] = v[:1]
		}
	}
	d := listData{Filter: q, Stages: contract.Stages, Waiting: waitingOn}
	items, next, err := w.api.ListCases(c.Request.Context(), q)
	if err != nil {
		w.listRefused(c, d, err)
		return
	}
	d.Cases = items
	if next != "" {
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("cursor", next)
		d.Next = nq.Encode()
	}
	w.render(c, http.StatusOK, "cases", pageData{Title: "cases.title", Nav: "cases", Data: d})
}

// caseSearch finds cases by reference, name, phone or travel-document number. The
// terms come in the body and the answer is rendered at once: they are never in an
// address, a browser's history or a log.
func (w *Workspace) caseSearch(c *gin.Context) {
	f := c.Request.PostForm
	d := listData{Filter: url.Values{}, Stages: contract.Stages, Waiting: waitingOn, Searched: true, Search: f}
	res, err := w.api.Search(c.Request.Context(), sessionOf(c).User, api.SearchRequest{Reference: strings.TrimSpace(f.Get("reference")),
		Name: strings.TrimSpace(f.Get("name")), Phone: strings.TrimSpace(f.Get("phone")),
		DocumentNumber: strings.TrimSpace(f.Get("document_number"))})
	if err != nil {
		w.listRefused(c, d, err)
		return
	}
	d.Cases = res.Items
	w.render(c, http.StatusOK, "cases", pageData{Title: "cases.title", Nav: "cases", Data: d})
}

// listRefused shows the cases page with what is wrong in its filters or search
// terms beside them; any other failure is an error page.
func (w *Workspace) listRefused(c *gin.Context, d listData, err error) {
	if api.ProblemOf(err).Kind != api.KindInvalid {
		w.fail(c, err)
		return
	}
	w.render(c, http.StatusUnprocessableEntity, "cases", pageData{Title: "cases.title", Nav: "cases", Data: d,
		Problem: problemOf(err)})
}

// Registering a return.

type registrationData struct {
	Form       url.Values
	Household  []int // the member rows' indexes
	Programmes []string
	Office     string
	Vulns      []string
	Existing   string // the reference of the person's active case, when registration was refused for it
}

func (w *Workspace) registrationData(f url.Values) registrationData {
	d := registrationData{Form: f, Vulns: contract.Vulnerabilities, Office: sessionOfForm(f)}
	rows := householdRows(f)
	if f.Get("op") == "add-member" {
		rows++
	}
	if i, err := strconv.Atoi(strings.TrimPrefix(f.Get("op"), "remove-member-")); err == nil && i < rows {
		// Without JavaScript, "remove" posts the form: the row's values shift up.
		for j := i; j < rows-1; j++ {
			for _, n := range []string{"given_name", "family_name", "relationship", "date_of_birth", "unaccompanied_minor"} {
				f.Set(fmt.Sprintf("household[%d].%s", j, n), f.Get(fmt.Sprintf("household[%d].%s", j+1, n)))
			}
		}
		for _, n := range []string{"given_name", "family_name", "relationship", "date_of_birth", "unaccompanied_minor"} {
			f.Del(fmt.Sprintf("household[%d].%s", rows-1, n))
		}
		rows--
	}
	for i := 0; i < rows; i++ {
		d.Household = append(d.Household, i)
	}
	for _, p := range w.cfg.Rules.Programmes {
		d.Programmes = append(d.Programmes, p.Name)
	}
	return d
}

// sessionOfForm is the sending office the form shows: the one posted, if any.
func sessionOfForm(f url.Values) string { return f.Get("sending_office") }

func (w *Workspace) registrationPage(c *gin.Context) {
	f := url.Values{}
	s := sessionOf(c)
	f.Set("sending_office", s.User.Office)
	f.Set("host_country", strings.SplitN(s.User.Office, "-", 2)[0])
	f.Set("consent.given_at", w.now().Format("2006-01-02T15:04"))
	f.Set("idempotency_key", randomToken())
	w.render(c, http.StatusOK, "register", pageData{Title: "register.title", Nav: "register", Data: w.registrationData(f)})
}

func (w *Workspace) register(c *gin.Context) {
	f := c.Request.PostForm
	if op := f.Get("op"); op == "add-member" || strings.HasPrefix(op, "remove-member-") {
		w.render(c, http.StatusOK, "register", pageData{Title: "register.title", Nav: "register", Data: w.registrationData(f)})
		return
	}
	// The form's own key makes a second click return the first case, not a refusal.
	cs, _, err := w.api.Register(c.Request.Context(), readRegistration(f), f.Get("idempotency_key"))
	if err != nil {
		p := problemOf(err)
		if p.Kind == api.KindInternal || p.Kind == api.KindUnavailable {
			w.fail(c, err)
			return
		}
		w.render(c, statusOf(err), "register", pageData{Title: "register.title", Nav: "register",
			Data: w.registrationData(f), Problem: p})
		return
	}
	w.flash(c, "done.registered")
	c.Redirect(http.StatusSeeOther, "/cases/"+cs.ID)
}

// The case page.

type stageStep struct {
	Stage string
	State string // done, current, todo
}

type casePageData struct {
	Case        api.CaseView
	Person      *api.Beneficiary
	Household   []api.HouseholdMember
	Vulns       []string
	Timeline    []api.TimelineEntry
	Steps       []stageStep
	Form        url.Values // what was posted, when an action was refused
	FormAction  string     // the action whose form was posted
	Review      *contract.Plan
	ReviewTotal money.Money
	PlanRows    []int
	Now         string
	Deliveries  []contract.ProcurementItem
	Visits      []contract.VisitState
	Notes       []api.Note
	DocKinds    []string
	Offices     []string // the case's two offices, for its owners
}

// HandoverDocs are the case's documents a delivery may name as its certificate's scan.
func (d casePageData) HandoverDocs() []api.DocumentMeta { return d.docsOfKind("handover_certificate") }

// DonorLetters are the case's documents the donor's decision may name as its letter.
func (d casePageData) DonorLetters() []api.DocumentMeta { return d.docsOfKind("donor_letter") }

func (d casePageData) docsOfKind(kind string) []api.DocumentMeta {
	var out []api.DocumentMeta
	for _, doc := range d.Case.Documents {
		if doc.Kind == kind {
			out = append(out, doc)
		}
	}
	return out
}

// Owner is the case's owner at an office, or "".
func (d casePageData) Owner(office string) string { return d.Case.Owners[office] }

// For is the page as the form of an action (on a target) sees it: the problem
// only if that form was the one sent, so an error shows beside its own form.
func (d casePageData) For(p pageData, name, target string) pageData {
	if !d.sent(name, target) {
		p.Problem = nil
	}
	return p
}

// FormFor is what an action's form shows: what was sent, if it was this form;
// else the defaults (pairs of field and value).
func (d casePageData) FormFor(name, target string, defaults ...string) url.Values {
	if d.sent(name, target) {
		return d.Form
	}
	f := url.Values{}
	for i := 0; i+1 < len(defaults); i += 2 {
		f.Set(defaults[i], defaults[i+1])
	}
	return f
}

func (d casePageData) sent(name, target string) bool {
	return d.FormAction == name && (target == "" || d.Form.Get("target") == target)
}

// Flight is the ticketed flight, which a departure is usually on.
func (d casePageData) Flight() string {
	if d.Case.Travel == nil {
		return ""
	}
	return d.Case.Travel.Flight
}

// Open says whether the case accepts the action from the person now.
func (d casePageData) Open(p pageData, name string) bool {
	return p.User != nil && d.Case.OpenTo(name, "", p.User.Role, p.User.Office)
}

// OpenFor says so for an action about a target (a plan item, a visit).
func (d casePageData) OpenFor(p pageData, name, target string) bool {
	return p.User != nil && d.Case.OpenTo(name, target, p.User.Role, p.User.Office)
}

// AnyOpen says whether the case accepts any action from the person now.
func (d casePageData) AnyOpen(p pageData) bool {
	if p.User == nil {
		return false
	}
	return slices.ContainsFunc(d.Case.Actions, func(a contract.OpenAction) bool { return slices.Contains(a.Roles, p.User.Role) })
}

func (w *Workspace) casePage(c *gin.Context) {
	w.showCase(c, http.StatusOK, c.Param("id"), "", nil, nil)
}

func (w *Workspace) showCase(c *gin.Context, status int, id, formAction string, form url.Values, p *problem) {
	ctx := c.Request.Context()
	v, err := w.api.ReadCase(ctx, id)
	if err != nil {
		w.fail(c, err)
		return
	}
	tl, err := w.api.Timeline(ctx, id)
	if err != nil {
		w.fail(c, err)
		return
	}
	notes, err := w.api.Notes(ctx, sessionOf(c).User, id)
	if err != nil {
		w.fail(c, err)
		return
	}
	slices.Reverse(tl) // newest first: what happened last is what a person looks for
	d := casePageData{Case: v, Timeline: tl, Form: form, FormAction: formAction, Now: w.now().Format("2006-01-02T15:04"),
		Notes: notes, DocKinds: api.DocumentKinds, Offices: []string{v.SendingOffice, v.ReceivingOffice}}
	var b api.Beneficiary
	if json.Unmarshal(v.Beneficiary, &b) == nil && b.GivenName != "" {
		d.Person = &b
	}
	_ = json.Unmarshal(v.Household, &d.Household)
	_ = json.Unmarshal(v.Vulnerabilities, &d.Vulns)
	at := slices.Index(contract.Stages, v.Stage)
	for i, st := range contract.Stages {
		step := stageStep{Stage: string(st), State: "todo"}
		switch {
		case i < at || v.Status == contract.StatusClosed && st != contract.StageClosed:
			step.State = "done"
		case i == at:
			step.State = "current"
		}
		if v.Status == contract.StatusClosed && st != contract.StageClosed && i > at {
			step.State = "skipped"
		}
		d.Steps = append(d.Steps, step)
	}
	if d.Form == nil {
		d.Form = url.Values{}
	}
	d.PlanRows = make([]int, max(planRows(d.Form), 2))
	for i := range d.PlanRows {
		d.PlanRows[i] = i
	}
	if formAction == contract.UpdatePlan && d.Form.Get("op") == "review" && p == nil {
		plan := readPlan(d.Form)
		d.Review = &plan
		var total money.Cents
		for _, it := range plan.Items {
			cents, _ := it.Cost.Cents()
			total += cents
		}
		d.ReviewTotal = money.Of(total, d.Form.Get("currency"))
	}
	for _, it := range v.Procurement {
		if v.Open(contract.UpdateDelivery, it.ItemID, contract.RoleProcurement) ||
			v.Open(contract.UpdateDelivery, it.ItemID, contract.RoleCaseworker) {
			d.Deliveries = append(d.Deliveries, it)
		}
	}
	for _, vs := range v.Monitoring {
		if v.Open(contract.UpdateVisit, strconv.Itoa(vs.Visit), contract.RoleCaseworker) {
			d.Visits = append(d.Visits, vs)
		}
	}
	w.render(c, status, "case", pageData{Title: "case.title", Nav: "cases", Data: d, Problem: p})
}

// act is an action's form: read as the API's request, sent through the API's
// function to the workflow, whose validator decides. A refusal shows on the case
// page, beside the form, in words; success redirects to the case (post, redirect, get).
func (w *Workspace) act(c *gin.Context) {
	id, name := c.Param("id"), c.Param("action")
	a, ok := actions[name]
	if !ok {
		w.fail(c, api.ProblemOf(fmt.Errorf("%w", &api.Error{Kind: api.KindNotFound, Detail: "no such action"})))
		return
	}
	f := c.Request.PostForm
	body := a.read(f)
	ctx := c.Request.Context()
	refused := func(err error) {
		p := problemOf(err)
		if p.Kind == api.KindInternal || p.Kind == api.KindUnavailable || p.Kind == api.KindNotFound {
			w.fail(c, err)
			return
		}
		w.showCase(c, statusOf(err), id, name, f, p)
	}
	// Consequential steps are checked once more by the person before they go.
	if name == contract.UpdateWithdrawal && f.Get("confirm") != "true" {
		w.showCase(c, http.StatusUnprocessableEntity, id, name, f, &problem{Kind: api.KindInvalid,
			Fields: map[string]string{"confirm": "confirm.withdrawal"},
			Order:  []contract.FieldError{{Field: "confirm", Message: "confirm.withdrawal"}}})
		return
	}
	if name == contract.UpdatePlan && f.Get("op") != "submit" {
		if errs := body.Validate(w.now()); len(errs) > 0 {
			refused(&api.Error{Kind: api.KindInvalid, Detail: "the plan is not valid", Fields: errs})
			return
		}
		f.Set("op", "review")
		w.showCase(c, http.StatusOK, id, name, f, nil)
		return
	}
	var err error
	if a.fact {
		err = w.api.Report(ctx, id, a.name, body)
	} else {
		_, err = w.api.Act(ctx, id, a.name, body)
	}
	if err != nil {
		refused(err)
		return
	}
	w.flash(c, "done."+name)
	c.Redirect(http.StatusSeeOther, "/cases/"+id)
}

// Managers: stuck cases, statistics.

func (w *Workspace) stuckPage(c *gin.Context) {
	items, err := w.api.Stuck(c.Request.Context())
	if err != nil {
		w.fail(c, err)
		return
	}
	w.render(c, http.StatusOK, "stuck", pageData{Title: "stuck.title", Nav: "stuck", Data: items})
}

// Template helpers.

var funcs = map[string]any{
	"date": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			if v.IsZero() {
				return ""
			}
			return v.UTC().Format("2 Jan 2006 15:04")
		case *time.Time:
			if v == nil || v.IsZero() {
				return ""
			}
			return v.UTC().Format("2 Jan 2006 15:04")
		}
		return ""
	},
	"day": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format("2 Jan 2006")
	},
	"pct": func(n, of any) string {
		a, b := toFloat(n), toFloat(of)
		if b <= 0 {
			return "0"
		}
		return strconv.FormatFloat(100*a/b, 'f', 1, 64)
	},
	"score": func(f *float64) string {
		if f == nil {
			return ""
		}
		return strconv.FormatFloat(*f, 'f', 2, 64)
	},
	"key":      func(parts ...string) string { return strings.Join(parts, ".") },
	"labelKey": labelKey,
	"dict": func(kv ...any) map[string]any {
		m := make(map[string]any, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	},
	"list":  func(v ...string) []string { return v },
	"vulns": func() []string { return contract.Vulnerabilities },
	"field": func(name string, i int, sub string) string { return fmt.Sprintf("%s[%d].%s", name, i, sub) },
	"id":    func(name string) string { return strings.NewReplacer("[", "-", "]", "", ".", "-").Replace(name) },
	"itoa":  strconv.Itoa,
	"add":   func(a, b int) int { return a + b },
	"kib":   func(n int64) int64 { return (n + 1023) / 1024 },
	"mul":   func(a, b int) int { return a * b },
	// A bar's length in the charts, at least 1 so that a zero still shows.
	"barWidth": func(v, of int64, width int) int {
		if of <= 0 {
			return 1
		}
		return max(1, int(int64(width)*v/of))
	},
	"barWidthF": func(v, of float64, width int) int {
		if of <= 0 {
			return 1
		}
		return max(1, int(float64(width)*v/of))
	},
	"chartHeight": func(rows int) int { return max(1, rows) * 64 },
	"inc":         func(i int) int { return i + 1 },
	"has":         func(list []string, v string) bool { return slices.Contains(list, v) },
	"over": func(total, limit money.Money) bool {
		t, err1 := total.Cents()
		l, err2 := limit.Cents()
		return err1 == nil && err2 == nil && t > l
	},
	"role": func(r contract.Role) string { return string(r) },
	"shortID": func(id string) string {
		if len(id) > 8 {
			return id[:8]
		}
		return id
	},
}

func toFloat(v any) float64 {
	switch n := v.(type) {
	case int:
		return float64(n)
	case int64:
		return float64(n)
	case float64:
		return n
	}
	return 0
}
