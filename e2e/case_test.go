package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/homeward/homeward/money"
	"github.com/homeward/homeward/store"
	"github.com/stretchr/testify/require"
)

// A return from registration to completed, only through HTTP, with the partners
// played by the simulator over HTTP (it calls back with the medical result and
// the arrival), on each database.
func TestACompleteCaseThroughTheAPI(t *testing.T) {
	eachDatabase(t, func(t *testing.T, driver string) {
		h := start(t, testConfig(t, driver))
		id := h.register()
		path := "/api/v1/cases/" + id

		c := h.call("GET", path, "dev-caseworker", nil).JSON(t)
		require.Regexp(t, `^HW-\d{4}-\d{6}$`, c["reference"])
		require.Equal(t, "case-"+id, c["workflow"].(map[string]any)["workflow_id"], "the workflow ID carries no personal data")

		h.waitCase(id, "counselling", stageIs("Counselling"))
		r := h.call("POST", path+"/counselling", "dev-caseworker", map[string]any{"outcome": "confirmed", "held_at": now()})
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		h.waitCase(id, "screening", stageIs("Screening"))
		r = h.call("POST", path+"/screening", "dev-caseworker", map[string]any{"risk": "medium", "flags": []string{"health_needs"}})
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))

		// The medical provider answers by callback; the flight is held and ticketed.
		c = h.waitCase(id, "a ticketed flight", func(c map[string]any) bool {
			tr, _ := c["travel"].(map[string]any)
			return c["stage"] == "Travel" && tr != nil && tr["booking_status"] == "ticketed"
		})
		require.Equal(t, "fit", c["medical"].(map[string]any)["result"])
		r = h.call("POST", path+"/departure", "dev-caseworker", map[string]any{"departed_at": now(), "flight": "HW101"})
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))

		// The receiving office confirms the arrival by callback; health needs open PAMA.
		c = h.waitCase(id, "planning", stageIs("ReintegrationPlanning"))
		require.Equal(t, true, c["medical"].(map[string]any)["pama_opened"])

		plan := map[string]any{"items": []any{
			map[string]any{"dimension": "economic", "kind": "cash", "description": "start-up grant", "cost": map[string]any{"amount": "400.00", "currency": "EUR"}},
			map[string]any{"dimension": "economic", "kind": "in_kind", "description": "sewing machine", "cost": map[string]any{"amount": "900.00", "currency": "EUR"}},
		}}
		r = h.call("POST", path+"/plan", "dev-caseworker-gn", plan)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		h.waitCase(id, "plan approval", stageIs("PlanApproval"))

		r = h.call("POST", path+"/plan/decisions", "dev-caseworker", map[string]any{"decision": "approve"})
		require.Equal(t, http.StatusForbidden, r.Status, "a caseworker cannot approve")
		r = h.call("POST", path+"/plan/decisions", "dev-approver-gn", map[string]any{"decision": "approve"}, "Idempotency-Key", "approve-1")
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		again := h.call("POST", path+"/plan/decisions", "dev-approver-gn", map[string]any{"decision": "approve"}, "Idempotency-Key", "approve-1")
		require.Equal(t, http.StatusOK, again.Status, "the same key gets the same answer")
		require.JSONEq(t, string(r.Body), string(again.Body))
		r = h.call("POST", path+"/plan/decisions", "dev-approver", map[string]any{"decision": "reject", "comment": "late"})
		require.Equal(t, http.StatusConflict, r.Status, "the plan is already approved")

		c = h.waitCase(id, "an order for the in-kind item", func(c map[string]any) bool {
			ps, _ := c["procurement"].([]any)
			return len(ps) == 2 && ps[1].(map[string]any)["status"] == "ordered"
		})
		item := c["procurement"].([]any)[1].(map[string]any)["id"].(string)
		r = h.call("POST", fmt.Sprintf("%s/procurement/%s/delivery", path, item), "dev-procurement",
			map[string]any{"delivered_at": now(), "handover_certificate": "HC-2026-001"})
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))

		for visit := 1; visit <= 3; visit++ {
			h.waitCase(id, fmt.Sprintf("visit %d due", visit), func(c map[string]any) bool {
				vs, _ := c["monitoring"].([]any)
				return len(vs) == 3 && vs[visit-1].(map[string]any)["status"] == "due"
			})
			r = h.call("POST", path+"/monitoring", "dev-caseworker-gn", map[string]any{"visit": visit, "visited_at": now(),
				"scores": map[string]any{"economic": 0.5, "social": 0.75, "psychosocial": 1}})
			require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		}
		c = h.waitCase(id, "closure", stageIs("Closed"))
		require.Equal(t, "completed", c["closure_reason"])
		require.Equal(t, "closed", c["status"])
		require.InDelta(t, 0.75, c["monitoring"].([]any)[0].(map[string]any)["composite"], 1e-9)

		// The partners saw each effect once.
		counts := h.s.Simulator.Counts()
		require.Equal(t, 2, counts.Payments, "one payment per item")
		for key, n := range counts.PaymentsByKey {
			require.Equal(t, 1, n, key)
		}
		require.Equal(t, 1, counts.Bookings.Held)
		require.Equal(t, 1, counts.Bookings.Ticketed)
		require.Equal(t, 0, counts.Bookings.Cancelled)

		// The timeline says who did what, oldest first.
		tl := h.call("GET", path+"/timeline", "dev-caseworker", nil).JSON(t)["items"].([]any)
		first, last := tl[0].(map[string]any), tl[len(tl)-1].(map[string]any)
		require.Equal(t, "registered", first["type"])
		require.Equal(t, "caseworker-de", first["actor"].(map[string]any)["user"])
		require.Equal(t, "closed", last["type"])
		var decisions []string
		for _, e := range tl {
			if e := e.(map[string]any); e["type"] == "plan_decision" {
				decisions = append(decisions, e["actor"].(map[string]any)["user"].(string))
			}
		}
		require.Equal(t, []string{"approver-gn"}, decisions, "one decision, one actor, despite the retry")

		// The case file in the database agrees with the workflow.
		row, err := h.s.Store.CaseByID(t.Context(), id)
		require.NoError(t, err)
		require.Equal(t, "Closed", row.Stage)
		require.Equal(t, "completed", row.ClosureReason)
		require.NotNil(t, row.DepartedAt)
		ps, err := h.s.Store.Payments(t.Context(), id)
		require.NoError(t, err)
		require.Len(t, ps, 2)

		// The month's statistics count it.
		month := row.CreatedAt.Format("2006-01")
		rep := h.call("GET", "/api/v1/reports/monthly?month="+month, "dev-manager", nil).JSON(t)
		require.Equal(t, []any{map[string]any{"country_of_return": "GN", "stage": "Closed", "registered": float64(1),
			"departed": float64(1), "closed": float64(1)}}, rep["returns"])
		require.Equal(t, []any{map[string]any{"country_of_return": "GN", "currency": "EUR", "committed": "1300.00",
			"paid": paidTotal(ps), "service_charges": "150.00", "cases_committed": float64(1), "payments": float64(2)}}, rep["assistance"])
		csv := h.call("GET", "/api/v1/reports/monthly?month="+month, "dev-manager", nil, "Accept", "text/csv")
		require.Equal(t, http.StatusOK, csv.Status)
		require.Contains(t, string(csv.Body), "returns,"+month+",GN,Closed,,1,1,1")
		require.True(t, strings.HasPrefix(csv.Header.Get("Content-Type"), "text/csv"))
	})
}

func paidTotal(ps []store.Payment) string {
	var total money.Cents
	for _, p := range ps {
		total += money.Cents(p.AmountCents)
	}
	return total.String()
}
