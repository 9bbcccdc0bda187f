package workflows_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/worker"
)

// TestReplayStoredHistories runs every history recorded from the dev server (one
// per major path of a case, see e2e/histories_test.go) through the current
// workflow code. Each directory holds the cases of one version of the workflow
// (v0: before any workflow.GetVersion); they stay, since cases of every version
// may be in flight. A change that would break them fails here: guard it with
// workflow.GetVersion (versions.go) and record the new version's histories with
// `make histories VERSION=vN`.
func TestReplayStoredHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "histories", "*", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no stored histories: record them with make histories")
	for _, f := range files {
		t.Run(filepath.Base(filepath.Dir(f))+"/"+filepath.Base(f), func(t *testing.T) {
			r := sdkworker.NewWorkflowReplayer()
			worker.RegisterWorkflows(r)
			require.NoError(t, r.ReplayWorkflowHistoryFromJSONFile(nil, f))
		})
	}
}

// The replay test catches an incompatible change: here, a "new version" of the
// workflow that schedules its steps in another order.
func TestReplayDetectsAnIncompatibleChange(t *testing.T) {
	r := sdkworker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(func(ctx workflow.Context, in contract.CaseInput) error {
		return workflow.Sleep(ctx, time.Hour) // not what the recorded history did
	}, workflow.RegisterOptions{Name: contract.WorkflowType})
	err := r.ReplayWorkflowHistoryFromJSONFile(nil, filepath.Join("testdata", "histories", "v0", "completed-run1.json"))
	require.Error(t, err)
	require.Contains(t, err.Error(), "TMPRL1100", "a non-determinism error")
}
