package workflows_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/homeward/homeward/activities"
	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/money"
	"github.com/homeward/homeward/partners"
)

// agreedRules are the test rules with the programme's agreed rates.
func agreedRules(in *contract.CaseInput) {
	in.Rules.Programme.AgreedFees = map[string]money.Cents{contract.FeeTravel: money.MustParse("100"),
		contract.FeeEscort: money.MustParse("75"), contract.FeeMedical: money.MustParse("50")}
}

func eur(amount string) money.Money { return money.Money{Amount: amount, Currency: "EUR"} }

// chargedFees: the partners' answers carry their fees (the escort's differs from
// the agreed rate).
func chargedFees(c *caseTest) *caseTest {
	c.p.fees = map[string]money.Money{"RequestMedicalAssessment": eur("50.00"), "TicketFlight": eur("100.00"),
		"BookEscort": eur("82.50")}
	return c
}

// toArrivalWithEscort: fit with an escort, the flight ticketed, then departed and arrived.
func (c *caseTest) toArrivalWithEscort() *caseTest {
	return c.at(time.Hour, counselling("confirmed")).
		at(2*time.Hour, screening("low")).
		at(3*time.Hour, medical("fit_with_escort", 30*day, 0)).
		at(4*time.Hour, departed).
		at(5*time.Hour, arrived).
		at(6*time.Hour, withdraw("withdrawn"))
}

// Each fee a partner's answer carries is recorded as charged: in the state with
// the programme's agreed rate, and on the timeline as a line the statistics
// count; a fee that differs from the agreed rate is kept as charged. Recording
// them adds no case-file write and no partner call: the case costs what it cost.
func TestFeesAreRecordedFromThePartnersAnswers(t *testing.T) {
	without := newCase(t, agreedRules).toArrivalWithEscort()
	without.run()

	c := chargedFees(newCase(t, agreedRules)).toArrivalWithEscort()
	st := c.run()

	require.True(t, st.FeesAsCharged)
	agreed := func(a string) *money.Money { m := eur(a); return &m }
	require.Equal(t, []contract.Fee{
		{Key: "medical/1", Partner: "medical", Service: "assessment", Reference: "AS-1", Amount: eur("50.00"),
			Agreed: agreed("50.00"), ChargedAt: st.Fees[0].ChargedAt},
		{Key: "travel/1/escort", Partner: "escort", Service: "escort", Reference: "ESC-BK-1", Amount: eur("82.50"),
			Agreed: agreed("75.00"), ChargedAt: st.Fees[1].ChargedAt},
		{Key: "travel/1/ticket", Partner: "travel", Service: "ticketing", Reference: "BK-1", Amount: eur("100.00"),
			Agreed: agreed("100.00"), ChargedAt: st.Fees[2].ChargedAt},
	}, st.Fees)
	for _, f := range st.Fees {
		require.False(t, f.ChargedAt.Before(start.Add(2*time.Hour)), "charged when the answer came: %s", f.ChargedAt)
	}

	// The timeline: a fee line per fee, with its amount, each written once.
	var lines []string
	c.p.mu.Lock()
	for _, w := range c.p.writes {
		for _, e := range w.Events {
			if e.Type == "fee" {
				require.NotNil(t, e.Amount)
				lines = append(lines, e.Amount.Amount+" "+e.Summary)
			}
		}
	}
	c.p.mu.Unlock()
	require.Equal(t, []string{
		"50.00 Fee charged by the medical provider for assessment: 50.00 EUR (agreed 50.00 EUR)",
		"82.50 Fee charged by the travel agency (escort) for escort: 82.50 EUR (agreed 75.00 EUR)",
		"100.00 Fee charged by the travel agency for ticketing: 100.00 EUR (agreed 100.00 EUR)",
	}, lines)
	c.p.requireWrittenOncePerTask(t, st)

	// No command more: a fee line never makes a write of its own (it goes with a
	// write the case makes anyway: in a real history, one per workflow task that
	// records something), and the partners get the same calls as without fees.
	// workflows/cost_test.go counts the recorded histories' commands.
	c.p.mu.Lock()
	for _, w := range c.p.writes {
		require.True(t, slices.ContainsFunc(w.Events, func(e contract.Event) bool { return e.Type != "fee" }),
			"a write with fee lines only")
	}
	c.p.mu.Unlock()
	require.Equal(t, without.p.calls, c.p.calls)
	require.Equal(t, st.Seq, without.state().Seq+3, "three lines more on the timeline")
}

// A case started before version 7 records no fee: its statistics count the
// programme's flat charge (store), so nothing is recorded twice. Here: answers
// without a fee record none either.
func TestAnswersWithoutAFeeRecordNone(t *testing.T) {
	c := newCase(t, agreedRules).toArrivalWithEscort()
	st := c.run()
	require.True(t, st.FeesAsCharged)
	require.Empty(t, st.Fees)
	require.NotContains(t, c.p.eventTypes(), "fee")
}

