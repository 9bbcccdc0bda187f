package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/simulator"
)

// A withdrawal that comes while a partner call is under way: the case waits for
// the call's answer, so the compensation knows what the partner did. Each partner
// below is slow (its calls take a second), and the withdrawal is sent once the
// partner has the request in hand: it will act on it whatever Homeward does next.
func TestWithdrawalWhileAPartnerCallIsUnderWay(t *testing.T) {
	slow := simulator.Fault{Latency: time.Second}

	// toSlowTravel takes a case to the travel agency, which answers in a second.
	toSlowTravel := func(t *testing.T) (*homeward, string) {
		h := start(t, testConfig(t, "sqlite"))
		id := h.register()
		h.counsel(id, "confirmed")
		require.NoError(t, h.s.Simulator.SetFault("travel", slow))
		h.screen(id, "low")
		return h, id
	}

	t.Run("the flight hold is released", func(t *testing.T) {
		h, id := toSlowTravel(t)
		h.whenPartnerHas(id, "travel", 1) // the hold request
		c := h.withdraw(id)

		require.Equal(t, "withdrawn", c["closure_reason"])
		b := h.s.Simulator.Counts().BookingsByCase[id]
		require.Equal(t, 1, b.Held, "the hold was made while the withdrawal came in")
		require.Equal(t, 1, b.Cancelled, "and released by the compensation")
		require.Equal(t, "cancelled", c["travel"].(map[string]any)["booking_status"])
	})

	t.Run("a flight ticketed meanwhile is refunded, without blocking the case", func(t *testing.T) {
		h, id := toSlowTravel(t)
		h.whenPartnerHas(id, "travel", 2) // the hold, then the ticket (fit: no escort)
		c := h.withdraw(id)

		require.Equal(t, "withdrawn", c["closure_reason"])
		require.Empty(t, c["blocked"])
		b := h.s.Simulator.Counts().BookingsByCase[id]
		require.Equal(t, 1, b.Ticketed)
		require.Zero(t, b.Cancelled, "a ticket is not cancelled as a hold is")
		require.Equal(t, 1, b.Refunded, "it is refunded (workflow version 7)")
		require.Equal(t, "refunded", c["travel"].(map[string]any)["booking_status"])
	})

	t.Run("a payment made meanwhile is shown paid, and made once", func(t *testing.T) {
		h := start(t, testConfig(t, "sqlite"))
		id := h.register()
		h.counsel(id, "confirmed")
		h.screen(id, "low")
		h.depart(id)
		require.NoError(t, h.s.Simulator.SetFault("finance", slow))
		h.submitPlan(id, cost("cash", "400.00"))
		h.decide(id, "dev-approver-gn", "approve")
		h.whenPartnerHas(id, "finance", 1)
		c := h.withdraw(id)

		require.Equal(t, "withdrawn", c["closure_reason"])
		require.Equal(t, 1, h.s.Simulator.Counts().Payments)
		items := list(c["procurement"])
		require.Len(t, items, 1)
		require.Equal(t, "paid", items[0]["status"], "the payment the partner made is on the case")
	})
}

// whenPartnerHas waits until a partner service has received n calls (the last may
// still be in its latency, not yet acted on).
func (h *homeward) whenPartnerHas(id, service string, n int) {
	h.t.Helper()
	h.eventually(fmt.Sprintf("%d calls to %s for %s", n, service, id), time.Minute, func() bool {
		return h.s.Simulator.Counts().Calls[service] >= n
	})
}

// withdraw withdraws a case and returns it closed: the answer comes after the compensation.
func (h *homeward) withdraw(id string) map[string]any {
	h.t.Helper()
	h.accept("POST", "/api/v1/cases/"+id+"/withdrawal", "dev-caseworker", map[string]any{"reason": "withdrawn"})
	return h.waitCase(id, "closure", stageIs("Closed"))
}

// A withdrawal sent the moment a case is registered can reach the workflow with
// its first task, before its process has started: it closes the case all the
// same (it once found the process not yet there, and the task failed until the
// request timed out).
func TestAWithdrawalRightAfterTheRegistration(t *testing.T) {
	h := start(t, testConfig(t, "sqlite"))
	var ids []string
	for range 8 {
		id := h.register()
		h.accept("POST", "/api/v1/cases/"+id+"/withdrawal", "dev-caseworker", map[string]any{"reason": "withdrawn"})
		ids = append(ids, id)
	}
	for _, id := range ids {
		c := h.waitCase(id, "closure", stageIs("Closed"))
		require.Equal(t, "withdrawn", c["closure_reason"])
	}
}
