package worker

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// evictions tells the server when a case's workflow leaves this process's sticky
// cache (ResetStickyTaskQueue), so that its next workflow task goes to the task
// queue with the whole history, instead of to this worker with only the new events.
//
// Why: a person's action is an update, and an update to a workflow with no task
// pending runs in a speculative workflow task that the server does not persist.
// Sent to the sticky queue of a worker that has evicted the workflow, that task
// fails: the SDK fetches the history to replay it, the history stops short of the
// speculative task's events ("premature end of stream", temporalio/temporal#7741,
// server 1.29), and the server then schedules the task again on the normal queue:
// three more events and one more round trip, which make the evicted case's step
// about 2x a cached one's (docs/benchmarks.md, issue 19 part 4).
//
// Its limit: server 1.29 clears the stickiness in the workflow's cached mutable
// state only (the reset is a no-op transaction, not persisted). A case whose
// mutable state leaves the server's cache (the dev server keeps 8,096, a server
// 128,000 per host for at most an hour) comes back sticky, and its next action
// fails a task as before. So this helps a case acted on again soon after its
// eviction (a busy worker, a person working through a case), not one acted on
// days later: that needs the server's fix (or the SDK to keep the speculative
// events it was sent).
//
// How it sees an eviction: the SDK destroys an evicted workflow's coroutines
// with runtime.Goexit, which runs their deferred calls; the workflow's root call
// through this interceptor has then not returned. It only queues the run for the
// releasers (no command, nothing the history sees, so replays are unaffected);
// they make the call outside the workflow, best effort: a reset that is lost
// costs only the failed task it would have saved.
type evictions struct {
	interceptor.WorkerInterceptorBase
	reset atomic.Int64 // resets the server took

	mu      sync.Mutex
	runs    map[string]*cachedRun // by run ID: the runs in the cache, and those evicted and not yet released
	pending []evicted             // evicted runs to release, oldest first
	wake    chan struct{}         // something is pending
}

// cachedRun is a workflow run's latest life in the cache: its generation
// (a replay after an eviction is a new one) and whether it is alive.
type cachedRun struct {
	generation int
	alive      bool
}

type evicted struct {
	reset      *workflowservice.ResetStickyTaskQueueRequest
	generation int
}

// releasers is how many resets are sent at a time: a worker evicts a run for
// every run it takes into a full cache, and under load a reset waits its turn
// at the server like any write; the queue of evicted runs waits meanwhile (a
// hundred bytes a run), and is never dropped: a run released late costs nothing,
// a run not released costs its next action a failed task.
const releasers = 4

func newEvictions() *evictions {
	return &evictions{runs: map[string]*cachedRun{}, wake: make(chan struct{}, 1)}
}

func (e *evictions) InterceptWorkflow(ctx workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	i := &evictionsInbound{e: e}
	i.Next = next
	return i
}

type evictionsInbound struct {
	interceptor.WorkflowInboundInterceptorBase
	e *evictions
}

func (i *evictionsInbound) ExecuteWorkflow(ctx workflow.Context, in *interceptor.ExecuteWorkflowInput) (any, error) {
	info := workflow.GetInfo(ctx)
	runID := info.WorkflowExecution.RunID
	generation := i.e.started(runID)
	returned := false
	defer func() {
		if returned {
			i.e.ended(runID)
			return
		}
		// Destroyed: evicted from the cache, or the worker stopped.
		i.e.destroyed(runID, evicted{generation: generation, reset: &workflowservice.ResetStickyTaskQueueRequest{Namespace: info.Namespace,
			Execution: &commonpb.WorkflowExecution{WorkflowId: info.WorkflowExecution.ID, RunId: runID}}})
	}()
	r, err := i.Next.ExecuteWorkflow(ctx, in)
	returned = true
	return r, err
}

// started notes a run's new life in the cache (its first task, or a replay).
func (e *evictions) started(runID string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.runs[runID]
	if r == nil {
		r = &cachedRun{}
		e.runs[runID] = r
	}
	r.generation++
	r.alive = true
	return r.generation
}

// ended forgets a run that returned (completed, failed, continued as new).
func (e *evictions) ended(runID string) {
	e.mu.Lock()
	delete(e.runs, runID)
	e.mu.Unlock()
}

// destroyed queues the release of a run's life that the SDK destroyed. The
// queue is outside the workflow's state: nothing is recorded, a replay is unaffected.
func (e *evictions) destroyed(runID string, ev evicted) {
	e.mu.Lock()
	if r := e.runs[runID]; r != nil && r.generation == ev.generation {
		r.alive = false
	}
	e.pending = append(e.pending, ev)
	e.mu.Unlock()
	e.signal()
}

func (e *evictions) signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// next takes the oldest pending eviction that is still the run's latest news:
// a run that came back into the cache meanwhile is not released (its next task
// would then bring the whole history, and the SDK would replay the cached run
// from scratch).
func (e *evictions) next() (evicted, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for len(e.pending) > 0 {
		ev := e.pending[0]
		e.pending = e.pending[1:]
		r := e.runs[ev.reset.Execution.RunId]
		if r != nil && !r.alive && r.generation == ev.generation {
			delete(e.runs, ev.reset.Execution.RunId)
			if len(e.pending) > 0 {
				e.signal() // another releaser may take the next
			}
			return ev, true
		}
		skipped.Add(1)
	}
	return evicted{}, false
}

// release sends the pending resets until ctx ends.
func (e *evictions) release(ctx context.Context, c client.Client) {
	for {
		ev, ok := e.next()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-e.wake:
			}
			continue
		}
		call, cancel := context.WithTimeout(ctx, 10*time.Second)
		// A workflow that has completed meanwhile answers NotFound; any error only
		// leaves the case's next task on the sticky queue, as without the reset.
		if _, err := c.WorkflowService().ResetStickyTaskQueue(call, ev.reset); err == nil {
			e.reset.Add(1)
			released.Add(1)
		} else {
			failed.Add(1)
		}
		cancel()
	}
}

// The process's evictions so far (all its workers): released to the task queue,
// skipped (back in the cache before their turn), failed (the server refused or
// did not answer).
var released, skipped, failed atomic.Int64

// EvictionStats are the process's evictions so far, for the benchmark.
type EvictionStats struct{ Released, Skipped, Failed int64 }

// Evictions says what the process's workers did with the runs evicted so far.
func Evictions() EvictionStats {
	return EvictionStats{released.Load(), skipped.Load(), failed.Load()}
}

// releasingWorker runs the releaser beside the SDK's worker.
type releasingWorker struct {
	worker.Worker
	client    client.Client
	evictions *evictions
	mu        sync.Mutex
	stop      context.CancelFunc
	done      sync.WaitGroup
}

func (w *releasingWorker) Start() error {
	if err := w.Worker.Start(); err != nil {
		return err
	}
	w.startReleaser()
	return nil
}

func (w *releasingWorker) Run(interruptCh <-chan any) error {
	w.startReleaser()
	defer w.stopReleaser()
	return w.Worker.Run(interruptCh)
}

func (w *releasingWorker) Stop() {
	w.Worker.Stop()
	w.stopReleaser()
}

func (w *releasingWorker) startReleaser() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stop != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.stop = cancel
	for range releasers {
		w.done.Go(func() { w.evictions.release(ctx, w.client) })
	}
}

func (w *releasingWorker) stopReleaser() {
	w.mu.Lock()
	stop := w.stop
	w.stop = nil
	w.mu.Unlock()
	if stop != nil {
		stop()
		w.done.Wait()
	}
}
