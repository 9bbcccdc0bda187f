package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/homeward/homeward/config"
	"github.com/homeward/homeward/stack"
	"github.com/homeward/homeward/store"
)

// The beneficiary of these tests carries a marker in the names and a phone that
// no error body may ever repeat.
const (
	canary      = "Canary7f3a"
	canaryPhone = "+224627731004"
)

// canaryRegistration is a valid registration whose personal data is marked.
func canaryRegistration() map[string]any {
	r := registration()
	setField(r, "beneficiary.given_name", canary+"Given")
	setField(r, "beneficiary.family_name", canary+"Family")
	setField(r, "beneficiary.phone", canaryPhone)
	setField(r, "household", []any{map[string]any{"given_name": canary + "Child", "relationship": "child", "date_of_birth": "2016-02-11"}})
	return r
}

// removeField, as the value given to setField, deletes the field.
var removeField = &struct{}{}

// set changes the field at a dotted path of a JSON object ("beneficiary.phone").
func setField(m map[string]any, path string, v any) map[string]any {
	keys := strings.Split(path, ".")
	inner := m
	for _, k := range keys[:len(keys)-1] {
		inner = inner[k].(map[string]any)
	}
	if v == removeField {
		delete(inner, keys[len(keys)-1])
	} else {
		inner[keys[len(keys)-1]] = v
	}
	return m
}

// regWith is the canary registration with fields changed: path, value, path, value...
func regWith(pathsAndValues ...any) map[string]any {
	r := canaryRegistration()
	for i := 0; i+1 < len(pathsAndValues); i += 2 {
		setField(r, pathsAndValues[i].(string), pathsAndValues[i+1])
	}
	return r
}

// withSNCaseworker adds a caseworker of an office (Dakar) that no test case involves.
func withSNCaseworker(cfg config.Config) config.Config {
	cfg.Auth.Tokens = append(slices.Clone(cfg.Auth.Tokens),
		config.Token{Token: "dev-caseworker-sn", User: "caseworker-sn", Role: "caseworker", Office: "SN-DKR"})
	return cfg
}

// problem checks that r is an RFC 9457 problem with this status, naming these
// fields, and free of the beneficiary's personal data; it returns the problem.
func (h *homeward) problem(r response, status int, fields ...string) map[string]any {
	h.t.Helper()
	require.Equal(h.t, status, r.Status, string(r.Body))
	media, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	require.NoError(h.t, err)
	require.Equal(h.t, "application/problem+json", media)
	p := r.JSON(h.t)
	for _, k := range []string{"type", "title", "detail"} {
		s, _ := p[k].(string)
		require.NotEmpty(h.t, s, "the problem has no %s: %s", k, r.Body)
	}
	require.Equal(h.t, float64(status), p["status"])
	h.noPersonalData(r.Body)
	var named []string
	errs, _ := p["errors"].([]any)
	for _, e := range errs {
		named = append(named, e.(map[string]any)["field"].(string))
	}
	for _, f := range fields {
		require.Contains(h.t, named, f, "the problem does not name %s: %s", f, r.Body)
	}
	return p
}

func (h *homeward) noPersonalData(body []byte) {
	h.t.Helper()
	for _, pd := range []string{canary, canaryPhone, strings.TrimPrefix(canaryPhone, "+")} {
		require.NotContains(h.t, string(body), pd, "personal data in a response")
	}
}

// caseIDs are the cases in the database.
func (h *homeward) caseIDs() []string {
	h.t.Helper()
	page, err := h.s.Store.ListCases(h.t.Context(), store.Filter{Limit: 200})
	require.NoError(h.t, err)
	ids := []string{}
	for _, c := range page.Cases {
		ids = append(ids, c.ID)
	}
	return ids
}

// workflowIDs are the workflows started on this test's task queue.
func (h *homeward) workflowIDs() []string {
	h.t.Helper()
	res, err := temporalClient().ListWorkflow(h.t.Context(), &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: h.s.Config.Temporal.Namespace,
		Query:     fmt.Sprintf("TaskQueue = '%s'", h.s.Config.Temporal.TaskQueue),
	})
	require.NoError(h.t, err)
	ids := []string{}
	for _, e := range res.Executions {
		ids = append(ids, e.GetExecution().GetWorkflowId())
	}
	return ids
}

