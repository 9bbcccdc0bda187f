package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/homeward/homeward/contract"
)

// The fuzz tests feed arbitrary bytes to the code that reads requests: the strict
// decoder every handler uses (decode), each request's Validate, what a handler does
// with a valid body before it reaches the workflow, and the list's filters. None
// may panic, and each must answer only with the kinds of problems the API promises
// for bad input. `go test` runs the seed corpus; `go test -fuzz` searches further.
//
// make fuzz bounds each run by a count of inputs (-fuzztime=10000x), not by time:
// with Go 1.26 a -fuzztime duration can fail a run that found nothing, with a bare
// "context deadline exceeded", when the deadline passes (golang/go#75804, a race
// in the fuzzing coordinator fixed in Go 1.27), more often on a busy machine.

var fuzzNow = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

const fuzzBodyLimit = 1 << 20

// fuzzEngine is the one Gin engine every fuzzed request belongs to: a new engine
// per input (gin.CreateTestContext) took 7 of the 21 µs the documented
// registration takes to decode, and gin.SetMode per input wrote a global.
var fuzzEngine = sync.OnceValue(func() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	return gin.New()
})

// fuzzContext is a Gin context for a request with this body and query.
func fuzzContext(body []byte, query string) *gin.Context {
	c := gin.CreateTestContextOnly(httptest.NewRecorder(), fuzzEngine())
	c.Request = httptest.NewRequest(http.MethodPost, "/api/v1/cases", bytes.NewReader(body))
	c.Request.URL.RawQuery = query // as sent, even if it does not parse
	return c
}

// decodeFuzzed decodes as the API does, and checks that a refusal is a 400 or a 413.
func decodeFuzzed(t *testing.T, data []byte, v any) bool {
	t.Helper()
	err := decode(fuzzContext(data, ""), fuzzBodyLimit, v)
	if err == nil {
		return true
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("decode returned %T (%v), not an *Error", err, err)
	}
	if e.Kind != KindMalformed && e.Kind != KindTooLarge {
		t.Fatalf("decode refused a body as %q, not malformed or too large: %v", e.Kind, e)
	}
	if e.Detail == "" {
		t.Fatalf("decode refused a body without a detail")
	}
	return false
}

// checkFieldErrors: every problem names a field and says what is wrong with it.
func checkFieldErrors(t *testing.T, errs []contract.FieldError) {
	t.Helper()
	for _, fe := range errs {
		if fe.Field == "" || fe.Message == "" {
			t.Fatalf("a field error without a field or a message: %+v", fe)
		}
	}
}

// validRegistration is the body the API documents.
const validRegistration = `{
  "beneficiary": {"given_name": "Aminata", "family_name": "Camara", "date_of_birth": "1990-04-01",
                  "sex": "female", "nationality": "GN", "languages": ["fr"], "phone": "+224621234567",
                  "travel_document": {"number": "X1234567", "expiry": "2030-01-31"}},
  "household": [{"given_name": "Mariama", "relationship": "child", "date_of_birth": "2016-02-11", "unaccompanied_minor": false}],
  "vulnerabilities": ["health_needs"],
  "host_country": "DE",
  "country_of_return": "GN",
  "area_of_return": {"region": "Kankan", "district": "Siguiri"},
  "sending_office": "DE-BER",
  "receiving_office": "GN-CKY",
  "programme": "REAG-GARP",
  "consent": {"data_processing": true, "given_at": "2026-11-20T10:00:00Z", "purpose": "return"}
}`

