package workflows_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/money"
	"github.com/homeward/homeward/partners"
)

// events are the case file's timeline events of a type, in order.
func (p *fakePartners) events(typ string) []contract.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []contract.Event
	for _, w := range p.writes {
		for _, e := range w.Events {
			if e.Type == typ {
				out = append(out, e)
			}
		}
	}
	return out
}

// An operator who cancels the case's workflow in Temporal (UI or CLI) is not the
// migrant withdrawing: the case closes as operator_cancelled, in the name Temporal
// has for the operator, and what was booked is released as on a withdrawal.
func TestAnOperatorsCancellationIsRecordedAsSuchWithWhoItWas(t *testing.T) {
	c := newCase(t).
		at(time.Hour, counselling("confirmed")).at(2*time.Hour, screening("low")).
		at(3*time.Hour, medical("fit_with_escort", 30*day, 0)).
		at(4*time.Hour, func(c *caseTest) { c.env.CancelWorkflow() })
	c.p.canceller = "temporal-cli:ops-jane@ops-1"
	st := c.run()

	require.Equal(t, contract.StatusClosed, st.Status)
	require.Equal(t, contract.ClosedByOperator, st.ClosureReason, "not a withdrawal")
	closed := c.p.events("closed")
	require.Len(t, closed, 1)
	require.Equal(t, contract.Actor{User: "temporal-client:temporal-cli:ops-jane@ops-1", Role: contract.RoleOperator}, closed[0].Actor,
		"the name the client gave, marked as a Temporal client's: it cannot pass for a Homeward account")
	require.Contains(t, closed[0].Summary, "not a withdrawal")
	require.Equal(t, 1, c.p.count("CancelEscort"), "compensated as a withdrawal is")

	// The history cannot be read: the case still closes, by an unknown operator.
	c = newCase(t).
		at(time.Hour, counselling("confirmed")).
		at(2*time.Hour, func(c *caseTest) { c.env.CancelWorkflow() })
	c.p.canceller = ""
	st = c.run()
	require.Equal(t, contract.ClosedByOperator, st.ClosureReason)
	require.Equal(t, "unknown", c.p.events("closed")[0].Actor.User)
}

