package bench

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/store"
	"github.com/homeward/homeward/workflows"
)

// The bench's own workflows run on their own task queue, in this process, with the
// same worker options as Homeward's worker (poller autoscaling), against the same
// dev server: the bare engine beside Homeward.
const (
	wfBaseline   = "BenchBaseline"
	wfActivities = "BenchActivities"
	wfBare       = "BenchBare"
	wfUpdates    = "BenchUpdateCosts"

	updateStep   = "step"
	updateDecide = "decide"
	signalFact   = "fact"
)

func newBenchWorker(c client.Client, acts *benchActivities) sdkworker.Worker {
	w := sdkworker.New(c, baselineQueue, sdkworker.Options{
		WorkflowTaskPollerBehavior: sdkworker.NewPollerBehaviorAutoscaling(sdkworker.PollerBehaviorAutoscalingOptions{}),
		ActivityTaskPollerBehavior: sdkworker.NewPollerBehaviorAutoscaling(sdkworker.PollerBehaviorAutoscalingOptions{}),
	})
	w.RegisterWorkflowWithOptions(baselineWorkflow, workflow.RegisterOptions{Name: wfBaseline})
	w.RegisterWorkflowWithOptions(activitiesWorkflow, workflow.RegisterOptions{Name: wfActivities})
	w.RegisterWorkflowWithOptions(bareWorkflow, workflow.RegisterOptions{Name: wfBare})
	w.RegisterWorkflowWithOptions(updateCostWorkflow, workflow.RegisterOptions{Name: wfUpdates})
	w.RegisterActivity(acts)
	return w
}

// benchActivities are no-op activities, and the case file's bookkeeping.
type benchActivities struct {
	store *store.Store
	// caseID and state are the scratch case RecordCase writes to.
	caseID string
	state  contract.CaseState
}

// Noop does nothing: the engine's cost of an activity, and nothing else.
func (a *benchActivities) Noop(context.Context) error { return nil }

// Record does what Homeward's RecordCase does: one case file write (the state
// projection, a timeline event), here on a scratch case.
func (a *benchActivities) Record(ctx context.Context, seq int64) error {
	st := a.state
	st.Seq = seq
	return a.store.RecordCase(ctx, contract.Record{CaseID: a.caseID, EventKey: fmt.Sprintf("%s/bench/%d", a.caseID, seq),
		Type: "stage", Actor: contract.Actor{User: "homeward", Role: "system"}, Summary: "bench", At: time.Now().UTC(), State: st})
}

var bacts *benchActivities // for method values in workflows

// BaselineInput is the shape of a real case, from its history: "A" a regular
// activity, "U" an update, "S" a signal, in the order they happened.
type BaselineInput struct {
	Script string
}

// baselineWorkflow does exactly the engine work of the script with no logic:
// no-op activities one after the other, updates whose handler only waits until the
// workflow reaches them, signals it takes from a channel.
func baselineWorkflow(ctx workflow.Context, in BaselineInput) error {
	reached, received := 0, 0 // updates the run has reached / updates handled
	if err := workflow.SetUpdateHandler(ctx, updateStep, func(ctx workflow.Context, n int) error {
		if err := workflow.Await(ctx, func() bool { return reached >= n }); err != nil {
			return err
		}
		received++
		return nil
	}); err != nil {
		return err
	}
	facts := workflow.GetSignalChannel(ctx, signalFact)
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second})
	for _, step := range in.Script {
		switch step {
		case 'A':
			if err := workflow.ExecuteActivity(ctx, bacts.Noop).Get(ctx, nil); err != nil {
				return err
			}
		case 'U':
			reached++
			n := reached
			if err := workflow.Await(ctx, func() bool { return received >= n }); err != nil {
				return err
			}
		case 'S':
			facts.Receive(ctx, nil)
		}
	}
	return workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
}

// ActivitiesInput asks for N activities of one kind in sequence.
type ActivitiesInput struct {
	Kind    string // regular-noop, local-noop, local-record, regular-record, noop-upsert, noop-timer
	N       int
	SeqBase int64
}

