package partners

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/money"
)

var t0 = time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)

// recorded is what the fake partner saw of one request.
type recorded struct {
	method, path, auth, key, contentType string
	body                                 map[string]any
}

// fakePartner answers every request with status and body and records what it saw.
func fakePartner(t *testing.T, status int, body string) (*Client, *recorded) {
	t.Helper()
	seen := &recorded{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*seen = recorded{method: r.Method, path: r.URL.EscapedPath(), auth: r.Header.Get("Authorization"),
			key: r.Header.Get(IdempotencyHeader), contentType: r.Header.Get("Content-Type")}
		raw, _ := io.ReadAll(r.Body)
		if len(raw) > 0 {
			require.NoError(t, json.Unmarshal(raw, &seen.body))
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return New(srv.URL+"/", "k3y", 5*time.Second), seen
}

func eur(s string) money.Money { return money.Money{Amount: s, Currency: "EUR"} }

func TestCalls(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		call   func(*Client) (any, error)
		method string
		path   string
		sent   map[string]any // nil: no body
		status int
		answer string
		want   any
	}{
		{
			name: "UpsertCase",
			call: func(c *Client) (any, error) {
				return c.UpsertCase(ctx, "case-1/registry/3", contract.CaseRecord{CaseID: "c 1", Reference: "HW-1", Stage: contract.StageTravel,
					Status: contract.StatusActive, WaitingOn: contract.WaitingCaseworker, CountryOfReturn: "GN",
					SendingOffice: "DE-BER", ReceivingOffice: "GN-CKY", Programme: "REAG-GARP", UpdatedAt: t0})
			},
			method: "PUT", path: "/registry/v1/cases/c%201",
			sent: map[string]any{"case_id": "c 1", "reference": "HW-1", "stage": "Travel", "status": "active",
				"waiting_on": "caseworker", "country_of_return": "GN", "sending_office": "DE-BER",
				"receiving_office": "GN-CKY", "programme": "REAG-GARP", "updated_at": "2026-11-02T09:30:00Z"},
			status: 200, answer: `{"case_id":"c 1"}`, want: CaseRecordAck{CaseID: "c 1"},
		},
		{
			name: "RequestAssessment",
			call: func(c *Client) (any, error) {
				return c.RequestAssessment(ctx, "k", AssessmentRequest{CaseID: "c1", Reference: "HW-1", RequestNo: 2, EscortConsidered: true})
			},
			method: "POST", path: "/medical/v1/assessments",
			sent:   map[string]any{"case_id": "c1", "reference": "HW-1", "request_no": 2.0, "escort_considered": true},
			status: 202, answer: `{"assessment_id":"AS-1"}`, want: AssessmentAccepted{AssessmentID: "AS-1"},
		},
		{
			name: "OpenPostArrivalAssistance",
			call: func(c *Client) (any, error) {
				return c.OpenPostArrivalAssistance(ctx, "k", PostArrivalAssistanceRequest{CaseID: "c1", Reference: "HW-1", CountryOfReturn: "GN", ArrivedAt: t0})
			},
			method: "POST", path: "/medical/v1/post-arrival-assistance",
			sent:   map[string]any{"case_id": "c1", "reference": "HW-1", "country_of_return": "GN", "arrived_at": "2026-11-02T09:30:00Z"},
			status: 201, answer: `{"pama_id":"PAMA-1"}`, want: PostArrivalAssistance{PAMAID: "PAMA-1"},
		},
		{
			name: "HoldBooking",
			call: func(c *Client) (any, error) {
				return c.HoldBooking(ctx, "k", BookingRequest{CaseID: "c1", Reference: "HW-1", Attempt: 1, FromCountry: "DE",
					ToCountry: "GN", Passengers: 3, Escort: true, NotBefore: t0})
			},
			method: "POST", path: "/travel/v1/bookings",
			sent: map[string]any{"case_id": "c1", "reference": "HW-1", "attempt": 1.0, "from_country": "DE", "to_country": "GN",
				"passengers": 3.0, "escort": true, "not_before": "2026-11-02T09:30:00Z"},
			status: 201, answer: `{"booking_ref":"BK1","status":"held","flight":"HW1234","departure_at":"2026-11-05T09:30:00Z"}`,
			want: Booking{BookingRef: "BK1", Status: contract.BookingHeld, Flight: "HW1234", DepartureAt: t0.Add(72 * time.Hour)},
		},
		{
			name:   "TicketBooking",
			call:   func(c *Client) (any, error) { return c.TicketBooking(ctx, "k", "BK/1") },
			method: "POST", path: "/travel/v1/bookings/BK%2F1/ticket",
			status: 200, answer: `{"booking_ref":"BK/1","status":"ticketed","flight":"HW1234","departure_at":"2026-11-05T09:30:00Z"}`,
			want: Booking{BookingRef: "BK/1", Status: contract.BookingTicketed, Flight: "HW1234", DepartureAt: t0.Add(72 * time.Hour)},
		},
		{
			name:   "CancelBooking",
			call:   func(c *Client) (any, error) { return c.CancelBooking(ctx, "k", "BK1") },
			method: "POST", path: "/travel/v1/bookings/BK1/cancel",
			status: 200, answer: `{"booking_ref":"BK1","status":"cancelled"}`,
			want: Booking{BookingRef: "BK1", Status: contract.BookingCancelled},
		},
		{
			name: "BookEscort",
			call: func(c *Client) (any, error) {
				return c.BookEscort(ctx, "k", EscortRequest{CaseID: "c1", BookingRef: "BK1"})
			},
			method: "POST", path: "/travel/v1/escorts",
			sent:   map[string]any{"case_id": "c1", "booking_ref": "BK1"},
			status: 201, answer: `{"escort_ref":"ES1","status":"booked"}`, want: Escort{EscortRef: "ES1", Status: contract.EscortBooked},
		},
		{
			name:   "CancelEscort",
			call:   func(c *Client) (any, error) { return c.CancelEscort(ctx, "k", "ES1") },
			method: "POST", path: "/travel/v1/escorts/ES1/cancel",
			status: 200, answer: `{"escort_ref":"ES1","status":"cancelled"}`, want: Escort{EscortRef: "ES1", Status: contract.EscortCancelled},
		},
		{
			name: "CheckEligibility",
			call: func(c *Client) (any, error) {
				return c.CheckEligibility(ctx, "k", EligibilityRequest{CaseID: "c1", Reference: "HW-1", Programme: "REAG-GARP",
					CountryOfReturn: "GN", ReceivingOffice: "GN-CKY", Adults: 2, Minors: 1, Vulnerable: true})
			},
			method: "POST", path: "/receiving/v1/eligibility",
			sent: map[string]any{"case_id": "c1", "reference": "HW-1", "programme": "REAG-GARP", "country_of_return": "GN",
				"receiving_office": "GN-CKY", "adults": 2.0, "minors": 1.0, "vulnerable": true},
			status: 200, answer: `{"eligible":true,"assistance_level":"enhanced"}`, want: Eligibility{Eligible: true, AssistanceLevel: "enhanced"},
		},
		{
			name: "SendPreArrivalNotice",
			call: func(c *Client) (any, error) {
				return c.SendPreArrivalNotice(ctx, "k", PreArrivalNotice{CaseID: "c1", Reference: "HW-1", BookingRef: "BK1",
					Flight: "HW1234", DepartureAt: t0, HealthNeeds: true})
			},
			method: "POST", path: "/receiving/v1/pre-arrival-notices",
			sent: map[string]any{"case_id": "c1", "reference": "HW-1", "booking_ref": "BK1", "flight": "HW1234",
				"departure_at": "2026-11-02T09:30:00Z", "escort": false, "health_needs": true},
			status: 202, answer: `{"notice_id":"N1"}`, want: NoticeAccepted{NoticeID: "N1"},
		},
		{
			name: "RequestQuotes",
			call: func(c *Client) (any, error) {
				return c.RequestQuotes(ctx, "k", QuoteRequest{CaseID: "c1", ItemID: "i1", Description: "sewing machine", Budget: eur("3000.00"), QuotesWanted: 3})
			},
			method: "POST", path: "/suppliers/v1/quote-requests",
			sent: map[string]any{"case_id": "c1", "item_id": "i1", "description": "sewing machine",
				"budget": map[string]any{"amount": "3000.00", "currency": "EUR"}, "quotes_wanted": 3.0},
			status: 200, answer: `{"quotes":[{"supplier":"A","price":{"amount":"2500.00","currency":"EUR"},"compliant":true}]}`,
			want: Quotes{Quotes: []Quote{{Supplier: "A", Price: eur("2500.00"), Compliant: true}}},
		},
		{
			name: "PlacePurchaseOrder",
			call: func(c *Client) (any, error) {
				return c.PlacePurchaseOrder(ctx, "k", PurchaseOrderRequest{CaseID: "c1", ItemID: "i1", Supplier: "A", Price: eur("2500.00")})
			},
			method: "POST", path: "/suppliers/v1/purchase-orders",
			sent:   map[string]any{"case_id": "c1", "item_id": "i1", "supplier": "A", "price": map[string]any{"amount": "2500.00", "currency": "EUR"}},
			status: 201, answer: `{"purchase_order":"PO1"}`, want: PurchaseOrder{PurchaseOrder: "PO1"},
		},
		{
			name: "Pay",
			call: func(c *Client) (any, error) {
				return c.Pay(ctx, "k", PaymentRequest{CaseID: "c1", ItemID: "i1", PayeeKind: PayeeSupplier, Payee: "A", Amount: eur("2500.00"), Purpose: "PO1"})
			},
			method: "POST", path: "/finance/v1/payments",
			sent: map[string]any{"case_id": "c1", "item_id": "i1", "payee_kind": "supplier", "payee": "A",
				"amount": map[string]any{"amount": "2500.00", "currency": "EUR"}, "purpose": "PO1"},
			status: 201, answer: `{"payment_id":"PAY1","paid_at":"2026-11-02T09:30:00Z"}`, want: Payment{PaymentID: "PAY1", PaidAt: t0},
		},
		{
			name: "Refer",
			call: func(c *Client) (any, error) {
				return c.Refer(ctx, "k", ReferralRequest{CaseID: "c1", Visit: 2, Service: "counselling"})
			},
			method: "POST", path: "/referrals/v1/referrals",
			sent:   map[string]any{"case_id": "c1", "visit": 2.0, "service": "counselling"},
			status: 201, answer: `{"referral_id":"R1"}`, want: Referral{ReferralID: "R1"},
		},
		{
			name: "Notify",
			call: func(c *Client) (any, error) {
				return c.Notify(ctx, "k", Message{CaseID: "c1", Reference: "HW-1", To: ToSupervisor, Kind: NotifyOverdue, Text: "overdue"})
			},
			method: "POST", path: "/notifications/v1/messages",
			sent:   map[string]any{"case_id": "c1", "reference": "HW-1", "to": "supervisor", "kind": "overdue", "text": "overdue"},
			status: 202, answer: `{"message_id":"M1"}`, want: MessageAccepted{MessageID: "M1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, seen := fakePartner(t, tt.status, tt.answer)
			got, err := tt.call(c)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.method, seen.method)
			require.Equal(t, tt.path, seen.path)
			require.Equal(t, "Bearer k3y", seen.auth)
			require.NotEmpty(t, seen.key)
			require.Equal(t, tt.sent, seen.body)
			if tt.sent != nil {
				require.Equal(t, "application/json", seen.contentType)
			}
		})
	}
}