func FuzzRegistration(f *testing.F) {
	for _, seed := range []string{
		validRegistration,
		`{}`, ``, `null`, `[]`, `"x"`, `0`, `{"beneficiary": null}`, `{"household": null, "vulnerabilities": null}`,
		`{"beneficiary": {"given_name": 7}}`, `{"nickname": "x"}`, `{"beneficiary": {"nickname": "x"}}`,
		`{"consent": {"given_at": "20/11/2026"}}`, `{"consent": {"given_at": "9999-12-31T23:59:59+23:59"}}`,
		`{"beneficiary": {"date_of_birth": "0000-01-01"}}`, `{"beneficiary": {"date_of_birth": "2026-02-30"}}`,
		`{"beneficiary": {"phone": "+"}, "household": [{}, {}, {"date_of_birth": "9999-12-31"}]}`,
		`{"host_country": "GN", "country_of_return": "GN"}`, `{"vulnerabilities": ["", "health_needs", "x"]}`,
		`{"household": [` + string(bytes.Repeat([]byte(`{},`), 25)) + `{}]}`,
		`{} {}`, `{"programme": "\u0000\ud800"}`, `{"beneficiary": {"languages": ["", "a", "123456789"]}}`,
		`{"a":` + string(bytes.Repeat([]byte("["), 200)),
	} {
		f.Add([]byte(seed))
	}
	programmes := func(name string) bool { return name == "REAG-GARP" || name == "EU-IOM-JI" }
	f.Fuzz(func(t *testing.T, data []byte) {
		var reg Registration
		if !decodeFuzzed(t, data, &reg) {
			return
		}
		errs := reg.Validate(fuzzNow, programmes)
		checkFieldErrors(t, errs)
		if len(errs) > 0 {
			return
		}
		// What registerCase does with a valid registration.
		_ = mustJSON(reg.Beneficiary)
		_ = mustJSON(orEmpty(reg.Household))
		_ = mustJSON(orEmpty(reg.Vulnerabilities))
		_ = mustJSON(reg.Consent)
		_ = reg.vulnerable()
		if adults, minors := reg.household(fuzzNow); adults+minors != 1+len(reg.Household) {
			t.Fatalf("%d adults and %d minors in a household of %d", adults, minors, 1+len(reg.Household))
		}
		// A valid registration, written back as JSON, reads and validates again.
		var again Registration
		if !decodeFuzzed(t, []byte(mustJSON(reg)), &again) {
			t.Fatalf("a valid registration does not decode after a round trip: %s", mustJSON(reg))
		}
		if errs := again.Validate(fuzzNow, programmes); len(errs) > 0 {
			t.Fatalf("a valid registration is invalid after a round trip: %v", errs)
		}
	})
}

// actionBodies are the request bodies of the actions and facts on a case, each
// checked as prepare (and action) handle it: decoded, validated, fingerprinted.
var actionBodies = []struct {
	name  string
	seeds []string
	check func(t *testing.T, data []byte)
}{
	{"counselling", []string{`{"outcome": "confirmed", "held_at": "2026-11-20T10:00:00Z", "notes": "ok"}`,
		`{"outcome": "maybe", "held_at": "2999-01-01T00:00:00Z"}`, `{"held_at": "yesterday"}`}, checkBody[contract.Counselling]},
	{"screening", []string{`{"risk": "high", "flags": ["health_needs"], "mitigations": ["escort"]}`,
		`{"risk": "", "flags": ["x"], "mitigations": [""]}`}, checkBody[contract.Screening]},
	{"clearance", []string{`{"decision": "cleared", "comment": "ok"}`, `{"decision": 1}`}, checkBody[contract.Clearance]},
	{"medical", []string{`{"result": "fit", "assessed_at": "2026-11-20T10:00:00Z", "valid_until": "2026-12-20T10:00:00Z"}`,
		`{"result": "unfit_temporary", "assessed_at": "2026-11-20T10:00:00Z", "reassess_after_days": -1}`,
		`{"result": "fit", "assessed_at": "2026-11-20T10:00:00Z", "valid_until": null}`}, checkBody[contract.MedicalResult]},
	{"departure", []string{`{"departed_at": "2026-11-20T10:00:00Z", "flight": "HW101"}`, `{"no_show": true}`,
		`{"no_show": true, "flight": "HW101"}`, `{"departed_at": null}`}, checkBody[contract.Departure]},
	{"arrival", []string{`{"arrived_at": "2026-11-20T10:00:00Z", "received_by": "GN-CKY"}`, `{"received_by": ""}`}, checkBody[contract.Arrival]},
	{"plan", []string{`{"items": [{"dimension": "economic", "kind": "cash", "description": "grant", "cost": {"amount": "400.00", "currency": "EUR"}}]}`,
		`{"items": [{"cost": {"amount": "-1", "currency": "E"}}, {"cost": {"amount": "999999999999.99"}}]}`, `{"items": []}`,
		`{"items": [{"cost": {"amount": 400}}]}`}, checkBody[contract.Plan]},
	{"plan decision", []string{`{"decision": "approve"}`, `{"decision": "reject"}`}, checkBody[contract.PlanDecision]},
	{"delivery", []string{`{"delivered_at": "2026-11-20T10:00:00Z", "handover_certificate": "HC-1"}`, `{"item_id": "x"}`}, checkBody[contract.Delivery]},
	{"monitoring", []string{`{"visit": 1, "visited_at": "2026-11-20T10:00:00Z", "scores": {"economic": 0.5, "social": 1, "psychosocial": 0}, "referrals": ["clinic"]}`,
		`{"visit": -9223372036854775808, "scores": {"economic": 1e308, "social": -0, "psychosocial": 1e-320}}`,
		`{"visit": 1e400}`, `{"referrals": [""]}`}, checkBody[contract.Visit]},
	{"withdrawal", []string{`{"reason": "withdrawn", "comment": "changed their mind"}`, `{"reason": "completed"}`}, checkBody[contract.Withdrawal]},
}

