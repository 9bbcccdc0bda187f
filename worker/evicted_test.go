package worker

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"

	"github.com/homeward/homeward/activities"
	"github.com/homeward/homeward/devserver"
)

// waitForStep waits for one update, as a case waits for a person's action.
func waitForStep(ctx workflow.Context) error {
	done := false
	if err := workflow.SetUpdateHandler(ctx, "step", func(workflow.Context) error { done = true; return nil }); err != nil {
		return err
	}
	return workflow.Await(ctx, func() bool { return done })
}

// An update to a workflow that the worker evicted from its sticky cache runs in
// one workflow task taken from the normal queue, with the whole history: no
// failed task (without the reset, the speculative task went to the sticky queue
// and failed with "premature end of stream").
func TestAnUpdateAfterAnEvictionRunsWithoutAFailedTask(t *testing.T) {
	wd, _ := os.Getwd()
	cli, err := devserver.FindCLI(wd)
	require.NoError(t, err)
	ctx := context.Background()
	dev, err := devserver.Start(ctx, devserver.Options{CLI: cli, Namespace: "default"})
	require.NoError(t, err, "the Temporal CLI is built by make test")
	t.Cleanup(func() { _ = dev.Stop() })
	c := dev.Client()

	// This test's process has no other worker: the cache is built with this size
	// (the SDK keeps one entry fewer than the size).
	UseStickyCache(3)
	queue := "evictions-" + uuid.NewString()
	w := New(c, queue, &activities.Activities{}, nil)
	w.RegisterWorkflowWithOptions(waitForStep, workflow.RegisterOptions{Name: "wait-for-step"})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	released := &w.(*releasingWorker).evictions.reset

	// Four workflows, each past its first task in turn: the first is evicted.
	var ids []string
	for range 4 {
		id := "evictions-" + uuid.NewString()
		_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: queue}, "wait-for-step")
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			d, err := c.DescribeWorkflowExecution(ctx, id, "")
			return err == nil && d.GetWorkflowExecutionInfo().GetHistoryLength() >= 4 // started, its first task completed
		}, 20*time.Second, 10*time.Millisecond)
		ids = append(ids, id)
	}
	require.Eventually(t, func() bool { return released.Load() >= 1 }, 20*time.Second, 10*time.Millisecond,
		"the evicted workflow was released to the task queue")

	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: ids[0], UpdateName: "step",
		WaitForStage: client.WorkflowUpdateStageCompleted})
	require.NoError(t, err)
	require.NoError(t, h.Get(ctx, nil))
	require.NoError(t, c.GetWorkflow(ctx, ids[0], "").Get(ctx, nil))

	var failed, onQueue int
	it := c.GetWorkflowHistory(ctx, ids[0], "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED:
			failed++
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
			if ev.GetWorkflowTaskScheduledEventAttributes().GetTaskQueue().GetName() == queue {
				onQueue++
			}
		}
	}
	require.Zero(t, failed, "no workflow task failed")
	require.Equal(t, 2, onQueue, "the first task and the update's went to the normal queue, not the sticky one")
}
