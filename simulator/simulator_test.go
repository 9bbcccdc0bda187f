package simulator

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/money"
	"github.com/homeward/homeward/partners"
)

var t0 = time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)

// start serves a new simulator on an httptest server; both close at cleanup.
func start(t *testing.T, opts Options) (*Simulator, *httptest.Server) {
	t.Helper()
	sim := New(opts)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(func() { sim.Close(); srv.Close() })
	return sim, srv
}

// send makes a raw partner call and returns the status and body.
func send(t *testing.T, srv *httptest.Server, method, path, key string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	require.NoError(t, err)
	if key != "" {
		req.Header.Set(partners.IdempotencyHeader, key)
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, out
}

func eur(s string) money.Money { return money.Money{Amount: s, Currency: "EUR"} }

func payment(item string) partners.PaymentRequest {
	return partners.PaymentRequest{CaseID: "c1", ItemID: item, PayeeKind: partners.PayeeBeneficiary,
		Payee: "HW-1", Amount: eur("500.00"), Purpose: "start-up grant"}
}

func holdReq(caseID string) partners.BookingRequest {
	return partners.BookingRequest{CaseID: caseID, Reference: "HW-1", Attempt: 1, FromCountry: "DE", ToCountry: "GN",
		Passengers: 2, NotBefore: t0}
}

func TestIdempotentPayment(t *testing.T) {
	sim, srv := start(t, Options{Seed: 1})
	st1, b1 := send(t, srv, "POST", "/finance/v1/payments", "c1/i1/pay", payment("i1"))
	st2, b2 := send(t, srv, "POST", "/finance/v1/payments", "c1/i1/pay", payment("i1"))
	require.Equal(t, http.StatusCreated, st1)
	require.Equal(t, st1, st2)
	require.JSONEq(t, string(b1), string(b2), "a repeated key answers the first answer")

	c := sim.Counts()
	require.Equal(t, 1, c.Payments)
	require.Equal(t, map[string]int{"c1/i1/pay": 1}, c.PaymentsByKey)
	require.Equal(t, map[string]int{"c1/i1": 1}, c.PaymentsByItem)
	require.Equal(t, 1, c.Replays[partners.ServiceFinance])
	require.Equal(t, 2, c.Calls[partners.ServiceFinance])

	// The same key for a different request is a caller's bug, refused.
	st, body := send(t, srv, "POST", "/finance/v1/payments", "c1/i1/pay", payment("i2"))
	require.Equal(t, http.StatusUnprocessableEntity, st)
	require.Contains(t, string(body), "different request")
	require.Equal(t, 1, sim.Counts().Payments)
}

func TestKeyIsRequired(t *testing.T) {
	sim, srv := start(t, Options{})
	st, body := send(t, srv, "POST", "/finance/v1/payments", "", payment("i1"))
	require.Equal(t, http.StatusBadRequest, st)
	require.Contains(t, string(body), "Idempotency-Key")
	require.Zero(t, sim.Counts().Payments)
}

func TestAPIKey(t *testing.T) {
	_, srv := start(t, Options{APIKey: "secret"})
	st, _ := send(t, srv, "POST", "/finance/v1/payments", "k", payment("i1"))
	require.Equal(t, http.StatusUnauthorized, st)
	c := partners.New(srv.URL, "secret", time.Second)
	_, err := c.Pay(context.Background(), "k", payment("i1"))
	require.NoError(t, err)
}

func TestInjected503HasNoEffect(t *testing.T) {
	sim, srv := start(t, Options{FailureRate: 1})
	c := partners.New(srv.URL, "k", time.Second)
	ctx := context.Background()
	calls := []func() error{
		func() error { _, err := c.Pay(ctx, "pay", payment("i1")); return err },
		func() error { _, err := c.HoldBooking(ctx, "hold", holdReq("c1")); return err },
		func() error {
			_, err := c.Notify(ctx, "n", partners.Message{CaseID: "c1", To: partners.ToManager, Kind: partners.NotifyOverdue, Text: "x"})
			return err
		},
		func() error {
			_, err := c.UpsertCase(ctx, "u", contract.CaseRecord{CaseID: "c1", Reference: "HW-1", Stage: contract.StageIntake,
				Status: contract.StatusActive, UpdatedAt: t0})
			return err
		},
	}
	for _, call := range calls {
		var un *partners.Unavailable
		require.ErrorAs(t, call(), &un)
		require.Equal(t, http.StatusServiceUnavailable, un.Status)
	}
	n := sim.Counts()
	require.Zero(t, n.Payments)
	require.Zero(t, n.Bookings.Held)
	require.Empty(t, n.Notifications)
	require.Zero(t, n.RegistryUpserts)
	require.Equal(t, 1, n.FailuresInjected[partners.ServiceFinance])

	// A failed call was not stored under its key: once healed, the same key pays.
	require.NoError(t, sim.SetFault("*", Fault{}))
	_, err := c.Pay(ctx, "pay", payment("i1"))
	require.NoError(t, err)
	require.Equal(t, 1, sim.Counts().Payments)
}

func TestInjected422IsRejected(t *testing.T) {
	sim, srv := start(t, Options{})
	require.NoError(t, sim.SetFault(partners.ServiceSuppliers, Fault{FailureRate: 1, Mode: ModeReject}))
	c := partners.New(srv.URL, "k", time.Second)
	_, err := c.PlacePurchaseOrder(context.Background(), "po", partners.PurchaseOrderRequest{CaseID: "c1", ItemID: "i1", Supplier: "A", Price: eur("1.00")})
	var rej *partners.Rejected
	require.ErrorAs(t, err, &rej)
	require.Equal(t, "simulated rejection by suppliers", rej.Message)
	// Other services are unaffected.
	_, err = c.Pay(context.Background(), "pay", payment("i1"))
	require.NoError(t, err)
	require.Zero(t, sim.Counts().PurchaseOrders)
}

func TestInjectedHangTimesOut(t *testing.T) {
	sim, srv := start(t, Options{})
	require.NoError(t, sim.SetFault(partners.ServiceTravel, Fault{FailureRate: 1, Mode: ModeHang}))
	c := partners.New(srv.URL, "k", 50*time.Millisecond)
	_, err := c.HoldBooking(context.Background(), "hold", holdReq("c1"))
	var un *partners.Unavailable
	require.ErrorAs(t, err, &un)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Zero(t, sim.Counts().Bookings.Held)
}

func TestFaultsOverHTTP(t *testing.T) {
	sim, srv := start(t, Options{})
	st, _ := send(t, srv, "PUT", "/_sim/faults", "", map[string]any{"service": "finance", "failure_rate": 1, "mode": "503", "latency": "1ms"})
	require.Equal(t, http.StatusNoContent, st)
	require.Equal(t, Fault{FailureRate: 1, Mode: ModeUnavailable, Latency: time.Millisecond}, sim.Faults()[partners.ServiceFinance])
	st, _ = send(t, srv, "POST", "/finance/v1/payments", "k", payment("i1"))
	require.Equal(t, http.StatusServiceUnavailable, st)

	for _, bad := range []map[string]any{{"service": "bank"}, {"failure_rate": 2}, {"mode": "500"}, {"latency": "soon"}} {
		st, _ = send(t, srv, "PUT", "/_sim/faults", "", bad)
		require.Equal(t, http.StatusBadRequest, st, bad)
	}
	// "*" resets every service's own fault.
	st, _ = send(t, srv, "PUT", "/_sim/faults", "", map[string]any{"service": "*", "failure_rate": 0})
	require.Equal(t, http.StatusNoContent, st)
	st, _ = send(t, srv, "POST", "/finance/v1/payments", "k", payment("i1"))
	require.Equal(t, http.StatusCreated, st)

	st, body := send(t, srv, "GET", "/_sim/counts", "", nil)
	require.Equal(t, http.StatusOK, st)
	var counts map[string]any
	require.NoError(t, json.Unmarshal(body, &counts))
	require.Equal(t, 1.0, counts["payments"])
	require.Equal(t, map[string]any{"finance": 1.0}, counts["failures_injected"])
	require.Equal(t, map[string]any{"held": 0.0, "ticketed": 0.0, "cancelled": 0.0, "refunded": 0.0}, counts["bookings"])
}

func TestSeededDeterminism(t *testing.T) {
	answers := func(seed int64) []string {
		_, srv := start(t, Options{Seed: seed})
		var out []string
		for i, c := range []struct {
			path string
			body any
		}{
			{"/travel/v1/bookings", holdReq("c1")},
			{"/suppliers/v1/quote-requests", partners.QuoteRequest{CaseID: "c1", ItemID: "i1", Description: "tools", Budget: eur("3000.00"), QuotesWanted: 3}},
			{"/suppliers/v1/quote-requests", partners.QuoteRequest{CaseID: "c1", ItemID: "i2", Description: "tools", Budget: eur("700.00"), QuotesWanted: 1}},
		} {
			st, body := send(t, srv, "POST", c.path, strconv.Itoa(i), c.body)
			require.Less(t, st, 300, string(body))
			out = append(out, string(body))
		}
		return out
	}
	require.Equal(t, answers(7), answers(7))
	require.NotEqual(t, answers(7), answers(8))
}

func TestBookingAndQuotesArePlausible(t *testing.T) {
	_, srv := start(t, Options{Seed: 3})
	c := partners.New(srv.URL, "k", time.Second)
	ctx := context.Background()

	b, err := c.HoldBooking(ctx, "hold", holdReq("c1"))
	require.NoError(t, err)
	require.Equal(t, contract.BookingHeld, b.Status)
	require.Regexp(t, `^HW[0-9]{4}$`, b.Flight)
	require.Equal(t, t0.Add(72*time.Hour), b.DepartureAt)

	q, err := c.RequestQuotes(ctx, "q", partners.QuoteRequest{CaseID: "c1", ItemID: "i1", Description: "tools", Budget: eur("3000.00"), QuotesWanted: 5})
	require.NoError(t, err)
	require.Len(t, q.Quotes, 5)
	seen := map[string]bool{}
	cheap := 0
	for _, x := range q.Quotes {
		require.True(t, x.Compliant)
		require.False(t, seen[x.Supplier], "suppliers differ")
		seen[x.Supplier] = true
		p, err := x.Price.Cents()
		require.NoError(t, err)
		require.Equal(t, "EUR", x.Price.Currency)
		if p <= money.MustParse("2550.00") {
			cheap++
		} else {
			require.GreaterOrEqual(t, p, money.MustParse("2760.00"))
		}
	}
	require.Equal(t, 1, cheap, "one quote is clearly cheapest")

	e, err := c.CheckEligibility(ctx, "e", partners.EligibilityRequest{CaseID: "c1", Programme: "REAG-GARP", CountryOfReturn: "GN", Adults: 1, Vulnerable: true})
	require.NoError(t, err)
	require.Equal(t, partners.Eligibility{Eligible: true, AssistanceLevel: "enhanced", Reason: "meets the REAG-GARP criteria"}, e)
}

func TestBookingRules(t *testing.T) {
	sim, srv := start(t, Options{})
	c := partners.New(srv.URL, "k", time.Second)
	ctx := context.Background()
	var rej *partners.Rejected

	b1, err := c.HoldBooking(ctx, "c1/hold/1", holdReq("c1"))
	require.NoError(t, err)
	_, err = c.BookEscort(ctx, "c2/escort", partners.EscortRequest{CaseID: "c2", BookingRef: b1.BookingRef})
	require.ErrorAs(t, err, &rej, "an escort on another case's booking")
	es, err := c.BookEscort(ctx, "c1/escort", partners.EscortRequest{CaseID: "c1", BookingRef: b1.BookingRef})
	require.NoError(t, err)
	_, err = c.CancelEscort(ctx, "c1/escort/cancel", es.EscortRef)
	require.NoError(t, err)
	cancelled, err := c.CancelBooking(ctx, "c1/cancel/1", b1.BookingRef)
	require.NoError(t, err)
	require.Equal(t, partners.Booking{BookingRef: b1.BookingRef, Status: contract.BookingCancelled}, cancelled)
	_, err = c.TicketBooking(ctx, "c1/ticket/1", b1.BookingRef)
	require.ErrorAs(t, err, &rej)
	require.Equal(t, http.StatusConflict, rej.Status)

	b2, err := c.HoldBooking(ctx, "c1/hold/2", holdReq("c1"))
	require.NoError(t, err)
	ticketed, err := c.TicketBooking(ctx, "c1/ticket/2", b2.BookingRef)
	require.NoError(t, err)
	require.Equal(t, contract.BookingTicketed, ticketed.Status)
	_, err = c.CancelBooking(ctx, "c1/cancel/2", b2.BookingRef)
	require.ErrorAs(t, err, &rej)
	require.Equal(t, http.StatusConflict, rej.Status)
	_, err = c.TicketBooking(ctx, "c1/ticket/x", "BK-nope")
	require.ErrorAs(t, err, &rej)
	require.Equal(t, http.StatusNotFound, rej.Status)

	n := sim.Counts()
	require.Equal(t, BookingCounts{Held: 2, Ticketed: 1, Cancelled: 1}, n.Bookings)
	require.Equal(t, map[string]BookingCounts{"c1": {Held: 2, Ticketed: 1, Cancelled: 1}}, n.BookingsByCase)
	require.Equal(t, 1, n.EscortsBooked)
	require.Equal(t, 1, n.EscortsCancelled)
}

// apiCall is one callback as the fake API received it.
type apiCall struct {
	path, auth, key string
	body            []byte
}

// fakeAPI plays Homeward's API: it answers the given statuses in turn (then 200)
// and passes every callback to the returned channel.
func fakeAPI(t *testing.T, statuses ...int) (string, <-chan apiCall) {
	t.Helper()
	calls := make(chan apiCall, 100)
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		calls <- apiCall{path: r.URL.Path, auth: r.Header.Get("Authorization"), key: r.Header.Get(partners.IdempotencyHeader), body: body}
		mu.Lock()
		status := http.StatusOK
		if len(statuses) > 0 {
			status, statuses = statuses[0], statuses[1:]
		}
		mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, calls
}

// receive waits for the next callback, failing the test after a deadline.
func receive(t *testing.T, calls <-chan apiCall) apiCall {
	t.Helper()
	select {
	case c := <-calls:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no callback within 5s")
		return apiCall{}
	}
}

func medical(t *testing.T, c apiCall) contract.MedicalResult {
	t.Helper()
	var m contract.MedicalResult
	require.NoError(t, json.Unmarshal(c.body, &m))
	return m
}

func TestMedicalCallback(t *testing.T) {
	api, calls := fakeAPI(t)
	sim, srv := start(t, Options{APIURL: api + "/", MedicalToken: "svc", ReceivingToken: "svc", CallbackDelay: 5 * time.Millisecond})
	c := partners.New(srv.URL, "k", time.Second)
	_, err := c.RequestAssessment(context.Background(), "c1/medical/1", partners.AssessmentRequest{CaseID: "c1", Reference: "HW-1", RequestNo: 1})
	require.NoError(t, err)

	got := receive(t, calls)
	require.Equal(t, "/api/v1/cases/c1/medical", got.path)
	require.Equal(t, "Bearer svc", got.auth)
	require.Equal(t, "sim-medical-c1-1", got.key)
	m := medical(t, got)
	require.Equal(t, contract.MedicalFit, m.Result)
	require.False(t, m.AssessedAt.After(time.Now()), "not in the future")
	require.NotNil(t, m.ValidUntil)
	require.Equal(t, m.AssessedAt.Add(14*24*time.Hour), *m.ValidUntil)
	require.Empty(t, m.Validate(time.Now()), "the API's own validation accepts it")
	require.Eventually(t, func() bool { return sim.Counts().CallbacksDelivered["medical"] == 1 }, 5*time.Second, time.Millisecond)
}

func TestScriptedMedicalResultsInOrder(t *testing.T) {
	api, calls := fakeAPI(t)
	_, srv := start(t, Options{APIURL: api, MedicalToken: "svc", ReceivingToken: "svc"})
	st, _ := send(t, srv, "PUT", "/_sim/cases/c1/medical", "", MedicalScript{Results: []string{"unfit_temporary", "fit_with_escort"}, ReassessAfterDays: 3})
	require.Equal(t, http.StatusNoContent, st)
	st, _ = send(t, srv, "PUT", "/_sim/cases/c1/medical", "", MedicalScript{Results: []string{"healthy"}})
	require.Equal(t, http.StatusBadRequest, st)

	c := partners.New(srv.URL, "k", time.Second)
	var results []contract.MedicalResult
	for n := 1; n <= 3; n++ {
		// One at a time, so that the callbacks' order is the requests' order.
		_, err := c.RequestAssessment(context.Background(), "c1/medical/"+strconv.Itoa(n), partners.AssessmentRequest{CaseID: "c1", Reference: "HW-1", RequestNo: n})
		require.NoError(t, err)
		got := receive(t, calls)
		require.Equal(t, "sim-medical-c1-"+strconv.Itoa(n), got.key)
		results = append(results, medical(t, got))
	}
	require.Equal(t, contract.MedicalUnfitTemporary, results[0].Result)
	require.Equal(t, 3, results[0].ReassessAfterDays)
	require.Nil(t, results[0].ValidUntil)
	require.Equal(t, contract.MedicalFitWithEscort, results[1].Result)
	require.NotNil(t, results[1].ValidUntil)
	require.Equal(t, contract.MedicalFit, results[2].Result, "fit once the script is used up")
	for _, r := range results {
		require.Empty(t, r.Validate(time.Now()))
	}
}

func TestArrivalCallbackAndHold(t *testing.T) {
	api, calls := fakeAPI(t)
	sim, srv := start(t, Options{APIURL: api, MedicalToken: "svc", ReceivingToken: "svc"})
	c := partners.New(srv.URL, "k", time.Second)
	ctx := context.Background()
	_, err := c.CheckEligibility(ctx, "c1/eligibility", partners.EligibilityRequest{CaseID: "c1", Programme: "REAG-GARP",
		CountryOfReturn: "GN", ReceivingOffice: "GN-CKY", Adults: 1})
	require.NoError(t, err)

	st, _ := send(t, srv, "PUT", "/_sim/cases/c1/arrival", "", map[string]bool{"hold": true})
	require.Equal(t, http.StatusNoContent, st)
	notice := partners.PreArrivalNotice{CaseID: "c1", Reference: "HW-1", BookingRef: "BK-1", Flight: "HW1234", DepartureAt: t0}
	_, err = c.SendPreArrivalNotice(ctx, "c1/notice/1", notice)
	require.NoError(t, err)
	sim.mu.Lock()
	require.Len(t, sim.cases["c1"].heldArrivals, 1, "withheld, not scheduled")
	sim.mu.Unlock()

	sim.HoldArrival("c1", false)
	got := receive(t, calls)
	require.Equal(t, "/api/v1/cases/c1/arrival", got.path)
	require.Equal(t, "sim-arrival-c1-1", got.key)
	var a contract.Arrival
	require.NoError(t, json.Unmarshal(got.body, &a))
	require.Equal(t, "GN-CKY reception desk", a.ReceivedBy)
	require.Empty(t, a.Validate(time.Now()))
}

func TestCallbackRetriedAfter503(t *testing.T) {
	api, calls := fakeAPI(t, http.StatusServiceUnavailable)
	sim, srv := start(t, Options{APIURL: api, MedicalToken: "svc", ReceivingToken: "svc", CallbackDelay: 4 * time.Millisecond})
	_, err := partners.New(srv.URL, "k", time.Second).RequestAssessment(context.Background(), "m",
		partners.AssessmentRequest{CaseID: "c1", Reference: "HW-1", RequestNo: 1})
	require.NoError(t, err)
	first, second := receive(t, calls), receive(t, calls)
	require.Equal(t, first.key, second.key, "a retry is the same callback")
	require.Equal(t, first.body, second.body)
	require.Eventually(t, func() bool { return sim.Counts().CallbacksDelivered["medical"] == 1 }, 5*time.Second, time.Millisecond)
}

func TestCallbackRefusalNotRetried(t *testing.T) {
	api, calls := fakeAPI(t, http.StatusConflict)
	sim, srv := start(t, Options{APIURL: api, MedicalToken: "svc", ReceivingToken: "svc"})
	_, err := partners.New(srv.URL, "k", time.Second).RequestAssessment(context.Background(), "m",
		partners.AssessmentRequest{CaseID: "c1", Reference: "HW-1", RequestNo: 1})
	require.NoError(t, err)
	receive(t, calls)
	// CallbacksFailed counts a callback given up, after its last attempt.
	require.Eventually(t, func() bool { return sim.Counts().CallbacksFailed["medical"] == 1 }, 5*time.Second, time.Millisecond)
	sim.Close()
	require.Empty(t, calls, "no second attempt")
}

func TestCloseStopsPendingCallbacks(t *testing.T) {
	api, calls := fakeAPI(t)
	sim, srv := start(t, Options{APIURL: api, MedicalToken: "svc", ReceivingToken: "svc", CallbackDelay: time.Hour})
	c := partners.New(srv.URL, "k", time.Second)
	_, err := c.RequestAssessment(context.Background(), "m", partners.AssessmentRequest{CaseID: "c1", Reference: "HW-1", RequestNo: 1})
	require.NoError(t, err)

	closed := make(chan struct{})
	go func() { sim.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	// After Close nothing is scheduled any more, and nothing was sent.
	_, err = c.RequestAssessment(context.Background(), "m2", partners.AssessmentRequest{CaseID: "c1", Reference: "HW-1", RequestNo: 2})
	require.NoError(t, err)
	sim.wg.Wait()
	require.Empty(t, calls)
	require.Empty(t, sim.Counts().CallbacksDelivered)
}

func TestServeStopsWithContext(t *testing.T) {
	sim := New(Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sim.ListenAndServe(ctx, "127.0.0.1:0") }()
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
}

func TestLogsNoBodies(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	_, srv := start(t, Options{Logger: slogTo(&buf, &mu)})
	send(t, srv, "POST", "/notifications/v1/messages", "k",
		partners.Message{CaseID: "c1", To: partners.ToManager, Kind: partners.NotifyBlocked, Text: "very-personal"})
	mu.Lock()
	defer mu.Unlock()
	require.Contains(t, buf.String(), "case_id=c1")
	require.Contains(t, buf.String(), `path="POST /notifications/v1/messages"`)
	require.NotContains(t, buf.String(), "very-personal")
	require.False(t, strings.Contains(buf.String(), "text"))
}

func TestSeededFaultDraws(t *testing.T) {
	outcomes := func(seed int64) []int {
		_, srv := start(t, Options{Seed: seed, FailureRate: 0.5})
		var out []int
		for i := range 20 {
			st, _ := send(t, srv, "POST", "/referrals/v1/referrals", strconv.Itoa(i),
				partners.ReferralRequest{CaseID: "c1", Visit: 1, Service: "counselling"})
			out = append(out, st)
		}
		return out
	}
	a := outcomes(9)
	require.Equal(t, a, outcomes(9))
	require.Contains(t, a, http.StatusCreated)
	require.Contains(t, a, http.StatusServiceUnavailable)
}

// The partners' answers carry their fees (the agreed rates unless scripted);
// a ticketed booking is refunded once, with the fee kept, or refused as
// scripted; a pre-arrival notice is withdrawn once.
func TestFeesRefundsAndNoticeWithdrawals(t *testing.T) {
	sim, srv := start(t, Options{})
	c := partners.New(srv.URL, "k", time.Second)
	ctx := context.Background()
	var rej *partners.Rejected

	acc, err := c.RequestAssessment(ctx, "c1/medical/1", partners.AssessmentRequest{CaseID: "c1", Reference: "HW-1", RequestNo: 1})
	require.NoError(t, err)
	require.Equal(t, &money.Money{Amount: "50.00", Currency: "EUR"}, acc.Fee)
	require.NoError(t, sim.ScriptFees("c1", map[string]money.Money{"travel": eur("112.00")}))
	require.Error(t, sim.ScriptFees("c1", map[string]money.Money{"hotel": eur("1.00")}))

	b, err := c.HoldBooking(ctx, "c1/hold/1", holdReq("c1"))
	require.NoError(t, err)
	es, err := c.BookEscort(ctx, "c1/escort", partners.EscortRequest{CaseID: "c1", BookingRef: b.BookingRef})
	require.NoError(t, err)
	require.Equal(t, "75.00", es.Fee.Amount, "not scripted: the agreed rate")
	_, err = c.RefundBooking(ctx, "c1/refund/0", b.BookingRef)
	require.ErrorAs(t, err, &rej, "a hold is cancelled, not refunded")
	require.Equal(t, http.StatusConflict, rej.Status)
	tk, err := c.TicketBooking(ctx, "c1/ticket/1", b.BookingRef)
	require.NoError(t, err)
	require.Equal(t, "112.00", tk.Fee.Amount, "scripted")

	for range 2 {
		r, err := c.RefundBooking(ctx, "c1/refund/1", b.BookingRef)
		require.NoError(t, err)
		require.Equal(t, partners.Refund{BookingRef: b.BookingRef, Status: "refunded",
			Refund: eur(money.Cents(2 * Fare).String()), FeeKept: eur("40.00")}, r, "two passengers' fares")
	}
	require.Equal(t, 1, sim.Counts().BookingsByCase["c1"].Refunded)
	cancelled, err := c.CancelEscort(ctx, "c1/escort/cancel", es.EscortRef)
	require.NoError(t, err)
	require.NotNil(t, cancelled.Refund, "a paid escort is refunded")
	_, err = c.TicketBooking(ctx, "c1/ticket/2", b.BookingRef)
	require.ErrorAs(t, err, &rej)

	b2, err := c.HoldBooking(ctx, "c2/hold/1", holdReq("c2"))
	require.NoError(t, err)
	_, err = c.TicketBooking(ctx, "c2/ticket/1", b2.BookingRef)
	require.NoError(t, err)
	require.NoError(t, sim.ScriptRefund("c2", RefundScript{Refuse: "the fare is not refundable"}))
	_, err = c.RefundBooking(ctx, "c2/refund/1", b2.BookingRef)
	require.ErrorAs(t, err, &rej)
	require.Equal(t, http.StatusConflict, rej.Status)

	n, err := c.SendPreArrivalNotice(ctx, "c2/notice/1", partners.PreArrivalNotice{CaseID: "c2", Reference: "HW-2",
		BookingRef: b2.BookingRef, Flight: "HW1", DepartureAt: t0})
	require.NoError(t, err)
	w := partners.NoticeWithdrawal{CaseID: "c2", Reference: "HW-2", BookingRef: b2.BookingRef, Reason: "withdrawn"}
	for _, key := range []string{"c2/nw/1", "c2/nw/2"} {
		got, err := c.WithdrawPreArrivalNotice(ctx, key, n.NoticeID, w)
		require.NoError(t, err)
		require.Equal(t, "withdrawn", got.Status)
	}
	require.Equal(t, 1, sim.Counts().NoticesWithdrawn["c2"], "withdrawn once, whatever the keys")
	_, err = c.WithdrawPreArrivalNotice(ctx, "c2/nw/3", "PAN-nope", w)
	require.ErrorAs(t, err, &rej)
	require.Equal(t, http.StatusNotFound, rej.Status)
}
