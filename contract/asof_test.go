package contract_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/contract"
)

// A visit published as opening at its due date is due, and its action open, only
// once that date has passed; other actions are as published.
func TestAsOfOpensWhatWasPublishedToOpenLater(t *testing.T) {
	due := time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)
	st := contract.CaseState{Status: contract.StatusActive,
		Monitoring: []contract.VisitState{{Visit: 1, DueAt: due, Status: contract.VisitScheduled}, {Visit: 2, DueAt: due.AddDate(0, 3, 0), Status: contract.VisitScheduled}},
		Actions: []contract.OpenAction{{Name: contract.UpdateWithdrawal, Roles: []contract.Role{contract.RoleCaseworker}},
			{Name: contract.UpdateVisit, Target: "1", Roles: []contract.Role{contract.RoleCaseworker}, From: &due}}}

	before := st.AsOf(due.Add(-time.Minute))
	require.False(t, before.Open(contract.UpdateVisit, "1", contract.RoleCaseworker))
	require.True(t, before.Open(contract.UpdateWithdrawal, "", contract.RoleCaseworker))
	require.Equal(t, contract.VisitScheduled, before.Monitoring[0].Status)

	after := st.AsOf(due.Add(time.Minute))
	require.True(t, after.Open(contract.UpdateVisit, "1", contract.RoleCaseworker))
	require.Nil(t, after.Actions[1].From)
	require.Equal(t, []contract.VisitStatus{contract.VisitDue, contract.VisitScheduled}, []contract.VisitStatus{after.Monitoring[0].Status, after.Monitoring[1].Status})
	require.Equal(t, contract.VisitScheduled, st.Monitoring[0].Status, "the state itself is left as it was")
}
