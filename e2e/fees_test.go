package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/money"
	"github.com/homeward/homeward/simulator"
)

// The partners' fees as they were charged, through HTTP on the real stack: a
// case whose travel agency charges above the agreed rate is in the month's
// reconciliation with both figures and the difference; a case charged the
// agreed rates is not. The case shows its fees; the CSV has the row.
func TestTheFeeReconciliationListsFeesChargedOtherwise(t *testing.T) {
	h := start(t, testConfig(t, "sqlite"))
	over, agreed := h.register(), h.register()
	require.NoError(t, h.s.Simulator.ScriptFees(over, map[string]money.Money{"travel": {Amount: "112.50", Currency: "EUR"}}))
	for _, id := range []string{over, agreed} {
		h.counsel(id, "confirmed")
		h.screen(id, "low")
	}
	c := h.ticketed(over)
	h.ticketed(agreed)
	require.Equal(t, true, c["fees_as_charged"])
	fees := list(c["fees"])
	require.Len(t, fees, 2, "the assessment's and the ticketing's: %v", fees)
	require.Equal(t, "medical", fees[0]["partner"])
	require.Equal(t, map[string]any{"amount": "50.00", "currency": "EUR"}, fees[0]["amount"])
	require.Equal(t, map[string]any{"amount": "112.50", "currency": "EUR"}, fees[1]["amount"])
	require.Equal(t, map[string]any{"amount": "100.00", "currency": "EUR"}, fees[1]["agreed"])

	month := time.Now().UTC().Format("2006-01")
	path := "/api/v1/reports/fee-reconciliation?month=" + month
	r := h.call("GET", path, "dev-manager", nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	diffs := list(r.JSON(t)["differences"])
	require.Len(t, diffs, 1, "only the fee charged otherwise: %v", diffs)
	d := diffs[0]
	require.Equal(t, over, d["case_id"])
	require.Equal(t, c["reference"], d["reference"])
	require.Equal(t, []any{"travel", "ticketing", "REAG-GARP"}, []any{d["partner"], d["service"], d["programme"]})
	require.Equal(t, map[string]any{"amount": "112.50", "currency": "EUR"}, d["charged"])
	require.Equal(t, map[string]any{"amount": "100.00", "currency": "EUR"}, d["agreed"])
	require.Equal(t, map[string]any{"amount": "12.50", "currency": "EUR"}, d["difference"])

	csv := h.call("GET", path, "dev-manager", nil, "Accept", "text/csv")
	require.Equal(t, http.StatusOK, csv.Status)
	lines := strings.Split(strings.TrimSpace(string(csv.Body)), "\n")
	require.Len(t, lines, 2)
	require.True(t, strings.HasPrefix(lines[1], month+","+over+","), lines[1])
	require.True(t, strings.HasSuffix(lines[1], ",112.50,EUR,100.00,EUR,12.50"), lines[1])

	require.Equal(t, http.StatusForbidden, h.call("GET", path, "dev-approver-gn", nil).Status)
	require.Equal(t, http.StatusUnprocessableEntity, h.call("GET", "/api/v1/reports/fee-reconciliation?month=2026-13", "dev-manager", nil).Status)
	last := time.Now().UTC().AddDate(0, -1, -time.Now().UTC().Day()+1).Format("2006-01")
	require.Empty(t, list(h.call("GET", "/api/v1/reports/fee-reconciliation?month="+last, "dev-manager", nil).JSON(t)["differences"]))
}

// A withdrawal after the ticketing, through HTTP on the real stack: the agency
// refunds the ticket once, the case records the refund and the fee kept, and
// the receiving office is told once that its pre-arrival notice no longer
// stands; a refund the agency refuses is recorded and a manager told.
func TestAWithdrawalAfterTicketingRefundsTheTicket(t *testing.T) {
	h := start(t, testConfig(t, "sqlite"))
	id, refused := h.register(), h.register()
	require.NoError(t, h.s.Simulator.ScriptRefund(refused, simulator.RefundScript{Refuse: "the fare is not refundable"}))
	for _, c := range []string{id, refused} {
		h.counsel(c, "confirmed")
		h.screen(c, "low")
	}
	for _, c := range []string{id, refused} {
		h.noticeSent(c)
	}

	c := h.withdraw(id)
	require.Equal(t, "withdrawn", c["closure_reason"])
	tr := c["travel"].(map[string]any)
	require.Equal(t, "refunded", tr["booking_status"])
	require.Equal(t, true, tr["notice_withdrawn"])
	// Two passengers (the registration's household), the simulator's fare each.
	require.Equal(t, map[string]any{"amount": "640.00", "currency": "EUR"}, tr["refund"].(map[string]any)["refund"])
	require.Equal(t, map[string]any{"amount": "40.00", "currency": "EUR"}, tr["refund"].(map[string]any)["fee_kept"])
	fees := list(c["fees"])
	require.Equal(t, "cancellation", fees[len(fees)-1]["service"], "the fee kept is a fee charged")
	types := h.timelineTypes(id)
	require.Equal(t, 1, occurrences(types, "ticket_refunded"), "%v", types)
	require.Equal(t, 1, occurrences(types, "notice_withdrawn"), "%v", types)
	// Once: a second withdrawal is refused, and the partners saw one of each.
	require.Equal(t, http.StatusConflict, h.call("POST", "/api/v1/cases/"+id+"/withdrawal", "dev-caseworker",
		map[string]any{"reason": "withdrawn"}).Status)
	counts := h.s.Simulator.Counts()
	require.Equal(t, 1, counts.BookingsByCase[id].Refunded)
	require.Zero(t, counts.BookingsByCase[id].Cancelled)
	require.Equal(t, 1, counts.NoticesWithdrawn[id])
	stored, err := h.s.Store.Fees(t.Context(), id)
	require.NoError(t, err)
	require.Len(t, stored, 3, "the assessment, the ticketing, the cancellation, each once in the case file")
	// The caseworker sees the fees, the refund and the withdrawn notice on the case page.
	cw := h.browser("")
	cw.signIn("caseworker-de")
	page := cw.get("/cases/" + id)
	require.Contains(t, page.body, `id="fees"`)
	require.Contains(t, page.body, "Ticket refunded: 640.00 EUR; fee kept 40.00 EUR")
	require.Contains(t, page.body, `id="notice-withdrawn"`)

	c = h.withdraw(refused)
	require.Equal(t, "withdrawn", c["closure_reason"])
	require.Empty(t, c["blocked"])
	tr = c["travel"].(map[string]any)
	require.Equal(t, "ticketed", tr["booking_status"], "the refund was refused: the ticket stays as it is")
	require.Equal(t, true, tr["notice_withdrawn"], "and the receiving office is told all the same")
	require.Contains(t, h.timelineTypes(refused), "undo_refused")
	h.eventually("a manager told", 30*time.Second, func() bool {
		return h.s.Simulator.Counts().Notifications["undo_refused"] >= 1
	})
}

// noticeSent waits until the case's flight is ticketed and its pre-arrival notice sent.
func (h *homeward) noticeSent(id string) map[string]any {
	h.t.Helper()
	return h.waitCase(id, "the pre-arrival notice", func(c map[string]any) bool {
		tr, _ := c["travel"].(map[string]any)
		return c["stage"] == "Travel" && tr != nil && tr["booking_status"] == "ticketed" && tr["pre_arrival_sent"] == true
	})
}
