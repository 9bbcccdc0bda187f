// Package worker connects to Temporal and runs the case workflows and their
// activities on Homeward's task queue.
package worker

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/homeward/homeward/activities"
	"github.com/homeward/homeward/config"
	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/workflows"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// Dial connects a Temporal client. Its logger is the application's, so the SDK's
// lines follow the same rules (no personal data: the SDK logs IDs and types only).
func Dial(ctx context.Context, cfg config.Temporal, logger *slog.Logger) (client.Client, error) {
	c, err := client.DialContext(ctx, client.Options{
		HostPort:  cfg.Address,
		Namespace: cfg.Namespace,
		Logger:    tlog.NewStructuredLogger(logger.With("component", "temporal")),
	})
	if err != nil {
		return nil, fmt.Errorf("temporal at %s: %w", cfg.Address, err)
	}
	return c, nil
}

// New builds a worker for the case task queue with the workflow and activities
// registered. Pollers scale with the load the server reports.
func New(c client.Client, taskQueue string, acts *activities.Activities) worker.Worker {
	w := worker.New(c, taskQueue, worker.Options{
		WorkflowTaskPollerBehavior: worker.NewPollerBehaviorAutoscaling(worker.PollerBehaviorAutoscalingOptions{}),
		ActivityTaskPollerBehavior: worker.NewPollerBehaviorAutoscaling(worker.PollerBehaviorAutoscalingOptions{}),
	})
	RegisterWorkflows(w)
	w.RegisterActivity(acts)
	return w
}

// RegisterWorkflows registers Homeward's workflow on a worker or a replayer.
func RegisterWorkflows(r worker.WorkflowRegistry) {
	r.RegisterWorkflowWithOptions(workflows.ReturnCase, workflow.RegisterOptions{Name: contract.WorkflowType})
}

// Run runs the worker until ctx is done, then stops it gracefully.
func Run(ctx context.Context, w worker.Worker) error {
	if err := w.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	w.Stop()
	return nil
}
