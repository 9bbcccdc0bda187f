// Package worker connects to Temporal and runs the case workflows and their
// activities on Homeward's task queue.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/homeward/homeward/activities"
	"github.com/homeward/homeward/codec"
	"github.com/homeward/homeward/config"
	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/workflows"
)

// ClientOptions are the options of every Temporal client of Homeward's: the
// namespace and address, no gRPC compression (codec.Connection), the
// application's logger, so the SDK's lines follow the same rules (no personal
// data: the SDK logs IDs and types only), and converters that encrypt every
// payload with the ring (none with a nil ring: only to record the replay tests'
// histories in clear). The SDK reports its metrics to metrics (Metrics.SDK), or
// nowhere when nil.
func ClientOptions(cfg config.Temporal, logger *slog.Logger, ring *codec.KeyRing, metrics client.MetricsHandler) client.Options {
	o := client.Options{
		HostPort:          cfg.Address,
		Namespace:         cfg.Namespace,
		ConnectionOptions: codec.Connection(),
		Logger:            tlog.NewStructuredLogger(logger.With("component", "temporal")),
		MetricsHandler:    metrics,
	}
	if ring != nil {
		o.DataConverter, o.FailureConverter = codec.ClientOptions(ring)
	}
	return o
}

// Dial connects a Temporal client with ClientOptions.
func Dial(ctx context.Context, cfg config.Temporal, logger *slog.Logger, ring *codec.KeyRing, metrics client.MetricsHandler) (client.Client, error) {
	c, err := client.DialContext(ctx, ClientOptions(cfg, logger, ring, metrics))
	if err != nil {
		return nil, fmt.Errorf("temporal at %s: %w", cfg.Address, err)
	}
	return c, nil
}

// New builds a worker for the case task queue with the workflow and activities
// registered. Pollers scale with the load the server reports. With a ring (the client's, whose
// codec already refuses payloads Homeward did not encrypt), the worker also drops signals that the
// ring did not encrypt before the workflow sees them (foreignSignals); nil only for recording the
// replay histories in clear. A workflow evicted from the process's sticky cache is
// released to the task queue at once (evictions).
func New(c client.Client, taskQueue string, acts *activities.Activities, ring *codec.KeyRing) worker.Worker {
	o := worker.Options{
		WorkflowTaskPollerBehavior: worker.NewPollerBehaviorAutoscaling(worker.PollerBehaviorAutoscalingOptions{}),
		ActivityTaskPollerBehavior: worker.NewPollerBehaviorAutoscaling(worker.PollerBehaviorAutoscalingOptions{}),
	}
	var ev *evictions
	if stickyCacheSize.Load() != 0 { // with no cache, every task brings the whole history anyway
		ev = newEvictions()
		o.Interceptors = append(o.Interceptors, ev)
	}
	if ring != nil {
		o.Interceptors = append(o.Interceptors, &foreignSignals{codec: codec.NewCodec(ring)})
	}
	w := worker.New(c, taskQueue, o)
	RegisterWorkflows(w)
	w.RegisterActivity(acts)
	if ev == nil {
		return w
	}
	return &releasingWorker{Worker: w, client: c, evictions: ev}
}

// UseStickyCache sizes the process's sticky workflow cache (temporal.sticky_cache_size),
// which all its workers share. It takes effect only before the process's first
// worker starts (the SDK builds the cache then), so main calls it first.
//
// Why a bound and not "every open case": a case waits days or months between its
// steps, and a programme keeps about a year's caseload open (130,000 cases), so
// caching them all would cost about 100 KiB each (13 GB) to save a replay that
// costs a case about as much again as the task it precedes (docs/benchmarks.md,
// part 4). The cache only has to hold the cases in the middle of a step (an
// update, its case-file write, a partner's answer, within seconds), a few hundred
// at this engine's peak, so 2,000 leaves room and bounds the worker's memory.
func UseStickyCache(size int) {
	stickyCacheSize.Store(int64(size))
	worker.SetStickyWorkflowCacheSize(size)
}

// stickyCacheSize is the size UseStickyCache set; -1: the SDK's default.
var stickyCacheSize atomic.Int64

func init() { stickyCacheSize.Store(-1) }

// RegisterWorkflows registers Homeward's workflows on a worker or a replayer.
func RegisterWorkflows(r worker.WorkflowRegistry) {
	r.RegisterWorkflowWithOptions(workflows.ReturnCase, workflow.RegisterOptions{Name: contract.WorkflowType})
	r.RegisterWorkflowWithOptions(workflows.AnonymiseClosedCases, workflow.RegisterOptions{Name: workflows.RetentionWorkflowType})
}

// RetentionScheduleID names the schedule that anonymises closed cases.
func RetentionScheduleID(taskQueue string) string { return "homeward-retention-" + taskQueue }

// EnsureRetentionSchedule creates the retention schedule unless it exists: every
// worker may call it at start, the first one creates it.
func EnsureRetentionSchedule(ctx context.Context, c client.Client, taskQueue string, r config.Retention) error {
	id := RetentionScheduleID(taskQueue)
	_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:      id,
		Spec:    client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: r.Every}}},
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		Action: &client.ScheduleWorkflowAction{ID: id, Workflow: workflows.RetentionWorkflowType, TaskQueue: taskQueue,
			Args: []any{workflows.RetentionInput{After: r.After}}},
	})
	if errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return nil
	}
	return err
}