// onlyCases waits until the workflows of the task queue are those of these cases,
// and checks that the database holds exactly these cases. (Temporal's visibility
// lags a little: a case registered last is the sentinel that it caught up.)
func (h *homeward) onlyCases(ids ...string) {
	h.t.Helper()
	var want []string
	for _, id := range ids {
		want = append(want, "case-"+id)
	}
	slices.Sort(want)
	var got []string
	h.eventually(fmt.Sprintf("the workflows %v", want), 10*time.Second, func() bool {
		got = h.workflowIDs()
		slices.Sort(got)
		return slices.Equal(got, want)
	})
	got = h.caseIDs()
	slices.Sort(got)
	want = slices.Clone(ids)
	slices.Sort(want)
	require.Equal(h.t, want, got, "the cases in the database")
}

// Each malformed, invalid or unauthorised registration gets its problem, with no
// personal data in it, and leaves no case and no workflow behind.
func TestRegistrationRefusesBadInput(t *testing.T) {
	eachDatabase(t, func(t *testing.T, driver string) {
		h := start(t, withSNCaseworker(testConfig(t, driver)))
		tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format("2006-01-02")
		valid, err := json.Marshal(canaryRegistration())
		require.NoError(t, err)
		tooLarge := regWith("beneficiary.given_name", canary+strings.Repeat("a", 1<<20))

		for _, tc := range []struct {
			name   string
			token  string
			body   any
			status int
			fields []string
		}{
			{"malformed JSON", "dev-caseworker", string(valid[:len(valid)/2]), 400, nil},
			{"two JSON objects", "dev-caseworker", string(valid) + string(valid), 400, nil},
			{"unknown field", "dev-caseworker", regWith("nickname", canary), 400, []string{"nickname"}},
			{"unknown nested field", "dev-caseworker", regWith("beneficiary.nickname", canary), 400, []string{"nickname"}},
			{"wrong type", "dev-caseworker", regWith("host_country", 49), 400, []string{"host_country"}},
			{"wrong type in a nested field", "dev-caseworker", regWith("consent.data_processing", "yes"), 400, []string{"consent.data_processing"}},
			{"a time that is not RFC 3339", "dev-caseworker", regWith("consent.given_at", "20/11/2026"), 400, nil},
			{"not an object", "dev-caseworker", `["` + canary + `"]`, 400, nil},
			{"empty body", "dev-caseworker", "", 400, nil},
			{"missing required fields", "dev-caseworker", `{}`, 422, []string{"beneficiary.given_name", "beneficiary.family_name",
				"beneficiary.date_of_birth", "beneficiary.sex", "beneficiary.nationality", "host_country", "country_of_return",
				"sending_office", "receiving_office", "programme", "consent.data_processing", "consent.given_at"}},
			{"missing beneficiary", "dev-caseworker", regWith("beneficiary", removeField), 422, []string{"beneficiary.given_name"}},
			{"bad country code", "dev-caseworker", regWith("country_of_return", "XX"), 422, []string{"country_of_return"}},
			{"bad nationality", "dev-caseworker", regWith("beneficiary.nationality", "gn"), 422, []string{"beneficiary.nationality"}},
			{"bad phone", "dev-caseworker", regWith("beneficiary.phone", "0621 "+canary), 422, []string{"beneficiary.phone"}},
			{"date of birth in the future", "dev-caseworker", regWith("beneficiary.date_of_birth", tomorrow), 422, []string{"beneficiary.date_of_birth"}},
			{"date of birth not a date", "dev-caseworker", regWith("beneficiary.date_of_birth", canary), 422, []string{"beneficiary.date_of_birth"}},
			{"host country is the country of return", "dev-caseworker", regWith("host_country", "GN"), 422, []string{"country_of_return"}},
			{"no data-processing consent", "dev-caseworker", regWith("consent.data_processing", false), 422, []string{"consent.data_processing"}},
			{"unknown programme", "dev-caseworker", regWith("programme", "NOPE"), 422, []string{"programme"}},
			{"bad office code", "dev-caseworker", regWith("sending_office", "Berlin"), 422, []string{"sending_office"}},
			{"body over 1 MiB", "dev-caseworker", tooLarge, 413, nil},
			{"no token", "", canaryRegistration(), 401, nil},
			{"bad token", "not-a-token", canaryRegistration(), 401, nil},
			{"an approver", "dev-approver", canaryRegistration(), 403, nil},
			{"a manager", "dev-manager", canaryRegistration(), 403, nil},
			{"a caseworker of neither office", "dev-caseworker-sn", canaryRegistration(), 403, nil},
			{"a caseworker of neither office (GN-CKY for DE-BER to SN-DKR)", "dev-caseworker-gn",
				regWith("country_of_return", "SN", "receiving_office", "SN-DKR"), 403, nil},
			// The receiving office sees the case but does not register it for the sender.
			{"a caseworker of the receiving office", "dev-caseworker-gn", canaryRegistration(), 403, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				h := &homeward{t: t, s: h.s, router: h.router}
				h.problem(h.call("POST", "/api/v1/cases", tc.token, tc.body), tc.status, tc.fields...)
			})
		}
		require.Empty(t, h.caseIDs(), "a refused registration leaves no case")

		// The same registration, valid, is accepted: the only case and workflow.
		r := h.call("POST", "/api/v1/cases", "dev-caseworker", canaryRegistration())
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		h.onlyCases(r.JSON(t)["id"].(string))
	})
}

