package bench

import (
	"context"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
)

// breakdown is where the time of sampled workflows went, from their histories:
// workflow tasks waiting to be picked up (server and worker poll), workflow tasks
// being processed by the worker (Homeward's local activities run inside them),
// regular activities queued and running, and the rest (waiting for people,
// partners' callbacks, timers).
type breakdown struct {
	workflows                   int
	total                       time.Duration
	wftQueue, wftRun            time.Duration
	actQueue, actRun            time.Duration
	wftRunLat, wftQueueLat, act Latencies
}

func (e *env) breakdown(ctx context.Context, ids []string) (*breakdown, error) {
	b := &breakdown{}
	for _, id := range ids {
		if id == "" {
			continue
		}
		var first, last time.Time
		runID := ""
		for {
			it := e.tc.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
			prev := ""
			var wftScheduled, wftStarted time.Time
			actScheduled := map[int64]time.Time{}
			actStarted := map[int64]time.Time{}
			for it.HasNext() {
				ev, err := it.Next()
				if err != nil {
					return nil, err
				}
				t := ev.GetEventTime().AsTime()
				if first.IsZero() || t.Before(first) {
					first = t
				}
				if t.After(last) {
					last = t
				}
				switch ev.GetEventType() {
				case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
					prev = ev.GetWorkflowExecutionStartedEventAttributes().GetContinuedExecutionRunId()
				case enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
					wftScheduled = t
				case enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED:
					wftStarted = t
					d := t.Sub(wftScheduled)
					b.wftQueue += d
					b.wftQueueLat.Add(d)
				case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED,
					enumspb.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
					d := t.Sub(wftStarted)
					b.wftRun += d
					b.wftRunLat.Add(d)
				case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
					actScheduled[ev.GetEventId()] = t
				case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
					a := ev.GetActivityTaskStartedEventAttributes()
					actStarted[a.GetScheduledEventId()] = t
					b.actQueue += t.Sub(actScheduled[a.GetScheduledEventId()])
				case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
					sid := ev.GetActivityTaskCompletedEventAttributes().GetScheduledEventId()
					b.actRun += t.Sub(actStarted[sid])
					b.act.Add(t.Sub(actScheduled[sid]))
				}
			}
			if prev == "" {
				break
			}
			runID = prev
		}
		b.total += last.Sub(first)
		b.workflows++
	}
	return b, nil
}

func (b *breakdown) perWorkflow(d time.Duration) string {
	if b.workflows == 0 {
		return "-"
	}
	return ms(d / time.Duration(b.workflows))
}

func (b *breakdown) row(t *table, name string) {
	rest := b.total - b.wftQueue - b.wftRun - b.actQueue - b.actRun
	t.add(name, itoa(b.workflows), b.perWorkflow(b.total), b.perWorkflow(b.wftQueue), b.perWorkflow(b.wftRun),
		b.perWorkflow(b.actQueue), b.perWorkflow(b.actRun), b.perWorkflow(rest),
		fmt.Sprintf("%s / %s", ms(b.wftRunLat.Quantile(.5)), ms(b.wftRunLat.Quantile(.99))),
		fmt.Sprintf("%s / %s", ms(b.act.Quantile(.5)), ms(b.act.Quantile(.99))))
}