func TestIdempotencyKeyIsTheCallers(t *testing.T) {
	c, seen := fakePartner(t, 201, `{"payment_id":"P"}`)
	_, err := c.Pay(context.Background(), "case-42/item-7/pay", PaymentRequest{CaseID: "c"})
	require.NoError(t, err)
	require.Equal(t, "case-42/item-7/pay", seen.key)

	// No key, or an empty ID in the path: refused before anything is sent.
	*seen = recorded{}
	_, err = c.Pay(context.Background(), "", PaymentRequest{CaseID: "c"})
	var rej *Rejected
	require.ErrorAs(t, err, &rej)
	require.Zero(t, rej.Status)
	_, err = c.TicketBooking(context.Background(), "k", "")
	require.ErrorAs(t, err, &rej)
	require.Empty(t, seen.method, "nothing was sent")
}

func TestRejected(t *testing.T) {
	long := strings.Repeat("é", 400)
	for _, tt := range []struct {
		name, answer, want string
		status             int
	}{
		{"message", `{"message":"booking BK1 is cancelled"}`, "booking BK1 is cancelled", 409},
		{"problem detail", `{"type":"about:blank","title":"Unprocessable Entity","status":422,"detail":"passengers: must be at least 1"}`, "passengers: must be at least 1", 422},
		{"no JSON", `nope`, "Not Found", 404},
		{"truncated", `{"message":"` + long + `"}`, strings.Repeat("é", 150), 400},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := fakePartner(t, tt.status, tt.answer)
			_, err := c.TicketBooking(context.Background(), "k", "BK1")
			var rej *Rejected
			require.ErrorAs(t, err, &rej)
			require.Equal(t, Rejected{Service: ServiceTravel, Status: tt.status, Message: tt.want}, *rej)
			var un *Unavailable
			require.False(t, errors.As(err, &un))
		})
	}
}