// A medical result is taken only while an assessment request is open, for that
// request, with dates that can belong to it, from the medical provider's
// credential or a caseworker; the timeline credits whoever sent it.
func TestAMedicalResultIsTiedToTheOpenRequest(t *testing.T) {
	c := newCase(t).
		at(time.Hour, func(c *caseTest) { c.reportMedical("before-any-request", clinic, 1, "fit", 30*day, 0) }).
		at(time.Hour+time.Minute, counselling("confirmed")).
		at(2*time.Hour, screening("low")).
		at(3*time.Hour, func(c *caseTest) { c.reportMedical("wrong-request", clinic, 2, "fit", 30*day, 0) }).
		at(3*time.Hour+time.Minute, func(c *caseTest) { c.reportMedical("from-the-receiving-office", reception, 1, "unfit", 0, 0) }).
		at(3*time.Hour+2*time.Minute, func(c *caseTest) { c.reportMedical("by-an-approver", apDE, 1, "unfit", 0, 0) }).
		at(3*time.Hour+3*time.Minute, func(c *caseTest) {
			m := contract.MedicalResult{RequestNo: 1, Result: "fit", AssessedAt: c.now().Add(-10 * day)}
			v := c.now().Add(10 * day)
			m.ValidUntil = &v
			c.act("assessed-long-ago", contract.UpdateMedicalResult, contract.Action[contract.MedicalResult]{Actor: clinic, Body: m})
		}).
		at(3*time.Hour+4*time.Minute, func(c *caseTest) { c.reportMedical("valid-for-years", clinic, 1, "fit", 2*365*day, 0) }).
		// An API from before version 4 sends a signal: held to the same rules, dropped.
		at(3*time.Hour+5*time.Minute, func(c *caseTest) {
			c.signal(contract.SignalMedicalResult, contract.Action[contract.MedicalResult]{Actor: clinic,
				Body: contract.MedicalResult{RequestNo: 7, Result: "unfit", AssessedAt: c.now()}})
		}).
		// The provider's answer came on paper: a caseworker enters it.
		at(4*time.Hour, func(c *caseTest) { c.reportMedical("by-hand", cwDE, 1, "unfit_temporary", 0, 5) }).
		at(4*time.Hour+time.Minute, func(c *caseTest) { c.reportMedical("again-while-waiting-to-reassess", clinic, 1, "fit", 30*day, 0) }).
		at(4*time.Hour+5*day+time.Hour, func(c *caseTest) { c.reportMedical("the-first-request-again", clinic, 1, "fit", 30*day, 0) }).
		at(4*time.Hour+5*day+2*time.Hour, medical("unfit", 0, 0))
	st := c.run()

	require.Equal(t, contract.RefusedWrongStage, c.refusal("before-any-request"), "no assessment is requested in counselling")
	require.Equal(t, contract.RefusedWrongStage, c.refusal("wrong-request"))
	require.Contains(t, c.refusals["wrong-request"].Error(), "request 1")
	require.Equal(t, contract.RefusedForbidden, c.refusal("from-the-receiving-office"))
	require.Equal(t, contract.RefusedForbidden, c.refusal("by-an-approver"))
	require.Equal(t, contract.RefusedInvalid, c.refusal("assessed-long-ago"))
	require.Equal(t, contract.RefusedInvalid, c.refusal("valid-for-years"))
	require.Empty(t, c.refusal("by-hand"))
	require.Equal(t, contract.RefusedDuplicate, c.refusal("again-while-waiting-to-reassess"))
	require.Equal(t, contract.RefusedWrongStage, c.refusal("the-first-request-again"), "request 2 is open")

	require.Equal(t, contract.ClosedNotFit, st.ClosureReason, "the second request's result, from the provider")
	require.Equal(t, 2, st.Medical.Requests)
	results := c.p.events("medical")
	require.Len(t, results, 2, "the refused results left nothing")
	require.Equal(t, cwDE, results[0].Actor, "entered by hand: the caseworker, not the provider")
	require.Equal(t, "Medical result: unfit_temporary", results[0].Summary)
	require.Equal(t, clinic, results[1].Actor)
}

// An arrival is taken only for this case's ticketed booking (before the
// departure is recorded too), from the receiving office's credential.
func TestAnArrivalIsTiedToTheTicketedBooking(t *testing.T) {
	c := newCase(t).
		at(time.Hour, counselling("confirmed")).at(2*time.Hour, screening("low")).
		at(3*time.Hour, medical("fit", 30*day, 0)).
		at(3*time.Hour+time.Minute, func(c *caseTest) { c.reportArrival("another-booking", reception, "BK-999") }).
		at(3*time.Hour+2*time.Minute, func(c *caseTest) { c.reportArrival("from-the-medical-provider", clinic, "BK-1") }).
		at(3*time.Hour+3*time.Minute, noShow).
		// Rebooked (BK-2): the first booking's arrival is not this flight's.
		at(3*time.Hour+4*time.Minute, func(c *caseTest) { c.reportArrival("the-forfeited-booking", reception, "BK-1") }).
		at(3*time.Hour+5*time.Minute, func(c *caseTest) { c.reportArrival("before-the-departure", reception, "BK-2") }).
		at(3*time.Hour+6*time.Minute, func(c *caseTest) { c.reportArrival("twice", reception, "BK-2") }).
		at(4*time.Hour, departed).
		at(5*time.Hour, withdraw("withdrawn"))
	st := c.run()

	require.Equal(t, contract.RefusedWrongStage, c.refusal("another-booking"))
	require.Equal(t, contract.RefusedForbidden, c.refusal("from-the-medical-provider"))
	require.Equal(t, contract.RefusedWrongStage, c.refusal("the-forfeited-booking"))
	require.Empty(t, c.refusal("before-the-departure"))
	require.Equal(t, contract.RefusedDuplicate, c.refusal("twice"))
	require.NotNil(t, st.Arrival)
	arrived := c.p.events("arrived")
	require.Len(t, arrived, 1)
	require.Equal(t, reception, arrived[0].Actor)
}