// A registration repeated with the same Idempotency-Key, one after the other or
// at the same time, creates one case and starts one workflow.
func TestRegistrationIsIdempotent(t *testing.T) {
	eachDatabase(t, func(t *testing.T, driver string) {
		h := start(t, testConfig(t, driver))

		first := h.call("POST", "/api/v1/cases", "dev-caseworker", canaryRegistration(), "Idempotency-Key", "reg-1")
		require.Equal(t, http.StatusCreated, first.Status, string(first.Body))
		id := first.JSON(t)["id"].(string)
		require.Equal(t, "/api/v1/cases/"+id, first.Header.Get("Location"))
		again := h.call("POST", "/api/v1/cases", "dev-caseworker", canaryRegistration(), "Idempotency-Key", "reg-1")
		require.Equal(t, http.StatusOK, again.Status, string(again.Body))
		require.Equal(t, id, again.JSON(t)["id"])

		// Five clients at once with the same key: one creates, the others get it.
		const n = 5
		results := make([]sent, n)
		var wg sync.WaitGroup
		someoneElse := canaryRegistration() // the first case is active: one person, one active case
		setField(someoneElse, "beneficiary.family_name", canary+"OtherFamily")
		for i := range n {
			wg.Go(func() {
				results[i] = h.send("POST", "/api/v1/cases", "dev-caseworker", someoneElse, "Idempotency-Key", "reg-2")
			})
		}
		wg.Wait()
		var statuses []int
		ids := map[string]bool{}
		for _, s := range results {
			require.NoError(t, s.err)
			h.conforms(s.req, s.res, s.body)
			statuses = append(statuses, s.res.StatusCode)
			var c map[string]any
			require.NoError(t, json.Unmarshal(s.body, &c), string(s.body))
			ids[fmt.Sprint(c["id"])] = true
		}
		slices.Sort(statuses)
		require.Equal(t, []int{200, 200, 200, 200, 201}, statuses)
		require.Len(t, ids, 1, "every client gets the same case")
		require.NotContains(t, ids, id, "another key is another case")

		var second string
		for k := range ids {
			second = k
		}
		h.onlyCases(id, second)
	})
}

// sent is a request sent without failing the test, for other goroutines.
type sent struct {
	req  *http.Request
	res  *http.Response
	body []byte
	err  error
}

// send is call for goroutines: it reports errors instead of failing the test; the
// test checks the response (and its contract) on its own goroutine.
func (h *homeward) send(method, path, token string, body any, headers ...string) sent {
	req, res, b, err := h.exchange(method, path, token, body, headers...)
	return sent{req: req, res: res, body: b, err: err}
}

