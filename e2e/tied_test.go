package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/homeward/homeward/money"
	"github.com/homeward/homeward/simulator"
)

// timelineOf is the case's timeline events of a type, through the API.
func (h *homeward) timelineOf(id, typ string) []map[string]any {
	h.t.Helper()
	r := h.call("GET", "/api/v1/cases/"+id+"/timeline", "dev-manager", nil)
	require.Equal(h.t, http.StatusOK, r.Status, string(r.Body))
	var out []map[string]any
	for _, e := range list(r.JSON(h.t)["items"]) {
		if e["type"] == typ {
			out = append(out, e)
		}
	}
	return out
}

// An operator who reaches Temporal cancels a case's workflow from the CLI (here a
// client with the CLI's kind of identity): the case closes as cancelled by that
// operator, not as the migrant's withdrawal, and the booking is released all the same.
func TestAnOperatorsCancellationInTemporalIsNotAWithdrawal(t *testing.T) {
	h := start(t, testConfig(t, "sqlite"))
	id := h.register()
	require.NoError(t, h.s.Simulator.ScriptMedical(id, simulator.MedicalScript{Results: []string{"fit_with_escort"}}))
	h.counsel(id, "confirmed")
	h.screen(id, "low")
	h.ticketed(id)

	const operator = "temporal-cli:ops-jane@ops-host-1"
	ops, err := client.NewClientFromExisting(temporalClient(), client.Options{Identity: operator})
	require.NoError(t, err)
	defer ops.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, ops.CancelWorkflow(ctx, "case-"+id, ""))

	c := h.waitCase(id, "closure", stageIs("Closed"))
	require.Equal(t, "operator_cancelled", c["closure_reason"], "not a withdrawal")
	closed := h.timelineOf(id, "closed")
	require.Len(t, closed, 1)
	actor := closed[0]["actor"].(map[string]any)
	require.Equal(t, "temporal-client:"+operator, actor["user"])
	require.Equal(t, "operator", actor["role"])
	require.Contains(t, closed[0]["summary"], "not a withdrawal")
	// Compensated as a withdrawal: the escort booked for this health case is cancelled.
	require.Equal(t, 1, h.s.Simulator.Counts().EscortsCancelled)
}

// Partner facts through HTTP: each partner's credential posts its own kind only,
// a result answers the open assessment request, an arrival this case's ticketed
// booking; a caseworker's hand entry is credited to the caseworker. The simulated
// partners stay silent here (their callbacks are an hour away), so every fact is
// the test's.
func TestPartnerFactsAreTiedToTheCaseThroughTheAPI(t *testing.T) {
	cfg := testConfig(t, "sqlite")
	cfg.Simulator.CallbackDelay = time.Hour
	h := start(t, cfg)
	id := h.register()
	medical := func(token string, requestNo int) response {
		return h.call("POST", "/api/v1/cases/"+id+"/medical", token, map[string]any{"request_no": requestNo,
			"result": "fit", "assessed_at": now(), "valid_until": time.Now().UTC().Add(14 * 24 * time.Hour).Format(time.RFC3339)})
	}
	arrival := func(token, bookingRef string) response {
		return h.call("POST", "/api/v1/cases/"+id+"/arrival", token, map[string]any{"booking_ref": bookingRef,
			"arrived_at": now(), "received_by": "GN-CKY reception desk"})
	}

	h.waitCase(id, "counselling", stageIs("Counselling"))
	h.problem(medical("dev-medical", 1), http.StatusConflict) // no assessment requested yet
	h.counsel(id, "confirmed")
	h.screen(id, "low")
	h.waitCase(id, "the assessment request", func(c map[string]any) bool {
		m, _ := c["medical"].(map[string]any)
		return c["stage"] == "MedicalClearance" && m != nil && m["requests"] == 1.0
	})
	h.problem(medical("dev-receiving", 1), http.StatusForbidden)
	h.problem(medical("dev-medical", 2), http.StatusConflict)
	// The provider's answer came on paper: the caseworker enters it.
	require.Equal(t, http.StatusAccepted, medical("dev-caseworker", 1).Status)
	h.problem(medical("dev-medical", 1), http.StatusConflict) // already in

	c := h.ticketed(id)
	ref := c["travel"].(map[string]any)["booking_ref"].(string)
	h.problem(arrival("dev-receiving", "BK-NOT-THIS-ONE"), http.StatusConflict)
	h.problem(arrival("dev-medical", ref), http.StatusForbidden)
	require.Equal(t, http.StatusAccepted, arrival("dev-receiving", ref).Status, "before the departure is recorded")
	h.depart(id)
	h.waitCase(id, "planning", stageIs("ReintegrationPlanning"))

	results := h.timelineOf(id, "medical")
	require.Len(t, results, 1)
	require.Equal(t, map[string]any{"user": "caseworker-de", "role": "caseworker"}, results[0]["actor"],
		"the caseworker who entered it, not the medical provider")
	arrived := h.timelineOf(id, "arrived")
	require.Len(t, arrived, 1)
	require.Equal(t, map[string]any{"user": "receiving-office", "role": "service"}, arrived[0]["actor"])
}

