package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/homeward/homeward/config"
	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/money"
	"github.com/homeward/homeward/simulator"
	"github.com/homeward/homeward/stack"
)

// TestRecordHistories records one event history per major path of a case, from
// the dev server, into workflows/testdata/histories/$HOMEWARD_RECORD_HISTORIES,
// where the replay tests run them through the current workflow code. It runs only
// when that names a version (make histories VERSION=v1): recorded histories are a
// deliberate change, committed with the workflow change that needs them.
func TestRecordHistories(t *testing.T) {
	version := os.Getenv("HOMEWARD_RECORD_HISTORIES")
	if version == "" {
		t.Skip("set HOMEWARD_RECORD_HISTORIES=v<N> (make histories VERSION=v<N>) to record new histories")
	}
	require.Regexp(t, `^v[0-9]+$`, version, "the version folder: v<N>, the highest workflow.GetVersion in versions.go")
	paths := map[string]func(h *homeward, id string){
		// The standard case of issue 19, whose cost workflows/cost_test.go counts:
		// counselling, low-risk screening, fit, one flight, arrival, a plan of one
		// cash and one in-kind item approved at once, delivery, three visits.
		standard: func(h *homeward, id string) {
			h.standardPlanDelivered(id)
			h.visitAll(id)
		},
		"completed": func(h *homeward, id string) {
			h.counsel(id, "confirmed")
			h.screen(id, "medium", "health_needs")
			h.depart(id)
			h.submitPlan(id, cost("cash", "400.00"), cost("in_kind", "900.00"), cost("referral", "0"))
			h.decide(id, "dev-approver-gn", "approve")
			h.deliverAll(id, 1)
			h.visitAll(id)
		},
		"withdrawn-at-counselling": func(h *homeward, id string) { h.counsel(id, "withdrawn") },
		"high-risk-not-cleared": func(h *homeward, id string) {
			h.counsel(id, "confirmed")
			h.screen(id, "high", "victim_of_trafficking")
			h.waitCase(id, "clearance", func(c map[string]any) bool { return c["waiting_on"] == "approver" })
			h.accept("POST", "/api/v1/cases/"+id+"/screening/clearance", "dev-approver",
				map[string]any{"decision": "not_cleared", "comment": "protection concerns"})
		},
		"not-fit": func(h *homeward, id string) {
			require.NoError(h.t, h.s.Simulator.ScriptMedical(id, simulator.MedicalScript{Results: []string{"unfit"}}))
			h.counsel(id, "confirmed")
			h.screen(id, "low")
		},
		"no-show": func(h *homeward, id string) {
			h.counsel(id, "confirmed")
			h.screen(id, "low")
			for range 3 {
				h.ticketed(id)
				h.accept("POST", "/api/v1/cases/"+id+"/departure", "dev-caseworker", map[string]any{"no_show": true})
			}
		},
		"withdrawn-while-holding-a-flight": func(h *homeward, id string) {
			h.counsel(id, "confirmed")
			require.NoError(h.t, h.s.Simulator.SetFault("travel", simulator.Fault{Latency: time.Second}))
			h.screen(id, "low")
			h.whenPartnerHas(id, "travel", 1)
			h.withdraw(id)
		},
		"plan-changes-then-withdrawn": func(h *homeward, id string) {
			h.counsel(id, "confirmed")
			h.screen(id, "low")
			h.depart(id)
			h.submitPlan(id, cost("cash", "400.00"))
			h.decide(id, "dev-approver-gn", "request_changes")
			h.submitPlan(id, cost("cash", "300.00"), cost("service", "200.00"))
			h.accept("POST", "/api/v1/cases/"+id+"/withdrawal", "dev-caseworker", map[string]any{"reason": "deceased"})
		},
		"transferred-then-withdrawn": func(h *homeward, id string) {
			h.waitCase(id, "counselling", stageIs("Counselling"))
			h.accept("POST", "/api/v1/cases/"+id+"/counselling", "dev-caseworker", map[string]any{"outcome": "confirmed",
				"held_at": now(), "notes": "interpreter present"})
			h.accept("POST", "/api/v1/cases/"+id+"/transfer", "dev-approver", map[string]any{"receiving_office": "SN-DKR",
				"area_of_return": map[string]any{"region": "Dakar"}, "reason": "the family moved"})
			h.screen(id, "low")
			h.accept("POST", "/api/v1/cases/"+id+"/withdrawal", "dev-caseworker", map[string]any{"reason": "absconded",
				"comment": "no answer"})
		},
		"consent-withdrawn-while-holding-a-flight": func(h *homeward, id string) {
			h.counsel(id, "confirmed")
			require.NoError(h.t, h.s.Simulator.SetFault("travel", simulator.Fault{Latency: time.Second}))
			h.screen(id, "low")
			h.whenPartnerHas(id, "travel", 1)
			h.accept("POST", "/api/v1/cases/"+id+"/consent", "dev-caseworker", map[string]any{"data_processing": false,
				"withdrawn_at": now()})
		},
		// Version 4 on: a cancellation from Temporal, read back from the history.
		"cancelled-by-an-operator": func(h *homeward, id string) {
			h.counsel(id, "confirmed")
			h.screen(id, "low")
			h.ticketed(id)
			ops, err := client.NewClientFromExisting(temporalClient(), client.Options{Identity: "temporal-cli:ops@host"})
			require.NoError(h.t, err)
			defer ops.Close()
			require.NoError(h.t, ops.CancelWorkflow(context.Background(), "case-"+id, ""))
		},
		// Version 7 on: a withdrawal after the ticketing (with an escort, paid with
		// the flight) refunds the ticket and the escort and withdraws the notice.
		"withdrawn-after-ticketing": func(h *homeward, id string) {
			require.NoError(h.t, h.s.Simulator.ScriptMedical(id, simulator.MedicalScript{Results: []string{"fit_with_escort"}}))
			h.counsel(id, "confirmed")
			h.screen(id, "low")
			h.noticeSent(id)
			h.withdraw(id)
		},
		// Version 7 on: the agency refuses the refund; the notice is withdrawn all the same.
		"refund-refused": func(h *homeward, id string) {
			require.NoError(h.t, h.s.Simulator.ScriptRefund(id, simulator.RefundScript{Refuse: "the fare is not refundable"}))
			h.counsel(id, "confirmed")
			h.screen(id, "low")
			h.noticeSent(id)
			h.withdraw(id)
		},
		// Version 4 on: a quote above the approved cost waits for an approver, who
		// approves it within the cap; then a withdrawal closes the case.
		"price-above-cost-approved": func(h *homeward, id string) {
			require.NoError(h.t, h.s.Simulator.ScriptQuotes(id, money.Money{Amount: "1200.00", Currency: "EUR"}))
			h.planApproved(id, cost("in_kind", "1000.00"))
			c := h.waitCase(id, "the price decision", func(c map[string]any) bool {
				items := list(c["procurement"])
				return len(items) == 1 && items[0]["status"] == "price_approval"
			})
			h.accept("POST", fmt.Sprintf("/api/v1/cases/%s/procurement/%s/price-decision", id, list(c["procurement"])[0]["id"]),
				"dev-approver", map[string]any{"decision": "approve"})
			h.deliverAll(id, 1)
			h.waitCase(id, "monitoring", stageIs("Monitoring"))
			h.withdraw(id)
		},
		// Version 6 on: the approvers approve a plan the donor must approve (it has a
		// service item), the donor refuses it, the next version is approved by the
		// approvers and the donor, and the case completes.
		"donor-refused-then-approved": func(h *homeward, id string) {
			h.counsel(id, "confirmed")
			h.screen(id, "low")
			h.depart(id)
			for i, decision := range []map[string]any{
				{"decision": "refuse", "donor_reference": "ECHO/2027/17", "reason": "Services are not eligible under this grant."},
				{"decision": "approve", "donor_reference": "ECHO/2027/18"},
			} {
				h.submitPlan(id, cost("cash", "400.00"), cost("service", fmt.Sprintf("%d00.00", 5-i)))
				h.decide(id, "dev-approver-gn", "approve")
				h.waitCase(id, "the donor's decision", planStatus(contract.PlanDonorApproval))
				h.accept("POST", "/api/v1/cases/"+id+"/plan/donor-decision", "dev-approver", decision)
			}
			h.visitAll(id)
		},
		// Version 6 on: the in-kind item's payment is above the threshold; the sending
		// office refuses it, then validates it, and the case completes.
		"payment-refused-then-validated": func(h *homeward, id string) {
			h.standardPlanDelivered(id)
			c := h.waitCase(id, "the payment's validation", func(c map[string]any) bool {
				items := list(c["procurement"])
				return len(items) == 2 && items[1]["status"] == "payment_validation"
			})
			path := fmt.Sprintf("/api/v1/cases/%s/procurement/%s/payment-validation", id, list(c["procurement"])[1]["id"])
			h.accept("POST", path, "dev-approver", map[string]any{"decision": "refuse", "reason": "The invoice is missing."})
			h.accept("POST", path, "dev-approver", map[string]any{"decision": "validate"})
			h.visitAll(id)
		},
	}
	// The programme's rules a path needs (the others run on the defaults).
	configs := map[string]func(*config.Config){
		"donor-refused-then-approved": func(c *config.Config) {
			c.Rules.Programmes[0].DonorApproval.Kinds = []string{"service"}
		},
		"payment-refused-then-validated": func(c *config.Config) { c.Rules.Programmes[0].PaymentValidationAbove = "500.00" },
	}
	// HOMEWARD_RECORD_ONLY (names, comma-separated) records only those paths: new
	// paths of the same version, beside the histories recorded before.
	if only := os.Getenv("HOMEWARD_RECORD_ONLY"); only != "" {
		keep := strings.Split(only, ",")
		for name := range paths {
			if !slices.Contains(keep, name) {
				delete(paths, name)
			}
		}
		require.NotEmpty(t, paths, "HOMEWARD_RECORD_ONLY names no path")
	}
	dir := filepath.Join("..", "workflows", "testdata", "histories", version)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for name, drive := range paths {
		t.Run(name, func(t *testing.T) {
			// Recorded in the clear (test data, no personal data), so the replay
			// tests need no key.
			cfg := testConfig(t, "sqlite")
			if set, ok := configs[name]; ok {
				set(&cfg)
			}
			h := startWith(t, stack.Options{Config: cfg, Temporal: temporalClient(), PlainPayloads: true})
			var id string
			if name == standard {
				id = h.registerWithout("vulnerabilities") // no health needs: no escort, no post-arrival assistance
			} else {
				id = h.register()
			}
			drive(h, id)
			h.waitCase(id, "closure", stageIs("Closed"))
			for i, run := range runs(t, "case-"+id) {
				b, err := protojson.MarshalOptions{Multiline: true, Indent: " "}.Marshal(history(t, "case-"+id, run))
				require.NoError(t, err)
				file := filepath.Join(dir, fmt.Sprintf("%s-run%d.json", name, i+1))
				require.NoError(t, os.WriteFile(file, b, 0o644))
				t.Logf("recorded %s", file)
			}
		})
	}
}

const standard = "standard"

// runs lists a workflow's runs, oldest first.
func runs(t *testing.T, workflowID string) []string {
	res, err := temporalClient().ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
		Query: fmt.Sprintf("WorkflowId = '%s'", workflowID)})
	require.NoError(t, err)
	var ids []string
	for i := len(res.Executions) - 1; i >= 0; i-- {
		ids = append(ids, res.Executions[i].Execution.RunId)
	}
	return ids
}

func history(t *testing.T, workflowID, runID string) *historypb.History {
	it := temporalClient().GetWorkflowHistory(context.Background(), workflowID, runID, false, 0)
	var h historypb.History
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		h.Events = append(h.Events, ev)
	}
	return &h
}
