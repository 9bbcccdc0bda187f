package workflows

import (
	"fmt"
	"time"
)

// The saved visibility queries managers use in the Temporal UI. README lists
// them as written here, and the e2e tests find cases with exactly these.
//
// Each ends in ExecutionStatus = "Running": when a case continues as new into
// monitoring, its first run keeps the search attributes it had, and must not count.
const running = ` AND ExecutionStatus = "Running"`

const (
	// QueryOverdue finds every open case past its stage's due date.
	QueryOverdue = `Overdue = true` + running
	// QueryFailingCalls finds cases whose calls to a partner keep failing or are refused.
	QueryFailingCalls = `WaitingOn = "system"` + running
)

// QueryWaitingOnApprovers finds cases that have waited on approvers for more than
// the given number of days.
func QueryWaitingOnApprovers(days int, now time.Time) string {
	return fmt.Sprintf(`WaitingOn = "approver" AND StageEnteredAt < "%s"`,
		now.AddDate(0, 0, -days).UTC().Format(time.RFC3339)) + running
}

// QueryOverdueVulnerable finds overdue cases of vulnerable returnees of one receiving office.
func QueryOverdueVulnerable(receivingOffice string) string {
	return fmt.Sprintf(`Overdue = true AND Vulnerable = true AND ReceivingOffice = "%s"`, receivingOffice) + running
}