// quotesAt makes every supplier quote price in currency for the first rounds,
// then the default quotes.
func quotesAt(c *caseTest, price, currency string, rounds int) {
	n := 0
	def := c.p.quotes
	c.p.quotes = func(q partners.QuoteRequest) []contract.Quote {
		if n++; n > rounds {
			return def(q)
		}
		return []contract.Quote{{Supplier: "portal", Price: money.Money{Amount: price, Currency: currency}, Compliant: true}}
	}
}

func priceDecision(label string, by contract.Actor, itemID string, decision contract.Decision) func(*caseTest) {
	return func(c *caseTest) {
		c.act(label, contract.UpdatePriceDecision, contract.Action[contract.PriceDecision]{Actor: by,
			Body: contract.PriceDecision{ItemID: itemID, Decision: decision, Comment: "checked the quote"}})
	}
}

// A supplier answering 25,000 for a 1,999 item is not paid: the price goes back to
// an approver, who cannot approve it beyond the household's cap, and rejects it.
func TestAQuoteAboveTheApprovedCostIsNotPaidWithoutAnApproval(t *testing.T) {
	var waiting contract.CaseState
	c := newCase(t).toArrival().
		at(6*time.Hour, plan("plan", cwGN, item("in_kind", "1999.00"))).
		at(7*time.Hour, decide("approve", apGN, contract.DecisionApprove)).
		at(8*time.Hour, func(c *caseTest) { waiting = c.state() }).
		at(8*time.Hour+time.Minute, deliver("delivery", "p1-1")).
		at(8*time.Hour+2*time.Minute, priceDecision("by-procurement", proc, "p1-1", contract.DecisionApprove)).
		at(8*time.Hour+3*time.Minute, priceDecision("by-the-plan's-approver", apGN, "p1-1", contract.DecisionApprove)).
		at(9*time.Hour, priceDecision("approve-25000", apDE, "p1-1", contract.DecisionApprove)).
		at(10*time.Hour, priceDecision("reject", apDE, "p1-1", contract.DecisionReject)).
		at(11*time.Hour, priceDecision("again", apGN, "p1-1", contract.DecisionApprove))
	quotesAt(c, "25000.00", "EUR", 1)
	st := c.run()

	p := waiting.Procurement[0]
	require.Equal(t, contract.ItemPriceApproval, p.Status)
	require.Equal(t, contract.WaitingApprover, waiting.WaitingOn)
	require.True(t, waiting.OpenTo(contract.UpdatePriceDecision, "p1-1", contract.RoleApprover, "DE-BER"))
	require.False(t, waiting.OpenTo(contract.UpdatePriceDecision, "p1-1", contract.RoleApprover, "GN-CKY"),
		"the sending office decides a price above the approved cost")
	require.Equal(t, contract.RefusedWrongStage, c.refusal("delivery"), "nothing is ordered yet")
	require.Equal(t, contract.RefusedForbidden, c.refusal("by-procurement"))
	require.Equal(t, contract.RefusedForbidden, c.refusal("by-the-plan's-approver"), "not who approved the plan (nor their office)")
	require.Equal(t, contract.RefusedInvalid, c.refusal("approve-25000"))
	require.Contains(t, c.refusals["approve-25000"].Error(), "cap")
	require.Empty(t, c.refusal("reject"))
	require.Equal(t, contract.RefusedWrongStage, c.refusal("again"))

	require.Equal(t, 0, c.p.count("IssuePurchaseOrder"))
	require.Equal(t, 0, c.p.count("Pay"))
	require.Equal(t, contract.ItemCancelled, st.Procurement[0].Status)
	require.Equal(t, contract.DecisionReject, st.Procurement[0].PriceDecision.Decision)
	require.Equal(t, apDE.User, st.Procurement[0].PriceDecision.By)
	require.Len(t, c.p.events("quote_above_cost"), 1)
	require.Equal(t, []string{"supervisor"}, c.p.notified("price_approval"))
	require.Equal(t, contract.ClosedCompleted, st.ClosureReason, "the case goes on without the item")
}

