package workflows_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/contract"
)

// What a retried case-file write adds to a history, on the real server (SDK 1.50):
// a retry after a pause longer than the workflow task's timeout (10 s) is a marker,
// a timer (started, fired) and a workflow task (scheduled, started, completed);
// a shorter pause is taken inside the task, which the worker keeps open with a
// heartbeat (a workflow task: 3 events) every 8 s. The test environment turns
// every retry into a timer; this counts the events they stand for.
const (
	workflowTaskTimeout  = 10 * time.Second
	eventsPerTimedRetry  = 6
	eventsPerHeartbeat   = 3
	heartbeatEvery       = 8 * time.Second
	writeAttemptAtMost   = 5 * time.Second // version 5's StartToCloseTimeout
	maxExtraEventsPerDay = 1000
)

// historyEventsOfRetries counts the events the case-file writes started at starts
// (in order) add to the history: each retry by its pause before it.
func historyEventsOfRetries(starts []time.Time) int {
	events := 0
	var held time.Duration // a task kept open by retries inside it
	for i := 1; i < len(starts); i++ {
		pause := starts[i].Sub(starts[i-1])
		if pause > workflowTaskTimeout {
			events += eventsPerTimedRetry
			events += int(held/heartbeatEvery) * eventsPerHeartbeat
			held = 0
			continue
		}
		held += pause + writeAttemptAtMost // each attempt may take its whole timeout
	}
	return events + int(held/heartbeatEvery)*eventsPerHeartbeat
}

// Ten days without the database: the case file's write retries, with at most
// 1,000 history events a day, and when the database is back the case goes on
// where it was (the counselling recorded while it was down is answered then).
func TestATenDayDatabaseOutageCostsAtMostAThousandEventsADay(t *testing.T) {
	const outage = 10 * day
	downFrom, downTo := start.Add(time.Hour), start.Add(time.Hour+outage)
	c := newCase(t).
		at(2*time.Hour, counselling("confirmed")).
		at(outage+2*time.Hour, func(c *caseTest) {
			st := c.state()
			require.Equal(c.t, contract.StageScreening, st.Stage, "the case went on where it was")
		}).
		at(outage+3*time.Hour, withdraw("withdrawn"))
	c.p.writeFails = func(contract.Changes) bool {
		now := c.now()
		return !now.Before(downFrom) && now.Before(downTo)
	}
	st := c.run()
	require.Equal(t, contract.StatusClosed, st.Status)
	require.Empty(t, c.refusal("counselling"), "answered once the database took it")
	require.True(t, c.accepted["counselling"])

	perDay := make([][]time.Time, 10)
	for _, at := range c.writes {
		if at.Before(downFrom) || !at.Before(downTo) {
			continue
		}
		d := int(at.Sub(downFrom) / day)
		perDay[d] = append(perDay[d], at)
	}
	total := 0
	for d, starts := range perDay {
		events := historyEventsOfRetries(starts)
		total += events
		t.Logf("day %2d without the database: %3d write attempts, %4d history events", d+1, len(starts), events)
		require.LessOrEqual(t, events, maxExtraEventsPerDay, "day %d", d+1)
		require.NotEmpty(t, starts, "day %d: the write kept being tried", d+1)
	}
	t.Logf("ten days: %d events (a history may hold 51,200)", total)
	require.Less(t, total, 10*maxExtraEventsPerDay)
	c.p.requireWrittenOncePerTask(t, st)
}

// Ten days without a partner: its call retries on the server's side (an activity's
// attempts add no event until it ends), the case waits on the system meanwhile,
// and goes on when the partner is back.
func TestATenDayPartnerOutageLeavesTheHistoryAlone(t *testing.T) {
	const outage = 10 * day
	var downTo time.Time
	c := newCase(t).
		at(time.Hour, counselling("confirmed")).
		at(2*time.Hour, screening("low")).
		at(3*time.Hour, func(c *caseTest) {
			require.Equal(c.t, contract.WaitingSystem, c.state().WaitingOn, "managers see the failing partner")
		}).
		at(outage+3*time.Hour, func(c *caseTest) {
			st := c.state()
			require.Equal(c.t, contract.StageMedicalClearance, st.Stage, "eligibility confirmed once the partner was back")
		}).
		at(outage+4*time.Hour, withdraw("withdrawn"))
	c.p.down = func(name string) bool { return name == "ConfirmEligibility" && c.now().Before(downTo) }
	downTo = start.Add(2*time.Hour + outage)
	st := c.run()
	require.Equal(t, contract.StatusClosed, st.Status)
	require.Greater(t, c.p.count("ConfirmEligibility"), 10*24*30, "retried throughout, about once a minute")
	require.Len(t, c.timers, 1)
	// The stages' SLA timers and the overdue screening's notifications, nothing per retry.
	require.Less(t, c.timers[0].started, 10)
}
