package bench

import (
	"context"
	"fmt"
	"io"

	"github.com/homeward/homeward/codec"

	enumspb "go.temporal.io/api/enums/v1"
)

func (e *env) dumpHistory(ctx context.Context, w io.Writer, workflowID string) {
	runID := ""
	for {
		it := e.tc.GetWorkflowHistory(ctx, workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		prev := ""
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				return
			}
			extra := ""
			switch ev.GetEventType() {
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
				prev = ev.GetWorkflowExecutionStartedEventAttributes().GetContinuedExecutionRunId()
			case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
				extra = ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()
			case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
				extra = fmt.Sprint("attempt ", ev.GetActivityTaskStartedEventAttributes().GetAttempt())
			case enumspb.EVENT_TYPE_TIMER_STARTED:
				extra = ev.GetTimerStartedEventAttributes().GetStartToFireTimeout().AsDuration().String()
			case enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED:
				a := ev.GetWorkflowTaskFailedEventAttributes()
				_, fc := codec.ClientOptions(e.ring) // failures are encrypted
				extra = fmt.Sprintf("%s: %.500v", a.GetCause(), fc.FailureToError(a.GetFailure()))
			case enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
				extra = ev.GetWorkflowTaskScheduledEventAttributes().GetTaskQueue().GetName()
			}
			fmt.Fprintf(w, "%s %4d %s %s\n", ev.GetEventTime().AsTime().Format("15:04:05.000"), ev.GetEventId(), ev.GetEventType(), extra)
		}
		fmt.Fprintln(w, "----")
		if prev == "" {
			return
		}
		runID = prev
	}
}
