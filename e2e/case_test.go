package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/homeward/homeward/money"
	"github.com/homeward/homeward/store"
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

		h.counsel(id, "confirmed")
		h.screen(id, "medium", "health_needs")
		// The medical provider answers by callback; the flight is held and ticketed.
		c = h.ticketed(id)
		require.Equal(t, "fit", c["medical"].(map[string]any)["result"])
		h.depart(id)

		// The receiving office confirms the arrival by callback; health needs open PAMA.
		c = h.waitCase(id, "planning", stageIs("ReintegrationPlanning"))
		require.Equal(t, true, c["medical"].(map[string]any)["pama_opened"])

		h.submitPlan(id, cost("cash", "400.00"), cost("in_kind", "900.00"))
		r := h.call("POST", path+"/plan/decisions", "dev-caseworker", map[string]any{"decision": "approve"})
		require.Equal(t, http.StatusForbidden, r.Status, "a caseworker cannot approve")
		r = h.decide(id, "dev-approver-gn", "approve", "Idempotency-Key", "approve-1")
		again := h.decide(id, "dev-approver-gn", "approve", "Idempotency-Key", "approve-1")
		require.Equal(t, r.Status, again.Status, string(again.Body))
		require.Equal(t, r.JSON(t)["id"], again.JSON(t)["id"], "the repeat answers the case (as it is now, re-read)")
		r = h.call("POST", path+"/plan/decisions", "dev-approver-gn", map[string]any{"decision": "reject", "comment": "late"})
		require.Equal(t, http.StatusConflict, r.Status, "the plan is already approved")
		r = h.call("POST", path+"/plan/decisions", "dev-approver", map[string]any{"decision": "reject", "comment": "late"})
		require.Equal(t, http.StatusNotFound, r.Status, "an approver sees only the cases waiting on them or that they decided")

		h.deliverAll(id, 1)
		h.visitAll(id)
		c = h.waitCase(id, "closure", stageIs("Closed"))
		require.Equal(t, "completed", c["closure_reason"])
		require.Equal(t, "closed", c["status"])
		require.InDelta(t, 0.75, c["monitoring"].([]any)[0].(map[string]any)["composite"], 1e-9)

		// Every SLA timer ended with its stage: none was left to fire later and wake
		// the case for nothing.
		for _, run := range runs(t, "case-"+id) {
			started, ended := 0, 0
			for _, ev := range history(t, "case-"+id, run).Events {
				switch ev.GetEventType() {
				case enumspb.EVENT_TYPE_TIMER_STARTED:
					started++
				case enumspb.EVENT_TYPE_TIMER_FIRED, enumspb.EVENT_TYPE_TIMER_CANCELED:
					ended++
				}
			}
			require.Positive(t, started, "run %s: the stages raced their SLA timers", run)
			require.Equal(t, started, ended, "run %s: timers left pending", run)
		}

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
		total := list(rep["activity"])[0]
		require.Equal(t, "total", total["by"])
		for k, want := range map[string]float64{"registered": 1, "departed": 1, "arrived": 1, "plans_approved": 1,
			"visits_done": 3, "visits_missed": 0, "closed": 1} {
			require.Equal(t, want, total[k], k)
		}
		require.Equal(t, float64(1), total["closures"].(map[string]any)["completed"])
		require.Contains(t, rep["money"], map[string]any{"by": "country_of_return", "key": "GN", "currency": "EUR",
			"committed": "1300.00", "paid": paidTotal(ps), "service_fees": "150.00", "payments": float64(2)})
		csv := h.call("GET", "/api/v1/reports/monthly?month="+month, "dev-manager", nil, "Accept", "text/csv")
		require.Equal(t, http.StatusOK, csv.Status)
		require.Contains(t, string(csv.Body), "activity,"+month+",total,all,,1,1,1,1,3,0,1,1,0,")
		require.True(t, strings.HasPrefix(csv.Header.Get("Content-Type"), "text/csv"))

		// Every read answered from the case file: the API sent Temporal no query.
		h.requireNoQueries()
	})
}

// requireNoQueries checks the API's count of the workflow queries it sent.
func (h *homeward) requireNoQueries() {
	h.t.Helper()
	m := h.call("GET", "/metrics", "", nil)
	require.Equal(h.t, http.StatusOK, m.Status)
	require.Contains(h.t, string(m.Body), "\nhomeward_temporal_queries_total 0\n")
}

func paidTotal(ps []store.Payment) string {
	var total money.Cents
	for _, p := range ps {
		total += money.Cents(p.AmountCents)
	}
	return total.String()
}
