package contract_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/contract"
)

// Every free-text field holds at most 4,000 characters (not bytes).
func TestFreeTextIsLimited(t *testing.T) {
	now := time.Now().UTC()
	ok, long := strings.Repeat("é", 4000), strings.Repeat("é", 4001)
	scores := contract.Scores{Economic: 0.5, Social: 0.5, Psychosocial: 0.5}
	require.Empty(t, contract.Counselling{Outcome: "confirmed", HeldAt: now, Notes: ok}.Validate(now))
	require.Equal(t, "notes", contract.Counselling{Outcome: "confirmed", HeldAt: now, Notes: long}.Validate(now)[0].Field)
	require.Empty(t, contract.Clearance{Decision: contract.DecisionCleared, Comment: ok}.Validate(now))
	require.Equal(t, "comment", contract.Clearance{Decision: contract.DecisionCleared, Comment: long}.Validate(now)[0].Field)
	require.Empty(t, contract.PlanDecision{Decision: contract.DecisionReject, Comment: ok}.Validate(now))
	require.Equal(t, "comment", contract.PlanDecision{Decision: contract.DecisionReject, Comment: long}.Validate(now)[0].Field)
	require.Empty(t, contract.Visit{Visit: 1, VisitedAt: now, Scores: scores, Notes: ok}.Validate(now))
	require.Equal(t, "notes", contract.Visit{Visit: 1, VisitedAt: now, Scores: scores, Notes: long}.Validate(now)[0].Field)
	require.Empty(t, contract.Withdrawal{Reason: "withdrawn", Comment: ok}.Validate(now))
	require.Equal(t, "comment", contract.Withdrawal{Reason: "withdrawn", Comment: long}.Validate(now)[0].Field)
}
