package e2e

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/simulator"
)

// With a third of all partner calls failing (503, before any effect), cases still
// run to completion, and the partners' counts show no effect doubled: one payment
// per item, one booking per flight.
func TestCasesCompleteWhileAThirdOfPartnerCallsFail(t *testing.T) {
	cfg := testConfig(t, "sqlite")
	h := start(t, cfg)
	require.NoError(t, h.s.Simulator.SetFault("*", simulator.Fault{FailureRate: 0.33, Mode: simulator.ModeUnavailable}))

	const cases = 4
	ids := make([]string, cases)
	for i := range ids {
		ids[i] = h.register()
	}
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() {
			h.standardPlanDelivered(id)
			h.visitAll(id)
		})
	}
	wg.Wait()
	for _, id := range ids {
		c := h.waitCase(id, "closure", stageIs("Closed"))
		require.Equal(t, "completed", c["closure_reason"])
	}

	counts := h.s.Simulator.Counts()
	t.Logf("partner calls %v, failures injected %v", counts.Calls, counts.FailuresInjected)
	require.NotZero(t, counts.FailuresInjected["finance"]+counts.FailuresInjected["travel"]+counts.FailuresInjected["registry"],
		"failures were injected")
	require.Equal(t, 2*cases, counts.Payments)
	for item, n := range counts.PaymentsByItem {
		require.Equal(t, 1, n, "item %s paid once", item)
	}
	for id, b := range counts.BookingsByCase {
		require.Equal(t, 1, b.Held, id)
		require.Equal(t, 1, b.Ticketed, id)
		require.Zero(t, b.Cancelled, id)
	}
}

// A partner that hangs past the timeout is retried like one that fails; the case
// is flagged as waiting on the system meanwhile, and goes on when it answers.
func TestAHangingPartnerFlagsTheCaseAndItHeals(t *testing.T) {
	cfg := testConfig(t, "sqlite")
	cfg.Services.Timeout = 300 * time.Millisecond
	cfg.Rules.SystemStuckAfterAttempts = 2
	h := start(t, cfg)
	id := h.register()
	h.counsel(id, "confirmed")
	require.NoError(t, h.s.Simulator.SetFault("receiving", simulator.Fault{FailureRate: 1, Mode: simulator.ModeHang}))
	h.screen(id, "low")
	c := h.waitCase(id, "the system flag", func(c map[string]any) bool { return c["waiting_on"] == "system" })
	require.Equal(t, "Screening", c["stage"])
	stuck := h.call("GET", "/api/v1/stuck", "dev-manager", nil).JSON(t)["items"].([]any)
	require.Len(t, stuck, 1)
	require.Equal(t, "system", stuck[0].(map[string]any)["reason"])

	require.NoError(t, h.s.Simulator.SetFault("receiving", simulator.Fault{}))
	c = h.waitCase(id, "medical clearance after the partner answered", stageIs("MedicalClearance"))
	require.Equal(t, "medical_provider", c["waiting_on"])
	require.Equal(t, 1, h.s.Simulator.Counts().EligibilityChecks, "the answered call had one effect")
}

// A partner's refusal (422) is not retried at once: the case says why it is blocked.
func TestARefusingPartnerBlocksTheCaseWithItsReason(t *testing.T) {
	h := start(t, testConfig(t, "sqlite"))
	id := h.register()
	h.counsel(id, "confirmed")
	require.NoError(t, h.s.Simulator.SetFault("receiving", simulator.Fault{FailureRate: 1, Mode: simulator.ModeReject}))
	h.screen(id, "low")
	c := h.waitCase(id, "the block", func(c map[string]any) bool { return c["blocked"] != nil && c["blocked"] != "" })
	require.Contains(t, c["blocked"], "receiving")
	require.Equal(t, "system", c["waiting_on"])
	require.Equal(t, 1, h.s.Simulator.Counts().Calls["receiving"], "no retry of a refusal")
	stuck := h.call("GET", "/api/v1/stuck", "dev-manager", nil).JSON(t)["items"].([]any)
	require.Equal(t, "blocked", stuck[0].(map[string]any)["reason"])
}