// Within the cap an approver may accept the higher price: the order and the one
// payment are at that price, and only after the approval.
func TestAnApprovedHigherPriceIsOrderedAndPaidOnce(t *testing.T) {
	c := newCase(t).toArrival().
		at(6*time.Hour, plan("plan", cwGN, item("in_kind", "1999.00"))).
		at(7*time.Hour, decide("approve", apGN, contract.DecisionApprove)).
		at(8*time.Hour, func(c *caseTest) {
			require.Equal(c.t, 0, c.p.count("IssuePurchaseOrder"), "no order before the approval")
		}).
		at(9*time.Hour, priceDecision("approve-price", apDE, "p1-1", contract.DecisionApprove)).
		at(10*time.Hour, deliver("delivery", "p1-1"))
	quotesAt(c, "2100.00", "EUR", 1)
	st := c.run()

	require.Empty(t, c.refusal("approve-price"))
	require.Empty(t, c.refusal("delivery"))
	require.Equal(t, contract.ItemPaid, st.Procurement[0].Status)
	require.Equal(t, money.Money{Amount: "2100.00", Currency: "EUR"}, st.Procurement[0].Payment.Amount)
	require.Equal(t, []string{"pay/p1-1=1"}, c.p.keysWithPrefix("/pay/"))
}

// An approver cannot lift an item over the quotes threshold on one quote: one
// approval of a plan just under the thresholds, one supplier quoting above them,
// and one approval of the price would have paid it without the three quotes (and
// without the sending office) a purchase at that price needs.
func TestAHigherPriceNeedsTheQuotesOfThatPrice(t *testing.T) {
	c := newCase(t).toArrival().
		at(6*time.Hour, plan("plan", cwGN, item("in_kind", "1999.00"))).
		at(7*time.Hour, decide("approve", apGN, contract.DecisionApprove)).
		at(9*time.Hour, priceDecision("approve-2500", apDE, "p1-1", contract.DecisionApprove)).
		at(10*time.Hour, priceDecision("reject", apDE, "p1-1", contract.DecisionReject))
	quotesAt(c, "2500.00", "EUR", 1)
	st := c.run()

	require.Equal(t, contract.RefusedInvalid, c.refusal("approve-2500"))
	require.Contains(t, c.refusals["approve-2500"].Error(), "3 compliant quotes")
	require.Empty(t, c.refusal("reject"))
	require.Equal(t, 0, c.p.count("Pay"))
	require.Equal(t, contract.ItemCancelled, st.Procurement[0].Status)
}

// A quote in another currency than the programme's is refused whatever its amount:
// the suppliers are asked again.
func TestAQuoteInAnotherCurrencyIsRefused(t *testing.T) {
	c := newCase(t).toArrival().
		at(6*time.Hour, plan("plan", cwGN, item("in_kind", "900.00"))).
		at(7*time.Hour, decide("approve", apGN, contract.DecisionApprove)).
		at(7*time.Hour+25*time.Hour, deliver("delivery", "p1-1"))
	quotesAt(c, "10.00", "USD", 1)
	st := c.run()

	require.Len(t, c.p.events("quotes_refused"), 1)
	require.Equal(t, 2, c.p.count("RequestQuotes"), "asked again")
	require.Equal(t, "EUR", st.Procurement[0].Payment.Amount.Currency)
	require.Equal(t, "supplier-1", st.Procurement[0].ChosenSupplier)
}