func checkBody[T Request](t *testing.T, data []byte) {
	var body T
	if !decodeFuzzed(t, data, &body) {
		return
	}
	checkFieldErrors(t, body.Validate(fuzzNow))
	_ = fingerprint(body) // what prepare does next: it must not panic on any decoded body
}

func FuzzActionBody(f *testing.F) {
	for i, b := range actionBodies {
		for _, seed := range append(b.seeds, `{}`, `null`, ``, `{"unknown": 1}`, `{} []`) {
			f.Add(uint8(i), []byte(seed))
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		actionBodies[int(which)%len(actionBodies)].check(t, data)
	})
}

func FuzzListFilter(f *testing.F) {
	for _, seed := range []string{
		"", "stage=PlanApproval&status=active&country_of_return=GN&office=GN-CKY&vulnerable=true&overdue=false&waiting_on=approver&limit=200&cursor=a",
		"limit=500", "limit=0", "limit=-1", "limit=9223372036854775808", "stage=Nope", "cursor=zzz", "colour=red",
		"vulnerable=maybe", "status=", "%zz", "=", "a b#c", "stage=%00", "limit=1&limit=2",
	} {
		f.Add(seed, "caseworker", "DE-BER")
	}
	f.Add("", "manager", "*")
	f.Fuzz(func(t *testing.T, query, role, office string) {
		c := fuzzContext(nil, query)
		withValue(c, principalKey, Principal{User: "u", Role: contract.Role(role), Office: office})
		got, err := (&Server{}).filter(c.Request.Context(), c.Request.URL.Query())
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Kind != KindInvalid {
				t.Fatalf("a bad filter is %v, not a validation problem", err)
			}
			for _, fe := range e.Fields {
				if fe.Message == "" { // the field may be "": an unknown, empty parameter name ("?=1")
					t.Fatalf("a field error without a message: %+v", fe)
				}
			}
			return
		}
		if got.Limit < 1 || got.Limit > 200 {
			t.Fatalf("an accepted filter has limit %d", got.Limit)
		}
		if (got.Offices == nil) != (office == "*" || contract.Role(role) == contract.RoleManager) {
			t.Fatalf("a %s of %q may list the offices %v", role, office, got.Offices)
		}
	})
}

// The fuzz seeds include the documented body; it must decode and validate, or the
// fuzz tests would only ever explore refusals.
func TestFuzzSeedRegistrationIsValid(t *testing.T) {
	var reg Registration
	if !decodeFuzzed(t, []byte(validRegistration), &reg) {
		t.Fatal("the documented registration does not decode")
	}
	if errs := reg.Validate(fuzzNow, func(string) bool { return true }); len(errs) > 0 {
		t.Fatalf("the documented registration is invalid: %v", errs)
	}
	if _, err := json.Marshal(reg); err != nil {
		t.Fatal(err)
	}
}