func activitiesWorkflow(ctx workflow.Context, in ActivitiesInput) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second})
	ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: 10 * time.Second})
	for i := range in.N {
		var f workflow.Future
		seq := in.SeqBase + int64(i)
		switch in.Kind {
		case "regular-noop":
			f = workflow.ExecuteActivity(ctx, bacts.Noop)
		case "local-noop":
			f = workflow.ExecuteLocalActivity(ctx, bacts.Noop)
		case "regular-record":
			f = workflow.ExecuteActivity(ctx, bacts.Record, seq)
		case "local-record":
			f = workflow.ExecuteLocalActivity(ctx, bacts.Record, seq)
		case "noop-upsert":
			if err := upsertStage(ctx, i); err != nil {
				return err
			}
			f = workflow.ExecuteActivity(ctx, bacts.Noop)
		case "noop-timer":
			// What a case's wait() adds to a step: an SLA timer of days, still pending
			// when the step is done (the SDK's Await does not cancel it).
			workflow.NewTimer(ctx, 72*time.Hour)
			f = workflow.ExecuteActivity(ctx, bacts.Noop)
		default:
			return fmt.Errorf("unknown kind %q", in.Kind)
		}
		if err := f.Get(ctx, nil); err != nil {
			return err
		}
	}
	return nil
}

// upsertStage is what a case's enter() adds to a step: its six search attributes.
func upsertStage(ctx workflow.Context, stage int) error {
	now := workflow.Now(ctx)
	return workflow.UpsertTypedSearchAttributes(ctx, workflows.SACaseStage.ValueSet(fmt.Sprintf("Stage%d", stage)),
		workflows.SACaseStatus.ValueSet("active"), workflows.SAWaitingOn.ValueSet("caseworker"),
		workflows.SAStageEnteredAt.ValueSet(now), workflows.SAStageDueAt.ValueSet(now.Add(72*time.Hour)),
		workflows.SAOverdue.ValueSet(false))
}

// bareWorkflow is the least a workflow can be: with wait false it ends at once
// (the bare start); with wait true it takes "decide" updates until it is
// terminated (the bare update).
func bareWorkflow(ctx workflow.Context, wait bool) error {
	if !wait {
		return nil
	}
	decided := 0
	if err := workflow.SetUpdateHandler(ctx, updateDecide, func(ctx workflow.Context, decision string) (int, error) {
		decided++
		return decided, nil
	}); err != nil {
		return err
	}
	return workflow.Await(ctx, func() bool { return false })
}

// The kinds of update in the decision-cost table (part 2b): what a decision's
// workflow task does, one piece at a time.
var updateKinds = []string{"bare", "write", "upsert", "activity", "lazy", "decision"}

const (
	updateWork  = "work"
	updateDrain = "drain"
)

// updateCostWorkflow takes "work" updates until it is terminated; each does in its
// workflow task what the workflow's kind says: nothing (bare), a case-file write
// that the answer waits for (write), the case's six search attributes (upsert), a
// regular activity that the answer does not wait for, as the registry call of the
// next stage (activity; lazy: not dispatched eagerly with the task's answer), or
// all three, as a plan decision does (decision).
// "drain" waits for the activities still under way.
func updateCostWorkflow(ctx workflow.Context, kind string) error {
	done, running := 0, 0
	if err := workflow.SetUpdateHandler(ctx, updateWork, func(ctx workflow.Context, seq int64) (int, error) {
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second})
		ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: 10 * time.Second})
		if kind == "upsert" || kind == "decision" {
			if err := upsertStage(ctx, int(seq%9)); err != nil {
				return 0, err
			}
		}
		if kind == "activity" || kind == "decision" || kind == "lazy" {
			running++
			if kind == "lazy" {
				ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second, DisableEagerExecution: true})
			}
			f := workflow.ExecuteActivity(ctx, bacts.Noop)
			workflow.Go(ctx, func(ctx workflow.Context) {
				_ = f.Get(ctx, nil)
				running--
			})
		}
		if kind == "write" || kind == "decision" {
			if err := workflow.ExecuteLocalActivity(ctx, bacts.Record, seq).Get(ctx, nil); err != nil {
				return 0, err
			}
		}
		done++
		return done, nil
	}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandler(ctx, updateDrain, func(ctx workflow.Context) error {
		return workflow.Await(ctx, func() bool { return running == 0 })
	}); err != nil {
		return err
	}
	return workflow.Await(ctx, func() bool { return false })
}
