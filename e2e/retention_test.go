package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/homeward/homeward/worker"
)

// Closed cases lose their personal data after the retention period, by the
// retention schedule; the statistics still count them, and the audit trail
// records that it happened, without personal data.
func TestTheRetentionScheduleAnonymisesClosedCases(t *testing.T) {
	cfg := testConfig(t, "sqlite")
	cfg.Retention.After = time.Millisecond
	h := start(t, cfg)
	closed := h.register()
	h.counsel(closed, "withdrawn")
	h.waitCase(closed, "closure", stageIs("Closed"))
	open := h.register()

	schedule := temporalClient().ScheduleClient().GetHandle(context.Background(), worker.RetentionScheduleID(cfg.Temporal.TaskQueue))
	require.NoError(t, schedule.Trigger(context.Background(), client.ScheduleTriggerOptions{}))
	c := h.waitCase(closed, "anonymisation", func(c map[string]any) bool {
		return c["beneficiary"].(map[string]any)["anonymised"] == true
	})
	require.Empty(t, c["household"])
	require.Empty(t, c["vulnerabilities"])
	require.Equal(t, "withdrawn", c["closure_reason"], "what the statistics count stays")
	require.Equal(t, "GN", c["country_of_return"])

	o := h.call("GET", "/api/v1/cases/"+open, "dev-manager", nil).JSON(t)
	require.Equal(t, "Aminata", o["beneficiary"].(map[string]any)["given_name"], "an open case keeps its data")

	month := time.Now().UTC().Format("2006-01")
	activity := h.call("GET", "/api/v1/reports/monthly?month="+month, "dev-manager", nil).JSON(t)["activity"].([]any)
	closedRow := activity[0].(map[string]any)
	require.Equal(t, "total", closedRow["by"])
	require.Equal(t, float64(1), closedRow["closed"])

	var anonymised bool
	for _, e := range h.call("GET", "/api/v1/cases/"+closed+"/audit", "dev-manager", nil).JSON(t)["items"].([]any) {
		e := e.(map[string]any)
		if e["action"] == "anonymise" {
			anonymised = true
			require.Equal(t, "homeward-retention", e["actor"].(map[string]any)["user"])
			require.Equal(t, "personal_data", e["part"])
		}
	}
	require.True(t, anonymised, "the audit trail records the anonymisation")
}