// withdrawnAfterTicketing: fit, the flight ticketed and the notice sent, then a
// withdrawal before the departure.
func withdrawnAfterTicketing(c *caseTest) *caseTest {
	c.p.refund = partners.Refund{Refund: eur("640.00"), FeeKept: eur("40.00")}
	return c.at(time.Hour, counselling("confirmed")).at(2*time.Hour, screening("low")).
		at(3*time.Hour, medical("fit", 30*day, 0)).
		at(4*time.Hour, func(c *caseTest) {
			require.Equal(c.t, contract.BookingTicketed, c.state().Travel.BookingStatus)
			require.True(c.t, c.state().Travel.PreArrivalSent)
		}).
		at(5*time.Hour, withdraw("withdrawn"))
}

// A withdrawal after the ticketing asks the agency to refund the ticket, records
// the refund and the fee kept, and tells the receiving office that its
// pre-arrival notice no longer stands: once each, even when the agency answers
// 503 first.
func TestAWithdrawalAfterTicketingRefundsTheTicketAndWithdrawsTheNotice(t *testing.T) {
	c := chargedFees(withdrawnAfterTicketing(newCase(t, agreedRules)))
	unavailable := temporal.NewApplicationError("travel: 503", activities.ErrPartnerUnavailable)
	c.p.fail["RefundFlight"] = []error{unavailable, unavailable}
	st := c.run()

	require.Equal(t, contract.ClosedWithdrawn, st.ClosureReason)
	tr := st.Travel
	require.Equal(t, contract.BookingRefunded, tr.BookingStatus)
	require.NotNil(t, tr.Refund)
	require.Equal(t, eur("640.00"), tr.Refund.Refund)
	require.Equal(t, eur("40.00"), tr.Refund.FeeKept)
	require.True(t, tr.NoticeWithdrawn)
	require.Equal(t, []string{"travel/1/refund=1"}, c.p.keysWithPrefix("refund"), "refunded once")
	require.Equal(t, []string{"travel/1/notice-withdrawal=1"}, c.p.keysWithPrefix("notice-withdrawal"), "told once")
	require.Equal(t, 3, c.p.count("RefundFlight"), "two 503s, then the refund")
	require.Equal(t, []partners.NoticeWithdrawal{{CaseID: c.in.CaseID, Reference: c.in.Reference, BookingRef: "BK-1",
		Reason: "withdrawn"}}, c.p.withdrawnNotices)
	require.Zero(t, c.p.count("CancelFlight"), "a ticket is refunded, not cancelled as a hold")

	// The fee kept is a fee charged (no agreed rate: nothing to reconcile).
	last := st.Fees[len(st.Fees)-1]
	require.Equal(t, contract.Fee{Key: "travel/1/refund", Partner: "travel", Service: "cancellation", Reference: "BK-1",
		Amount: eur("40.00"), ChargedAt: last.ChargedAt}, last)
	types := c.p.eventTypes()
	for _, typ := range []string{"ticket_refunded", "notice_withdrawn"} {
		require.Equal(t, 1, count(types, typ), typ)
	}
	require.Less(t, slices.Index(types, "notice_withdrawn"), slices.Index(types, "closed"), "before the closure")
	c.p.requireWrittenOncePerTask(t, st)
}

// The agency refuses the refund: the refusal is recorded and a manager told, the
// ticket stays as it is, and the receiving office is still told.
func TestARefundTheAgencyRefusesIsRecordedAndAManagerTold(t *testing.T) {
	c := withdrawnAfterTicketing(newCase(t, agreedRules))
	c.p.fail["RefundFlight"] = []error{temporal.NewNonRetryableApplicationError("travel: 409 the fare is not refundable",
		activities.ErrPartnerRejected, nil)}
	st := c.run()

	require.Equal(t, contract.ClosedWithdrawn, st.ClosureReason)
	require.Empty(t, st.Blocked, "a refusal does not block the closure")
	require.Equal(t, contract.BookingTicketed, st.Travel.BookingStatus)
	require.Nil(t, st.Travel.Refund)
	require.Equal(t, 1, c.p.count("RefundFlight"), "a refusal is not retried")
	require.Contains(t, c.p.eventTypes(), "undo_refused")
	require.NotContains(t, c.p.eventTypes(), "ticket_refunded")
	require.Equal(t, []string{"manager"}, c.p.notified("undo_refused"))
	require.True(t, st.Travel.NoticeWithdrawn, "the receiving office is told all the same")
}

// A withdrawal while the flight is only held releases the hold, as before:
// nothing to refund, no notice to withdraw.
func TestAWithdrawalBeforeTicketingRefundsNothing(t *testing.T) {
	c := newCase(t, agreedRules)
	withdrawnWithAFlightHeld(c)
	st := c.run()
	require.Equal(t, contract.BookingCancelled, st.Travel.BookingStatus)
	require.Zero(t, c.p.count("RefundFlight"))
	require.Zero(t, c.p.count("WithdrawPreArrivalNotice"))
}

func count(ss []string, s string) int {
	n := 0
	for _, x := range ss {
		if x == s {
			n++
		}
	}
	return n
}
