package simulator_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/money"
	"github.com/homeward/homeward/partners"
	"github.com/homeward/homeward/simulator"
)

// TestClientAgainstSimulator runs every partner call of the Client against the
// simulator, each twice with the same key, and checks each had one effect.
func TestClientAgainstSimulator(t *testing.T) {
	sim := simulator.New(simulator.Options{Seed: 42, APIKey: "partner-key"})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(func() { sim.Close(); srv.Close() })
	c := partners.New(srv.URL, "partner-key", 2*time.Second)
	ctx := context.Background()
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	eur := func(s string) money.Money { return money.Money{Amount: s, Currency: "EUR"} }

	// twice makes a call twice with the same key and requires the same answer.
	twice := func(name string, call func() (any, error)) any {
		t.Helper()
		first, err := call()
		require.NoError(t, err, name)
		again, err := call()
		require.NoError(t, err, name)
		require.Equal(t, first, again, name+": a repeated key answers the first answer")
		return first
	}

	twice("registry", func() (any, error) {
		return c.UpsertCase(ctx, "c1/registry/1", contract.CaseRecord{CaseID: "c1", Reference: "HW-1", Stage: contract.StageIntake,
			Status: contract.StatusActive, WaitingOn: contract.WaitingCaseworker, CountryOfReturn: "GN", SendingOffice: "DE-BER",
			ReceivingOffice: "GN-CKY", Programme: "REAG-GARP", UpdatedAt: now})
	})
	elig := twice("eligibility", func() (any, error) {
		return c.CheckEligibility(ctx, "c1/eligibility", partners.EligibilityRequest{CaseID: "c1", Reference: "HW-1",
			Programme: "REAG-GARP", CountryOfReturn: "GN", ReceivingOffice: "GN-CKY", Adults: 2, Minors: 1})
	}).(partners.Eligibility)
	require.Equal(t, "standard", elig.AssistanceLevel)
	twice("assessment", func() (any, error) {
		return c.RequestAssessment(ctx, "c1/medical/1", partners.AssessmentRequest{CaseID: "c1", Reference: "HW-1", RequestNo: 1})
	})
	bk := twice("hold", func() (any, error) {
		return c.HoldBooking(ctx, "c1/travel/1/hold", partners.BookingRequest{CaseID: "c1", Reference: "HW-1", Attempt: 1,
			FromCountry: "DE", ToCountry: "GN", Passengers: 3, Escort: true, NotBefore: now})
	}).(partners.Booking)
	es := twice("escort", func() (any, error) {
		return c.BookEscort(ctx, "c1/travel/1/escort", partners.EscortRequest{CaseID: "c1", BookingRef: bk.BookingRef})
	}).(partners.Escort)
	twice("ticket", func() (any, error) { return c.TicketBooking(ctx, "c1/travel/1/ticket", bk.BookingRef) })
	twice("notice", func() (any, error) {
		return c.SendPreArrivalNotice(ctx, "c1/notice/1", partners.PreArrivalNotice{CaseID: "c1", Reference: "HW-1",
			BookingRef: bk.BookingRef, Flight: bk.Flight, DepartureAt: bk.DepartureAt, Escort: true, HealthNeeds: true})
	})
	twice("pama", func() (any, error) {
		return c.OpenPostArrivalAssistance(ctx, "c1/pama", partners.PostArrivalAssistanceRequest{CaseID: "c1", Reference: "HW-1",
			CountryOfReturn: "GN", ArrivedAt: now})
	})
	quotes := twice("quotes", func() (any, error) {
		return c.RequestQuotes(ctx, "c1/i1/quotes", partners.QuoteRequest{CaseID: "c1", ItemID: "i1", Description: "sewing machine",
			Budget: eur("2600.00"), QuotesWanted: 3})
	}).(partners.Quotes)
	require.Len(t, quotes.Quotes, 3)
	best := quotes.Quotes[0]
	for _, q := range quotes.Quotes {
		if a, b := mustCents(t, q.Price), mustCents(t, best.Price); a < b {
			best = q
		}
	}
	twice("order", func() (any, error) {
		return c.PlacePurchaseOrder(ctx, "c1/i1/order", partners.PurchaseOrderRequest{CaseID: "c1", ItemID: "i1", Supplier: best.Supplier, Price: best.Price})
	})
	twice("pay", func() (any, error) {
		return c.Pay(ctx, "c1/i1/pay", partners.PaymentRequest{CaseID: "c1", ItemID: "i1", PayeeKind: partners.PayeeSupplier,
			Payee: best.Supplier, Amount: best.Price, Purpose: "purchase order"})
	})
	twice("refer", func() (any, error) {
		return c.Refer(ctx, "c1/visit/1/referral/0", partners.ReferralRequest{CaseID: "c1", Visit: 1, Service: "psychosocial counselling"})
	})
	twice("notify", func() (any, error) {
		return c.Notify(ctx, "c1/overdue/Travel", partners.Message{CaseID: "c1", Reference: "HW-1", To: partners.ToSupervisor,
			Kind: partners.NotifyOverdue, Text: "Case HW-1 is overdue in Travel"})
	})
	twice("cancel escort", func() (any, error) { return c.CancelEscort(ctx, "c1/travel/1/escort/cancel", es.EscortRef) })

	// A second booking, cancelled (a withdrawal before ticketing).
	bk2 := twice("hold 2", func() (any, error) {
		return c.HoldBooking(ctx, "c1/travel/2/hold", partners.BookingRequest{CaseID: "c1", Reference: "HW-1", Attempt: 2,
			FromCountry: "DE", ToCountry: "GN", Passengers: 3, NotBefore: now.Add(7 * 24 * time.Hour)})
	}).(partners.Booking)
	twice("cancel", func() (any, error) { return c.CancelBooking(ctx, "c1/travel/2/cancel", bk2.BookingRef) })

	n := sim.Counts()
	require.Equal(t, 1, n.RegistryUpserts)
	require.Equal(t, "Intake", n.RegistryStages["c1"])
	require.Equal(t, 1, n.EligibilityChecks)
	require.Equal(t, 1, n.AssessmentsRequested)
	require.Equal(t, 1, n.PostArrivalAssistance)
	require.Equal(t, simulator.BookingCounts{Held: 2, Ticketed: 1, Cancelled: 1}, n.Bookings)
	require.Equal(t, 1, n.EscortsBooked)
	require.Equal(t, 1, n.EscortsCancelled)
	require.Equal(t, 1, n.PreArrivalNotices)
	require.Equal(t, 1, n.QuoteRequests)
	require.Equal(t, 1, n.PurchaseOrders)
	require.Equal(t, 1, n.Payments)
	require.Equal(t, map[string]int{"c1/i1": 1}, n.PaymentsByItem)
	require.Equal(t, 1, n.Referrals)
	require.Equal(t, map[string]int{"overdue": 1}, n.Notifications)
	total := 0
	for _, r := range n.Replays {
		total += r
	}
	require.Equal(t, 16, total, "every second call was a replay")
}

func mustCents(t *testing.T, m money.Money) money.Cents {
	t.Helper()
	c, err := m.Cents()
	require.NoError(t, err)
	return c
}
