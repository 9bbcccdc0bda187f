package workflows_test

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/workflows"
)

// The README shows managers the saved queries exactly as the code (and the e2e
// tests) use them.
func TestTheREADMEShowsTheSavedQueries(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	example := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	for _, q := range []string{workflows.QueryOverdue, workflows.QueryFailingCalls,
		workflows.QueryWaitingOnApprovers(7, example), workflows.QueryOverdueVulnerable("GN-CKY")} {
		require.Contains(t, string(readme), "`"+q+"`")
	}
}
