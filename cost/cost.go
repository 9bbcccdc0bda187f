// Package cost counts what a case costs the Temporal service, from its event
// histories: the billable actions, by the rules Temporal Cloud publishes
// (docs.temporal.io, "Temporal Cloud Actions"), and the events themselves.
//
// The rules, as counted here from a history:
//   - each workflow start, continue-as-new included (its new run's
//     WorkflowExecutionStarted event): 1;
//   - each activity attempt: 1 per ActivityTaskScheduled, plus the retries the
//     attempt field of its ActivityTaskStarted event records;
//   - local activities: all the markers one workflow task records count once
//     (the version marker of workflow.GetVersion is a marker too), plus the
//     retries the task's metering metadata records;
//   - each timer started: 1;
//   - each search-attribute upsert: 1, except the ones that only set
//     TemporalChangeVersion (workflow.GetVersion's, exempt);
//   - each signal: 1; each update accepted: 1 (a rejected one costs 1 too but
//     leaves no event: a history cannot show it);
//   - each child workflow started: 2; queries leave no event (Homeward's API
//     sends none: issue 19, target 2).
package cost

import (
	"fmt"
	"io"
	"slices"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
)

// Kinds of billable action, in the order a table shows them.
const (
	WorkflowStart  = "workflow start (and continue-as-new)"
	Activity       = "activity attempt"
	LocalActivity  = "local activities and markers (per workflow task)"
	Timer          = "timer"
	Upsert         = "search-attribute upsert"
	Signal         = "signal"
	Update         = "update"
	ChildWorkflow  = "child workflow"
	versionMarkKey = "TemporalChangeVersion"
)

// Kinds lists the kinds of action in table order.
var Kinds = []string{WorkflowStart, Activity, LocalActivity, Timer, Upsert, Signal, Update, ChildWorkflow}

// Count is what one or more histories cost.
type Count struct {
	Actions map[string]int // by kind
	Events  int
	// RegularActivities, Signals, Updates, Timers and Runs are the counts the
	// persistence budget of issue 19 (target 4) is stated in.
	RegularActivities, Signals, Updates, Timers, Runs int
	// ActivitiesByType counts activity attempts by activity type.
	ActivitiesByType map[string]int
}

// Total is the number of billable actions.
func (c Count) Total() int {
	n := 0
	for _, v := range c.Actions {
		n += v
	}
	return n
}

// Add sums two counts (two runs of a case, say).
func (c Count) Add(o Count) Count {
	out := Count{Actions: map[string]int{}, ActivitiesByType: map[string]int{}, Events: c.Events + o.Events,
		RegularActivities: c.RegularActivities + o.RegularActivities, Signals: c.Signals + o.Signals,
		Updates: c.Updates + o.Updates, Timers: c.Timers + o.Timers, Runs: c.Runs + o.Runs}
	for _, m := range []map[string]int{c.Actions, o.Actions} {
		for k, v := range m {
			out.Actions[k] += v
		}
	}
	for _, m := range []map[string]int{c.ActivitiesByType, o.ActivitiesByType} {
		for k, v := range m {
			out.ActivitiesByType[k] += v
		}
	}
	return out
}

// Of counts one run's history.
func Of(h *historypb.History) Count {
	c := Count{Actions: map[string]int{}, ActivitiesByType: map[string]int{}, Events: len(h.GetEvents())}
	typeOf := map[int64]string{} // scheduled event ID -> activity type
	markedTasks := map[int64]bool{}
	var task int64 // the WorkflowTaskCompleted event the commands that follow belong to
	for _, ev := range h.GetEvents() {
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
			c.Actions[WorkflowStart]++
			c.Runs++
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			task = ev.GetEventId()
			c.Actions[LocalActivity] += int(ev.GetWorkflowTaskCompletedEventAttributes().GetMeteringMetadata().GetNonfirstLocalActivityExecutionAttempts())
		case enumspb.EVENT_TYPE_MARKER_RECORDED:
			if !markedTasks[task] {
				markedTasks[task] = true
				c.Actions[LocalActivity]++
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			name := ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()
			typeOf[ev.GetEventId()] = name
			c.Actions[Activity]++
			c.ActivitiesByType[name]++
			c.RegularActivities++
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			a := ev.GetActivityTaskStartedEventAttributes()
			if retries := int(a.GetAttempt()) - 1; retries > 0 {
				c.Actions[Activity] += retries
				c.ActivitiesByType[typeOf[a.GetScheduledEventId()]] += retries
			}
		case enumspb.EVENT_TYPE_TIMER_STARTED:
			c.Actions[Timer]++
			c.Timers++
		case enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
			fields := ev.GetUpsertWorkflowSearchAttributesEventAttributes().GetSearchAttributes().GetIndexedFields()
			if _, ok := fields[versionMarkKey]; !ok || len(fields) > 1 {
				c.Actions[Upsert]++
			}
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
			c.Actions[Signal]++
			c.Signals++
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
			c.Actions[Update]++
			c.Updates++
		case enumspb.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
			c.Actions[ChildWorkflow] += 2
		}
	}
	return c
}

// OfRuns counts the runs of one case (or of many) together.
func OfRuns(hs ...*historypb.History) Count {
	c := Count{Actions: map[string]int{}, ActivitiesByType: map[string]int{}}
	for _, h := range hs {
		c = c.Add(Of(h))
	}
	return c
}

// EventsByType counts a history's events by type, for a table of where they go.
func EventsByType(hs ...*historypb.History) map[string]int {
	out := map[string]int{}
	for _, h := range hs {
		for _, ev := range h.GetEvents() {
			out[strings.TrimPrefix(ev.GetEventType().String(), "EVENT_TYPE_")]++
		}
	}
	return out
}

// Print writes the table of actions per kind, and the events, of a count; with
// before set, beside it.
func Print(w io.Writer, c Count, before *Count) {
	row := func(name string, now, was int) {
		if before == nil {
			_, _ = fmt.Fprintf(w, "  %-52s %5d\n", name, now)
			return
		}
		_, _ = fmt.Fprintf(w, "  %-52s %5d %8d\n", name, now, was)
	}
	if before == nil {
		_, _ = fmt.Fprintf(w, "  %-52s %5s\n", "billable action", "count")
	} else {
		_, _ = fmt.Fprintf(w, "  %-52s %5s %8s\n", "billable action", "now", "before")
	}
	get := func(c *Count, k string) int {
		if c == nil {
			return 0
		}
		return c.Actions[k]
	}
	for _, k := range Kinds {
		row(k, c.Actions[k], get(before, k))
	}
	total, events := 0, 0
	if before != nil {
		total, events = before.Total(), before.Events
	}
	row("total actions", c.Total(), total)
	row("history events", c.Events, events)
	var types []string
	for t := range c.ActivitiesByType {
		types = append(types, t)
	}
	slices.Sort(types)
	for _, t := range types {
		_, _ = fmt.Fprintf(w, "    activity %s: %d\n", t, c.ActivitiesByType[t])
	}
}