func TestUnavailableOn5xxAnd429(t *testing.T) {
	for _, status := range []int{500, 502, 503, 429} {
		c, _ := fakePartner(t, status, `{"message":"try later"}`)
		_, err := c.Notify(context.Background(), "k", Message{CaseID: "c"})
		var un *Unavailable
		require.ErrorAs(t, err, &un, status)
		require.Equal(t, ServiceNotifications, un.Service)
		require.Equal(t, status, un.Status)
		require.Contains(t, err.Error(), "try later")
	}
}

func TestUnavailableOnGarbledSuccess(t *testing.T) {
	c, _ := fakePartner(t, 201, `{"payment_id":`)
	_, err := c.Pay(context.Background(), "k", PaymentRequest{CaseID: "c"})
	var un *Unavailable
	require.ErrorAs(t, err, &un)
	require.Equal(t, 201, un.Status)
}

func TestTimeoutIsUnavailable(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	// Cleanups run last-in first-out: release the handler, then close the server.
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })

	c := New(srv.URL, "k", 50*time.Millisecond)
	_, err := c.HoldBooking(context.Background(), "k", BookingRequest{CaseID: "c"})
	var un *Unavailable
	require.ErrorAs(t, err, &un)
	require.Zero(t, un.Status)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestConnectionRefusedIsUnavailable(t *testing.T) {
	// A port that was just free: nothing listens on it any more.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	c := New("http://"+addr, "k", time.Second)
	_, err = c.UpsertCase(context.Background(), "k", contract.CaseRecord{CaseID: "c"})
	var un *Unavailable
	require.ErrorAs(t, err, &un)
	require.Equal(t, ServiceRegistry, un.Service)
}

func TestErrorsCarryNoRequestBody(t *testing.T) {
	c, _ := fakePartner(t, 422, `{"message":"bad"}`)
	_, err := c.Notify(context.Background(), "k", Message{CaseID: "c", Text: "secret-personal-text"})
	require.Error(t, err)
	require.NotContains(t, err.Error(), "secret-personal-text")
}