// Bad actions on a case, and bad reads, get their problems and change nothing:
// the case still takes its next step once, afterwards.
func TestActionsRefuseBadInput(t *testing.T) {
	h := start(t, withSNCaseworker(testConfig(t, "sqlite")))
	r := h.call("POST", "/api/v1/cases", "dev-caseworker", canaryRegistration())
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	id := r.JSON(t)["id"].(string)
	path := "/api/v1/cases/" + id
	unknown := "/api/v1/cases/" + uuid.NewString()
	before := h.waitCase(id, "counselling", stageIs("Counselling"))

	counselling := func() map[string]any { return map[string]any{"outcome": "confirmed", "held_at": now()} }
	inAnHour := time.Now().UTC().Add(time.Hour).Format(time.RFC3339)
	for _, tc := range []struct {
		name                string
		method, path, token string
		body                any
		headers             []string
		status              int
		fields              []string
	}{
		{name: "unknown case", method: "POST", path: unknown + "/counselling", token: "dev-caseworker", body: counselling(), status: 404},
		{name: "unknown case, read", method: "GET", path: unknown, token: "dev-caseworker", status: 404},
		{name: "unknown case, timeline", method: "GET", path: unknown + "/timeline", token: "dev-manager", status: 404},
		{name: "malformed ID", method: "POST", path: "/api/v1/cases/not-a-uuid/counselling", token: "dev-caseworker", body: counselling(), status: 404},
		{name: "malformed ID, read", method: "GET", path: "/api/v1/cases/not-a-uuid", token: "dev-caseworker", status: 404},
		{name: "another office's case, read", method: "GET", path: path, token: "dev-caseworker-sn", status: 404},
		{name: "another office's case, timeline", method: "GET", path: path + "/timeline", token: "dev-caseworker-sn", status: 404},
		{name: "another office's case, action", method: "POST", path: path + "/counselling", token: "dev-caseworker-sn", body: counselling(), status: 404},
		{name: "wrong stage: screening before counselling", method: "POST", path: path + "/screening", token: "dev-caseworker", body: map[string]any{"risk": "low"}, status: 409},
		{name: "wrong stage: departure before counselling", method: "POST", path: path + "/departure", token: "dev-caseworker", body: map[string]any{"departed_at": now(), "flight": "HW101"}, status: 409},
		{name: "wrong role: an approver records counselling", method: "POST", path: path + "/counselling", token: "dev-approver", body: counselling(), status: 403},
		{name: "wrong role: a caseworker decides on a plan", method: "POST", path: path + "/plan/decisions", token: "dev-caseworker", body: map[string]any{"decision": "approve"}, status: 403},
		{name: "no token", method: "POST", path: path + "/counselling", body: counselling(), status: 401},
		{name: "outcome not one of the outcomes", method: "POST", path: path + "/counselling", token: "dev-caseworker", body: setField(counselling(), "outcome", "maybe"), status: 422, fields: []string{"outcome"}},
		{name: "held_at in the future", method: "POST", path: path + "/counselling", token: "dev-caseworker", body: setField(counselling(), "held_at", inAnHour), status: 422, fields: []string{"held_at"}},
		{name: "held_at missing", method: "POST", path: path + "/counselling", token: "dev-caseworker", body: setField(counselling(), "held_at", removeField), status: 422, fields: []string{"held_at"}},
		{name: "unknown field", method: "POST", path: path + "/counselling", token: "dev-caseworker", body: setField(counselling(), "mood", canary), status: 400, fields: []string{"mood"}},
		{name: "wrong type", method: "POST", path: path + "/counselling", token: "dev-caseworker", body: setField(counselling(), "outcome", true), status: 400, fields: []string{"outcome"}},
		{name: "malformed JSON", method: "POST", path: path + "/counselling", token: "dev-caseworker", body: `{"outcome": `, status: 400},
		{name: "empty body", method: "POST", path: path + "/counselling", token: "dev-caseworker", body: "", status: 400},
		{name: "Idempotency-Key over 255 characters", method: "POST", path: path + "/counselling", token: "dev-caseworker", body: counselling(), headers: []string{"Idempotency-Key", strings.Repeat("k", 256)}, status: 422},
		{name: "a service reads a case", method: "GET", path: path, token: "dev-medical", status: 403},
		{name: "limit over 200", method: "GET", path: "/api/v1/cases?limit=500", token: "dev-caseworker", status: 422, fields: []string{"limit"}},
		{name: "limit not a number", method: "GET", path: "/api/v1/cases?limit=ten", token: "dev-caseworker", status: 422, fields: []string{"limit"}},
		{name: "unknown stage", method: "GET", path: "/api/v1/cases?stage=Nope", token: "dev-caseworker", status: 422, fields: []string{"stage"}},
		{name: "cursor not given out", method: "GET", path: "/api/v1/cases?cursor=not-a-cursor!", token: "dev-caseworker", status: 422, fields: []string{"cursor"}},
		{name: "cursor guessed", method: "GET", path: "/api/v1/cases?cursor=zzz", token: "dev-caseworker", status: 422, fields: []string{"cursor"}},
		{name: "unknown filter", method: "GET", path: "/api/v1/cases?colour=red", token: "dev-caseworker", status: 422, fields: []string{"colour"}},
		{name: "stuck cases for a caseworker", method: "GET", path: "/api/v1/stuck", token: "dev-caseworker", status: 403},
		{name: "monthly report, bad month", method: "GET", path: "/api/v1/reports/monthly?month=2026-13", token: "dev-manager", status: 422, fields: []string{"month"}},
		{name: "monthly report, no month", method: "GET", path: "/api/v1/reports/monthly", token: "dev-manager", status: 422, fields: []string{"month"}},
		{name: "unknown route", method: "GET", path: "/api/v1/nope", token: "dev-caseworker", status: 404},
		{name: "unknown method", method: "DELETE", path: path, token: "dev-manager", status: 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &homeward{t: t, s: h.s, router: h.router}
			h.problem(h.call(tc.method, tc.path, tc.token, tc.body, tc.headers...), tc.status, tc.fields...)
		})
	}

	// Nothing changed: the same case, which takes counselling once.
	after := h.call("GET", path, "dev-manager", nil).JSON(t)
	delete(before, "updated_at")
	delete(after, "updated_at")
	require.Equal(t, before, after, "a refused action changes nothing")
	r = h.call("POST", path+"/counselling", "dev-caseworker", counselling())
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	h.waitCase(id, "screening", stageIs("Screening"))
	var types []string
	h.eventually("counselling in the timeline", 10*time.Second, func() bool {
		types = h.timelineTypes(id)
		return slices.Contains(types, "counselling")
	})
	require.Equal(t, 1, occurrences(types, "counselling"), "one counselling in the timeline: %v", types)
	require.Equal(t, 1, occurrences(types, "registered"), "one registration in the timeline: %v", types)
	require.NotContains(t, types, "screening")
	h.onlyCases(id)
}

