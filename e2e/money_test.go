package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/contract"
)

// Issue 21, points 1 and 2, on the real stack (workflow version 6).

// openTo is the offices a case offers an action (on a target) to, as it shows it.
func openTo(c map[string]any, name, target string) (offered bool, offices []string) {
	for _, a := range list(c["actions"]) {
		if a["name"] == name && (target == "" || a["target"] == target) {
			for _, o := range a["offices"].([]any) {
				offices = append(offices, o.(string))
			}
			return true, offices
		}
	}
	return false, nil
}

func planStatus(status contract.PlanStatus) func(map[string]any) bool {
	return func(c map[string]any) bool {
		p, _ := c["plan"].(map[string]any)
		return p != nil && p["status"] == string(status)
	}
}

// A programme whose donor approves plans with a service item: after the approvers,
// the case waits for the donor's decision, which only an approver of the sending
// office records, with the donor's reference and (a case document) the donor's
// letter; the donor's refusal sends the plan back to planning, its approval lets
// procurement start. The last decision goes through the workspace's form.
func TestTheDonorsDecisionThroughTheAPIAndTheWorkspace(t *testing.T) {
	cfg := testConfig(t, "sqlite")
	cfg.Rules.Programmes[0].DonorApproval.Kinds = []string{"service"}
	h := start(t, cfg)
	id := h.register()
	path := "/api/v1/cases/" + id + "/plan/donor-decision"
	h.counsel(id, "confirmed")
	h.screen(id, "low")
	h.depart(id)
	h.submitPlan(id, cost("cash", "400.00"), cost("service", "500.00"))
	h.problem(h.call("POST", path, "dev-approver", map[string]any{"decision": "approve", "donor_reference": "R-0"}),
		http.StatusConflict) // the approvers first
	h.decide(id, "dev-approver-gn", "approve")

	c := h.waitCase(id, "the donor's decision", planStatus(contract.PlanDonorApproval))
	require.Equal(t, "PlanApproval", c["stage"])
	require.Equal(t, "approver", c["waiting_on"])
	require.NotNil(t, c["stage_due_at"])
	require.Equal(t, "the plan has an item of kind service", c["plan"].(map[string]any)["donor_approval_reason"])
	offered, offices := openTo(c, "donor-decision", "")
	require.True(t, offered)
	require.Equal(t, []string{"DE-BER"}, offices, "the sending office's approvers")
	require.Contains(t, h.ids("/api/v1/tasks", "dev-approver"), id, "in the sending office's approvers' inbox")
	require.NotContains(t, h.ids("/api/v1/tasks", "dev-approver-gn"), id, "not in the receiving office's: they may not answer")

	h.problem(h.call("POST", path, "dev-approver-gn", map[string]any{"decision": "approve", "donor_reference": "R-1"}),
		http.StatusForbidden)
	h.problem(h.call("POST", path, "dev-caseworker", map[string]any{"decision": "approve", "donor_reference": "R-1"}),
		http.StatusForbidden)
	h.problem(h.call("POST", path, "dev-approver", map[string]any{"decision": "approve"}), http.StatusUnprocessableEntity,
		"donor_reference")
	h.problem(h.call("POST", path, "dev-approver", map[string]any{"decision": "refuse", "donor_reference": "R-1"}),
		http.StatusUnprocessableEntity, "reason")
	pdf := []byte("%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n")
	receipt := h.upload(id, "dev-caseworker", "receipt", "receipt.pdf", "application/pdf", pdf)
	require.Equal(t, http.StatusCreated, receipt.Status, string(receipt.Body))
	h.problem(h.call("POST", path, "dev-approver", map[string]any{"decision": "approve", "donor_reference": "R-1",
		"donor_letter": receipt.JSON(t)["id"]}), http.StatusUnprocessableEntity, "donor_letter")

	h.accept("POST", path, "dev-approver", map[string]any{"decision": "refuse", "donor_reference": "ECHO/2027/17",
		"reason": "Services are not eligible under this grant."})
	c = h.waitCase(id, "planning again", stageIs("ReintegrationPlanning"))
	p := c["plan"].(map[string]any)
	require.Equal(t, "donor_refused", p["status"])
	d := p["donor_decision"].(map[string]any)
	require.Equal(t, "refuse", d["decision"])
	require.Equal(t, "Services are not eligible under this grant.", d["reason"])
	require.Equal(t, "approver-de", d["by"])
	refused := h.timelineOf(id, "donor_decision")
	require.Len(t, refused, 1)
	require.Contains(t, refused[0]["summary"], "the donor refused (reference ECHO/2027/17)")

	h.submitPlan(id, cost("cash", "400.00"), cost("service", "300.00"))
	h.decide(id, "dev-approver-gn", "approve")
	h.waitCase(id, "the donor's decision", planStatus(contract.PlanDonorApproval))
	letter := h.upload(id, "dev-caseworker", "donor_letter", "donor letter.pdf", "application/pdf", pdf)
	require.Equal(t, http.StatusCreated, letter.Status, string(letter.Body))
	letterID := letter.JSON(t)["id"].(string)

	gn := h.browser("")
	gn.signIn("approver-gn")
	require.NotContains(t, gn.get("/cases/"+id).body, `id="form-donor-decision"`, "not offered to the receiving office")
	de := h.browser("")
	de.signIn("approver-de")
	page := de.get("/cases/" + id)
	require.Contains(t, page.body, `id="form-donor-decision"`)
	require.Contains(t, page.body, `value="`+letterID+`"`, "the donor's letter to choose")
	missing := de.post("/cases/"+id+"/actions/donor-decision", de.form("decision", "approve"))
	require.Equal(t, http.StatusUnprocessableEntity, missing.status)
	require.Contains(t, missing.body, "has-error", "the field in error shown beside it")
	done := de.post("/cases/"+id+"/actions/donor-decision", de.form("decision", "approve", "donor_reference", "ECHO/2027/18",
		"donor_letter", letterID))
	require.Equal(t, http.StatusSeeOther, done.status, done.body)

	c = h.waitCase(id, "procurement", stageIs("Procurement"))
	p = c["plan"].(map[string]any)
	require.Equal(t, "approved", p["status"])
	d = p["donor_decision"].(map[string]any)
	require.Equal(t, "ECHO/2027/18", d["donor_reference"])
	require.Equal(t, letterID, d["donor_letter"])
	require.Len(t, h.timelineOf(id, "donor_decision"), 2)
	shown := de.get("/cases/" + id).body
	require.Contains(t, shown, `id="donor-decision"`)
	require.Contains(t, shown, "ECHO/2027/18")

	// The statistics count one plan approved, when the donor approved it, and its total committed.
	month := h.call("GET", "/api/v1/reports/monthly?month="+time.Now().UTC().Format("2006-01"), "dev-manager", nil).JSON(t)
	require.Equal(t, float64(1), list(month["activity"])[0]["plans_approved"])
	require.Equal(t, "700.00", list(month["money"])[0]["committed"])
}

