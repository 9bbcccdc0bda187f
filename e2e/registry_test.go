package e2e

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/simulator"
)

// The case registry hears of every change of a case through the case file's
// outbox, relayed by the worker: while the registry is down the case goes on (it
// does not wait on it), and once it is back the registry gets every change, each
// once, in the case's order; on each database.
func TestTheRegistryGetsEveryChangeOnceInOrderAcrossAnOutage(t *testing.T) {
	eachDatabase(t, func(t *testing.T, driver string) {
		h := start(t, testConfig(t, driver))
		require.NoError(t, h.s.Simulator.SetFault("registry", simulator.Fault{FailureRate: 1}))
		id := h.registerWithout("vulnerabilities")
		h.counsel(id, "confirmed")
		h.screen(id, "low")
		h.depart(id)
		h.waitCase(id, "planning", stageIs("ReintegrationPlanning"))
		counts := h.s.Simulator.Counts()
		require.Empty(t, counts.RegistryUpdates[id], "the registry was down throughout")
		require.Positive(t, counts.FailuresInjected["registry"], "and was asked")
		rows, err := h.s.Store.RegistryChanges(t.Context(), id)
		require.NoError(t, err)
		require.Len(t, rows, 7, "Intake to ReintegrationPlanning, waiting in the outbox")

		require.NoError(t, h.s.Simulator.SetFault("registry", simulator.Fault{}))
		h.submitPlan(id, cost("cash", "400.00"), cost("in_kind", "900.00"))
		h.decide(id, "dev-approver-gn", "approve")
		h.deliverAll(id, 1)
		h.visitAll(id)
		h.waitCase(id, "closure", stageIs("Closed"))

		want := []string{"Intake", "Counselling", "Screening", "MedicalClearance", "Travel", "Arrival",
			"ReintegrationPlanning", "PlanApproval", "Procurement", "Monitoring", "Closed"}
		h.eventually("the registry to have the closure", 30*time.Second, func() bool {
			return len(h.s.Simulator.Counts().RegistryUpdates[id]) >= len(want)
		})
		updates := h.s.Simulator.Counts().RegistryUpdates[id]
		var stages []string
		last := 0
		for _, u := range updates {
			seq, stage, _ := strings.Cut(u, " ")
			n, err := strconv.Atoi(seq)
			require.NoError(t, err)
			require.Greater(t, n, last, "in the case's order, each once: %v", updates)
			last = n
			stages = append(stages, stage)
		}
		require.Equal(t, want, stages)
		require.Equal(t, "Closed", h.s.Simulator.Counts().RegistryStages[id])
		rows, err = h.s.Store.RegistryChanges(t.Context(), id)
		require.NoError(t, err)
		for _, r := range rows {
			require.NotNil(t, r.SentAt, "seq %d sent", r.Seq)
			require.Empty(t, r.Refused)
		}
		require.Positive(t, rows[0].Attempts, "the first change was tried during the outage")
	})
}