// A supplier portal answers 25,000 for a 1,999 item: nothing is ordered or paid;
// the price goes to the approvers, who cannot approve it beyond the household's
// cap; rejected, the item is not bought.
func TestAQuoteOf25000ForA1999ItemIsNotPaidWithoutASecondApproval(t *testing.T) {
	h := start(t, testConfig(t, "sqlite"))
	body := registration()
	body["programme"] = "EU-IOM-JI" // a cap (2,250 for this household) that a 1,999 item fits
	r := h.call("POST", "/api/v1/cases", "dev-caseworker", body)
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	id := r.JSON(t)["id"].(string)
	require.NoError(t, h.s.Simulator.ScriptQuotes(id, money.Money{Amount: "25000.00", Currency: "EUR"}))
	h.planApproved(id, cost("in_kind", "1999.00"))

	c := h.waitCase(id, "the price waiting for the approvers", func(c map[string]any) bool {
		items := list(c["procurement"])
		return len(items) == 1 && items[0]["status"] == "price_approval"
	})
	require.Equal(t, "approver", c["waiting_on"])
	h.eventually("the supervisor told of the price", 10*time.Second, func() bool {
		return h.s.Simulator.Counts().Notifications["price_approval"] == 1 // the notification service takes the kind
	})
	item := list(c["procurement"])[0]["id"].(string)
	path := "/api/v1/cases/" + id + "/procurement/" + item
	h.problem(h.call("POST", path+"/delivery", "dev-procurement", map[string]any{"delivered_at": now(), "handover_certificate": "HC-1"}),
		http.StatusConflict)
	h.problem(h.call("POST", path+"/price-decision", "dev-procurement", map[string]any{"decision": "approve"}), http.StatusForbidden)
	h.problem(h.call("POST", path+"/price-decision", "dev-approver-gn", map[string]any{"decision": "approve"}),
		http.StatusForbidden) // the receiving office approved the plan: the sending office decides the price
	h.problem(h.call("POST", path+"/price-decision", "dev-approver", map[string]any{"decision": "approve"}),
		http.StatusUnprocessableEntity) // beyond the household's cap
	h.accept("POST", path+"/price-decision", "dev-approver", map[string]any{"decision": "reject", "comment": "Far above the approved cost."})

	c = h.waitCase(id, "monitoring", stageIs("Monitoring"))
	require.Equal(t, http.StatusOK, h.call("GET", "/api/v1/cases/"+id, "dev-approver", nil).Status,
		"the approver who decided the price still sees the case")
	items := list(c["procurement"])
	require.Equal(t, "cancelled", items[0]["status"])
	require.Equal(t, "reject", items[0]["price_decision"].(map[string]any)["decision"])
	counts := h.s.Simulator.Counts()
	require.Zero(t, counts.PurchaseOrders, "nothing ordered")
	require.Zero(t, counts.Payments, "nothing paid")
	require.Len(t, h.timelineOf(id, "quote_above_cost"), 1)
}