// A payment above the programme's threshold waits for an approver of the
// sending office; refused, it waits with the reason; validated, it is paid once.
// A payment within the threshold goes at once.
func TestAPaymentsValidationThroughTheAPI(t *testing.T) {
	cfg := testConfig(t, "sqlite")
	cfg.Rules.Programmes[0].PaymentValidationAbove = "500.00"
	h := start(t, cfg)
	id := h.register()
	h.standardPlanDelivered(id)

	c := h.waitCase(id, "the payment's validation", func(c map[string]any) bool {
		items := list(c["procurement"])
		return len(items) == 2 && items[0]["status"] == "paid" && items[1]["status"] == "payment_validation"
	})
	require.Equal(t, "approver", c["waiting_on"])
	item := list(c["procurement"])[1]["id"].(string)
	offered, offices := openTo(c, "payment-validation", item)
	require.True(t, offered)
	require.Equal(t, []string{"DE-BER"}, offices)
	path := fmt.Sprintf("/api/v1/cases/%s/procurement/%s/payment-validation", id, item)
	h.problem(h.call("POST", fmt.Sprintf("/api/v1/cases/%s/procurement/%s/payment-validation", id, list(c["procurement"])[0]["id"]),
		"dev-approver", map[string]any{"decision": "validate"}), http.StatusConflict) // paid already
	h.problem(h.call("POST", path, "dev-approver-gn", map[string]any{"decision": "validate"}), http.StatusForbidden)
	h.problem(h.call("POST", path, "dev-procurement", map[string]any{"decision": "validate"}), http.StatusForbidden)
	h.problem(h.call("POST", path, "dev-approver", map[string]any{"decision": "refuse"}), http.StatusUnprocessableEntity, "reason")

	h.accept("POST", path, "dev-approver", map[string]any{"decision": "refuse", "reason": "The invoice is missing."})
	c = h.waitCase(id, "the refusal", func(c map[string]any) bool { return list(c["procurement"])[1]["status"] == "payment_refused" })
	v := list(c["procurement"])[1]["payment_validation"].(map[string]any)
	require.Equal(t, "refuse", v["decision"])
	require.Equal(t, "The invoice is missing.", v["comment"])
	require.Nil(t, list(c["procurement"])[1]["payment"])
	offered, _ = openTo(c, "payment-validation", item)
	require.True(t, offered, "a refused payment waits for a new validation")

	h.accept("POST", path, "dev-approver", map[string]any{"decision": "validate"}, "Idempotency-Key", "validate-1")
	h.accept("POST", path, "dev-approver", map[string]any{"decision": "validate"}, "Idempotency-Key", "validate-1") // a repeat
	c = h.waitCase(id, "monitoring", stageIs("Monitoring"))
	paid := list(c["procurement"])[1]
	require.Equal(t, "paid", paid["status"])
	require.Equal(t, "validate", paid["payment_validation"].(map[string]any)["decision"])
	require.Equal(t, 2, h.s.Simulator.Counts().Payments, "each item paid once")
	require.Len(t, h.timelineOf(id, "payment_held"), 1)
	types := []string{}
	for _, e := range h.timelineOf(id, "payment_validation") {
		types = append(types, e["summary"].(string))
	}
	require.Len(t, types, 2)
	require.True(t, slices.ContainsFunc(types, func(s string) bool { return s == "Item "+item+": payment validated by the sending office" }))
}
