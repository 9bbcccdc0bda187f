package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/simulator"
	"github.com/homeward/homeward/stack"
	"github.com/homeward/homeward/workflows"
)

// found lists the workflow IDs a visibility query finds among this test's cases.
func (h *homeward) found(query string) []string {
	h.t.Helper()
	q := fmt.Sprintf("TaskQueue = %q AND %s", h.s.Config.Temporal.TaskQueue, query)
	res, err := temporalClient().ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Query: q})
	require.NoError(h.t, err, q)
	var ids []string
	for _, e := range res.Executions {
		ids = append(ids, e.Execution.WorkflowId)
	}
	return ids
}

func (h *homeward) eventuallyFound(query, caseID string) {
	h.t.Helper()
	h.eventually("the query "+query+" to find the case", 20*time.Second, func() bool {
		for _, id := range h.found(query) {
			if id == contract.WorkflowID(caseID) {
				return true
			}
		}
		return false
	})
}

// Each saved query of the README finds the case in the situation it is for, with
// the Temporal client, exactly as written.
func TestTheManagersSavedQueriesFindStuckCases(t *testing.T) {
	cfg := testConfig(t, "sqlite")
	cfg.Rules.SLA.Counselling = time.Second
	cfg.Rules.SystemStuckAfterAttempts = 2
	h := start(t, cfg)

	overdue := h.register() // vulnerable (health needs), received by GN-CKY; nobody counsels it
	h.eventuallyFound(workflows.QueryOverdue, overdue)
	h.eventuallyFound(workflows.QueryOverdueVulnerable("GN-CKY"), overdue)
	require.Empty(t, h.found(workflows.QueryOverdueVulnerable("SN-DKR")), "another office's query does not find it")
	c := h.waitCase(overdue, "the overdue mark", func(c map[string]any) bool { return c["overdue"] == true })
	require.Equal(t, "Counselling", c["stage"])
	h.eventually("the supervisor and the sending office to be told", 10*time.Second, func() bool {
		return h.s.Simulator.Counts().Notifications["overdue"] == 2
	})

	// Counselling clears the mark.
	h.accept("POST", "/api/v1/cases/"+overdue+"/counselling", "dev-caseworker", map[string]any{"outcome": "confirmed", "held_at": now()})
	h.eventually("the overdue mark to clear", 20*time.Second, func() bool { return len(h.found(workflows.QueryOverdue)) == 0 })

	// A case at plan approval waits on approvers.
	approval := h.register()
	h.counsel(approval, "confirmed")
	h.screen(approval, "low")
	h.depart(approval)
	h.submitPlan(approval, cost("cash", "300.00"))
	h.eventuallyFound(workflows.QueryWaitingOnApprovers(0, time.Now().Add(time.Minute)), approval)
	require.NotContains(t, h.found(workflows.QueryWaitingOnApprovers(2, time.Now())), contract.WorkflowID(approval),
		"it has not waited two days")

	// A partner that keeps failing flags the case as waiting on the system.
	require.NoError(t, h.s.Simulator.SetFault("travel", simulator.Fault{FailureRate: 1}))
	failing := h.register()
	h.counsel(failing, "confirmed")
	h.screen(failing, "low")
	h.eventuallyFound(workflows.QueryFailingCalls, failing)
	stuck := h.call("GET", "/api/v1/stuck", "dev-manager", nil).JSON(t)["items"].([]any)
	reasons := map[string]string{}
	for _, s := range stuck {
		s := s.(map[string]any)
		reasons[s["case"].(map[string]any)["id"].(string)] = s["reason"].(string)
		require.Contains(t, s["ui_url"], "/workflows/case-")
	}
	require.Equal(t, "system", reasons[failing])
}

// A workflow task that keeps failing (here, a bug that panics) cannot mark its
// own case; /stuck finds it by asking Temporal about quiet cases.
func TestStuckFindsAWorkflowWhoseTaskKeepsFailing(t *testing.T) {
	cfg := testConfig(t, "sqlite")
	cfg.Temporal.TaskProbeAfter = 0
	// /stuck reads the probe's last answer, asked again in the background when older than this.
	cfg.Temporal.TaskProbeEvery = 100 * time.Millisecond
	s := startWith(t, stack.Options{Config: cfg, Temporal: temporalClient(), NoWorker: true})
	broken := sdkworker.New(s.s.Temporal, cfg.Temporal.TaskQueue, sdkworker.Options{}) // same keys: it decodes, then panics
	broken.RegisterWorkflowWithOptions(func(workflow.Context, contract.CaseInput) error { panic("a bug in the new deploy") },
		workflow.RegisterOptions{Name: contract.WorkflowType})
	require.NoError(t, broken.Start())
	t.Cleanup(broken.Stop)

	id := s.register()
	s.eventually("/stuck to report the failing workflow task", 30*time.Second, func() bool {
		for _, it := range s.call("GET", "/api/v1/stuck", "dev-manager", nil).JSON(t)["items"].([]any) {
			it := it.(map[string]any)
			if it["case"].(map[string]any)["id"] == id && it["reason"] == "workflow_task_failing" {
				return true
			}
		}
		return false
	})
}