func occurrences(xs []string, x string) int {
	n := 0
	for _, v := range xs {
		if v == x {
			n++
		}
	}
	return n
}

func (h *homeward) timelineTypes(id string) []string {
	h.t.Helper()
	r := h.call("GET", "/api/v1/cases/"+id+"/timeline", "dev-manager", nil)
	require.Equal(h.t, http.StatusOK, r.Status, string(r.Body))
	var types []string
	for _, e := range r.JSON(h.t)["items"].([]any) {
		types = append(types, e.(map[string]any)["type"].(string))
	}
	return types
}

// With Temporal unreachable, a registration is kept: the case is registered (201,
// audited), its workflow started by the API's sweeper once Temporal answers; a
// change the workflow decides is refused with 503 and Retry-After meanwhile. The
// stack is alive but not ready.
func TestRegistrationWhenTemporalIsDown(t *testing.T) {
	dead, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1"})
	require.NoError(t, err)
	t.Cleanup(dead.Close)
	// PlainPayloads: a client that never connected cannot be wrapped with the codec; nothing reaches Temporal here.
	cfg := testConfig(t, "sqlite")
	cfg.Temporal.TaskProbeAfter = 0 // every active case is asked about
	h := startWith(t, stack.Options{Config: cfg, Temporal: dead, NoWorker: true, PlainPayloads: true})

	r := h.call("POST", "/api/v1/cases", "dev-caseworker", canaryRegistration(), "Idempotency-Key", "down-1")
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	registered := r.JSON(t)["id"].(string)
	require.Equal(t, []string{registered}, h.caseIDs(), "the case is kept")
	row, err := h.s.Store.CaseByID(t.Context(), registered)
	require.NoError(t, err)
	require.True(t, row.Unstarted(), "its start is pending")
	trail, err := h.s.Store.AuditTrail(t.Context(), registered)
	require.NoError(t, err)
	require.Len(t, trail, 1, "the registration is audited")
	r = h.call("POST", "/api/v1/cases/"+registered+"/counselling", "dev-caseworker",
		map[string]any{"outcome": "confirmed", "held_at": time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)})
	h.problem(r, http.StatusServiceUnavailable)
	require.Equal(t, "5", r.Header.Get("Retry-After"))
	r = h.call("POST", "/api/v1/cases", "dev-caseworker", canaryRegistration(), "Idempotency-Key", "down-1")
	require.Equal(t, http.StatusOK, r.Status, "the retry gets the case: %s", string(r.Body))
	require.Equal(t, registered, r.JSON(t)["id"])

	require.Equal(t, http.StatusOK, h.call("GET", "/healthz", "", nil).Status)
	ready := h.call("GET", "/readyz", "", nil)
	require.Equal(t, http.StatusServiceUnavailable, ready.Status, string(ready.Body))
	require.NotEmpty(t, ready.Header.Get("Retry-After"))
	require.Equal(t, map[string]any{"database": "ok", "temporal": "unavailable"}, ready.JSON(t)["checks"])

	// A manager still sees the stuck cases the case file knows of: the failing
	// workflow tasks are unknown while Temporal cannot be asked, not an error.
	now := time.Now().UTC()
	id := uuid.NewString()
	stuck := &store.Case{ID: id, Status: "active", Stage: "Travel", WaitingOn: "system", StageEnteredAt: now.Add(-time.Hour),
		HostCountry: "DE", CountryOfReturn: "GN", SendingOffice: "DE-BER", ReceivingOffice: "GN-CKY", Programme: "REAG-GARP",
		Beneficiary: "{}", Household: "[]", Vulnerabilities: "[]", Consent: "{}", State: "{}", Currency: "EUR",
		CreatedBy: "caseworker-de", WorkflowID: "case-" + id, CreatedAt: now, UpdatedAt: now.Add(-time.Hour)}
	require.NoError(t, h.s.Store.CreateCase(t.Context(), stuck, nil, func(context.Context, *store.Case) (string, error) { return "run-1", nil }))
	r = h.call("GET", "/api/v1/stuck", "dev-manager", nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	items := r.JSON(t)["items"].([]any)
	require.Len(t, items, 1)
	require.Equal(t, "system", items[0].(map[string]any)["reason"])
}

