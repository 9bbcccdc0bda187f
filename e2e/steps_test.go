package e2e

import (
	"fmt"
	"net/http"

	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/soak"
)

// The steps people take on a case, through the API. Each checks it was accepted.

func (h *homeward) accept(method, path, token string, body any, headers ...string) response {
	h.t.Helper()
	r := h.call(method, path, token, body, headers...)
	require.Contains(h.t, []int{http.StatusOK, http.StatusAccepted}, r.Status, "%s %s: %s", method, path, r.Body)
	return r
}

func (h *homeward) counsel(id, outcome string) {
	h.waitCase(id, "counselling", stageIs("Counselling"))
	h.accept("POST", "/api/v1/cases/"+id+"/counselling", "dev-caseworker", map[string]any{"outcome": outcome, "held_at": now()})
}

func (h *homeward) screen(id, risk string, flags ...string) {
	h.waitCase(id, "screening", stageIs("Screening"))
	h.accept("POST", "/api/v1/cases/"+id+"/screening", "dev-caseworker", map[string]any{"risk": risk, "flags": flags})
}

// ticketed waits until the flight is ticketed (after the medical provider's callback).
func (h *homeward) ticketed(id string) map[string]any {
	return h.waitCase(id, "a ticketed flight", func(c map[string]any) bool {
		tr, _ := c["travel"].(map[string]any)
		return c["stage"] == "Travel" && tr != nil && tr["booking_status"] == "ticketed" && tr["departed_at"] == nil
	})
}

func (h *homeward) depart(id string) {
	h.ticketed(id)
	h.accept("POST", "/api/v1/cases/"+id+"/departure", "dev-caseworker", map[string]any{"departed_at": now(), "flight": "HW101"})
}

func cost(kind, amount string) map[string]any { return soak.PlanItem(kind, amount) }

func (h *homeward) submitPlan(id string, items ...map[string]any) {
	h.waitCase(id, "planning", stageIs("ReintegrationPlanning"))
	h.accept("POST", "/api/v1/cases/"+id+"/plan", "dev-caseworker-gn", map[string]any{"items": items})
	h.waitCase(id, "plan approval", stageIs("PlanApproval"))
}

func (h *homeward) decide(id, token, decision string, headers ...string) response {
	return h.accept("POST", "/api/v1/cases/"+id+"/plan/decisions", token,
		map[string]any{"decision": decision, "comment": "reviewed"}, headers...)
}

// deliverAll records the delivery of every ordered in-kind item.
func (h *homeward) deliverAll(id string, inKind int) {
	c := h.waitCase(id, "orders for the in-kind items", func(c map[string]any) bool {
		n := 0
		for _, p := range list(c["procurement"]) {
			if p["status"] == "ordered" {
				n++
			}
		}
		return n == inKind
	})
	for _, p := range list(c["procurement"]) {
		if p["status"] == "ordered" {
			h.accept("POST", fmt.Sprintf("/api/v1/cases/%s/procurement/%s/delivery", id, p["id"]), "dev-procurement",
				map[string]any{"delivered_at": now(), "handover_certificate": "HC-" + p["id"].(string)})
		}
	}
}

// visitAll reports each monitoring visit when it falls due.
func (h *homeward) visitAll(id string) {
	for visit := 1; visit <= 3; visit++ {
		h.waitCase(id, fmt.Sprintf("visit %d due", visit), func(c map[string]any) bool {
			vs := list(c["monitoring"])
			return len(vs) == 3 && vs[visit-1]["status"] == "due"
		})
		h.accept("POST", "/api/v1/cases/"+id+"/monitoring", "dev-caseworker-gn", map[string]any{"visit": visit,
			"visited_at": now(), "scores": map[string]any{"economic": 0.5, "social": 0.75, "psychosocial": 1}})
	}
}

// standardPlanDelivered takes a case the standard way to its plan's delivery:
// confirmed, low risk, departed, a plan of one cash and one in-kind item approved
// at once by the receiving office, the in-kind item delivered.
func (h *homeward) standardPlanDelivered(id string) {
	h.t.Helper()
	h.planApproved(id, cost("cash", "400.00"), cost("in_kind", "900.00"))
	h.deliverAll(id, 1)
}

// planApproved takes a case the standard way to its plan's approval: confirmed,
// low risk, departed, the plan of these items approved at once by the receiving
// office.
func (h *homeward) planApproved(id string, items ...map[string]any) {
	h.t.Helper()
	h.counsel(id, "confirmed")
	h.screen(id, "low")
	h.depart(id)
	h.submitPlan(id, items...)
	h.decide(id, "dev-approver-gn", "approve")
}

func list(v any) []map[string]any {
	var out []map[string]any
	xs, _ := v.([]any)
	for _, x := range xs {
		out = append(out, x.(map[string]any))
	}
	return out
}
