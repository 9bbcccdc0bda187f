package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// RetentionWorkflowType is the registered name of the anonymisation workflow that
// the retention schedule starts.
const RetentionWorkflowType = "AnonymiseClosedCases"

// RetentionInput says how long a closed case keeps its personal data.
type RetentionInput struct {
	After time.Duration `json:"after"`
}

// retentionBatch is how many cases one activity anonymises.
const retentionBatch = 200

// AnonymiseClosedCases removes the personal data of the cases closed longer ago
// than the retention period, in batches, and returns how many it anonymised.
func AnonymiseClosedCases(ctx workflow.Context, in RetentionInput) (int, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		Summary:             "Anonymise closed cases",
		RetryPolicy:         &temporal.RetryPolicy{MaximumInterval: 5 * time.Minute},
	})
	cutoff := workflow.Now(ctx).Add(-in.After)
	total := 0
	for {
		var n int
		if err := workflow.ExecuteActivity(ctx, acts.AnonymiseClosedCases, cutoff, retentionBatch).Get(ctx, &n); err != nil {
			return total, err
		}
		total += n
		if n < retentionBatch {
			return total, nil
		}
	}
}