func TestHealthAndReadiness(t *testing.T) {
	h := start(t, testConfig(t, "sqlite"))
	require.Equal(t, http.StatusOK, h.call("GET", "/healthz", "", nil).Status)
	ready := h.call("GET", "/readyz", "", nil)
	require.Equal(t, http.StatusOK, ready.Status, string(ready.Body))
	require.Equal(t, "ready", ready.JSON(t)["status"])
}

var uuidRE = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)

// The request metrics are labelled by route template: never a case ID, a raw
// path, or anything a beneficiary said.
func TestMetricsCarryNoIDsOrPersonalData(t *testing.T) {
	h := start(t, testConfig(t, "sqlite"))
	r := h.call("POST", "/api/v1/cases", "dev-caseworker", canaryRegistration())
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	path := "/api/v1/cases/" + r.JSON(t)["id"].(string)
	require.Equal(t, http.StatusOK, h.call("GET", path, "dev-caseworker", nil).Status)
	require.Equal(t, http.StatusOK, h.call("GET", path+"/timeline", "dev-caseworker", nil).Status)
	h.problem(h.call("GET", "/api/v1/cases/"+uuid.NewString(), "dev-caseworker", nil), http.StatusNotFound)
	h.problem(h.call("POST", "/api/v1/cases", "dev-caseworker", regWith("host_country", "GN")), http.StatusUnprocessableEntity)
	const rawPath = "/api/v1/no-such-route-7f3a"
	h.problem(h.call("GET", rawPath, "dev-caseworker", nil), http.StatusNotFound)

	m := h.call("GET", "/metrics", "", nil)
	require.Equal(t, http.StatusOK, m.Status)
	body := string(m.Body)
	for _, want := range []string{
		`homeward_http_requests_total{method="GET",route="/api/v1/cases/:id",status="200"} 1`,
		`homeward_http_requests_total{method="GET",route="/api/v1/cases/:id",status="404"} 1`,
		`homeward_http_requests_total{method="GET",route="/api/v1/cases/:id/timeline",status="200"} 1`,
		`homeward_http_requests_total{method="POST",route="/api/v1/cases",status="201"} 1`,
		`homeward_http_requests_total{method="POST",route="/api/v1/cases",status="422"} 1`,
		`homeward_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
	} {
		require.Contains(t, body, want)
	}
	require.NotRegexp(t, uuidRE, body, "a case ID in the metrics")
	require.NotContains(t, body, path)
	require.NotContains(t, body, rawPath, "an unmatched path in the metrics")
	h.noPersonalData(m.Body)
}

// The same Idempotency-Key with another registration is a conflict, not the first case.
func TestRegistrationKeyReusedForAnotherBody(t *testing.T) {
	h := start(t, testConfig(t, "sqlite"))
	first := h.call("POST", "/api/v1/cases", "dev-caseworker", registration(), "Idempotency-Key", "reg-42")
	require.Equal(t, http.StatusCreated, first.Status, string(first.Body))
	other := registration()
	other["country_of_return"] = "SN"
	r := h.call("POST", "/api/v1/cases", "dev-caseworker", other, "Idempotency-Key", "reg-42")
	require.Equal(t, http.StatusConflict, r.Status, string(r.Body))
	page, err := h.s.Store.ListCases(t.Context(), store.Filter{Limit: 10})
	require.NoError(t, err)
	require.Len(t, page.Cases, 1)
}
