package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/serviceerror"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/store"
)

// StuckCases find, in the case file, the cases that do not move.
type StuckCases interface {
	// Stuck is the cases overdue or waiting on a failing or refusing partner.
	Stuck(ctx context.Context, f store.Filter) ([]store.Case, error)
	// Quiet is the active cases unchanged the longest, before a time.
	Quiet(ctx context.Context, before time.Time, limit int) ([]store.Case, error)
	// NotStarted is the cases registered before a time whose workflow is not known to have started.
	NotStarted(ctx context.Context, before time.Time, limit int) ([]store.Case, error)
}

// StuckCase is a case that needs a manager's eye, and why.
type StuckCase struct {
	Case       Summary   `json:"case"`
	Reason     string    `json:"reason"` // not_started, overdue, system, blocked, workflow_task_failing
	Detail     string    `json:"detail"`
	Since      time.Time `json:"since"`
	ForSeconds int64     `json:"for_seconds"`
	UIURL      string    `json:"ui_url"`
}

// stuck lists the cases that do not move: overdue, waiting on a failing or
// refusing partner (all three from the case file, which the workflow keeps), and
// cases whose workflow task keeps failing (a bug, or a non-determinism error after
// a deploy). The last cannot mark itself (its own code fails), and the pinned
// server predates TemporalReportedProblems, so the cases that have been quiet
// for a while are asked of Temporal directly, in the background (taskProbe).
func (s *Server) stuck(c *gin.Context) {
	items, err := s.Stuck(c)
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
}

// Stuck is the cases that need a manager's eye, the longest stuck first (see stuck).
func (s *Server) Stuck(ctx context.Context) ([]StuckCase, error) {
	if err := permit(principal(ctx), "list stuck cases", contract.RoleManager); err != nil {
		return nil, err
	}
	cases, err := s.stuckCases.Stuck(ctx, store.Filter{Limit: 500})
	if err != nil {
		return nil, err
	}
	now := s.now()
	items := make([]StuckCase, 0, len(cases))
	listed := map[string]bool{}
	// Registered, but no workflow yet after the sweeper's tries for a minute: the
	// case waits on nothing else until it starts.
	pending, err := s.stuckCases.NotStarted(ctx, now.Add(-notStartedAfter), 500)
	if err != nil {
		return nil, err
	}
	for _, cs := range pending {
		items = append(items, StuckCase{Case: summary(cs), Reason: "not_started", Since: cs.CreatedAt,
			ForSeconds: int64(now.Sub(cs.CreatedAt).Seconds()), UIURL: s.uiURL(cs.WorkflowID),
			Detail: "registered, but its workflow has not started: Homeward tries again every " + SweepEvery.String() +
				" (the API's log says why)"})
		listed[cs.ID] = true
	}
	for _, cs := range cases {
		if listed[cs.ID] {
			continue
		}
		item := StuckCase{Case: summary(cs), Since: cs.StageEnteredAt, UIURL: s.uiURL(cs.WorkflowID)}
		switch {
		case cs.Blocked != "":
			item.Reason, item.Detail = "blocked", cs.Blocked
		case cs.WaitingOn == string(contract.WaitingSystem):
			item.Reason, item.Detail = "system", "an external service keeps failing; Homeward retries"
		default:
			item.Reason, item.Since = "overdue", *cs.StageDueAt
			item.Detail = cs.Stage + " was due " + cs.StageDueAt.UTC().Format(time.RFC3339) + ", waiting on " + cs.WaitingOn
		}
		item.ForSeconds = int64(now.Sub(item.Since).Seconds())
		items = append(items, item)
		listed[cs.ID] = true
	}
	failing, err := s.probe.failing(ctx, now)
	if err != nil {
		// Temporal cannot be asked now: the case file's own stuck cases still answer.
		loggerFrom(ctx).Warn("failing workflow tasks unknown", "error", err.Error())
	}
	for _, f := range failing {
		if !listed[f.Case.ID] {
			f.ForSeconds = int64(now.Sub(f.Since).Seconds()) // the answer may be older than now
			items = append(items, f)
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].Since.Before(items[j].Since) })
	return items, nil
}

// notStartedAfter is how long a registered case may wait for its workflow's
// start (its own, then the sweeper's every SweepEvery) before /stuck lists it.
const notStartedAfter = time.Minute

// failingTasks asks Temporal about the quietest active cases: a pending workflow
// task on its second attempt or later means the workflow's code keeps failing.
// If Temporal cannot describe one of them just then, the answer is incomplete and
// so an error (the last complete answer stays, see taskProbe); a case with no
// workflow (NotFound) has no failing task.
func (s *Server) failingTasks(ctx context.Context, now time.Time) ([]StuckCase, error) {
	quiet, err := s.stuckCases.Quiet(ctx, now.Add(-s.cfg.Temporal.TaskProbeAfter), s.cfg.Temporal.TaskProbeLimit)
	if err != nil {
		return nil, err
	}
	var (
		mu      sync.Mutex
		out     []StuckCase
		failed  int
		lastErr error
		wg      sync.WaitGroup
		slots   = make(chan struct{}, 8)
	)
	for _, cs := range quiet {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			d, err := s.temporal.DescribeWorkflowExecution(ctx, cs.WorkflowID, "")
			var notFound *serviceerror.NotFound
			if errors.As(err, &notFound) {
				return // no workflow: nothing fails
			}
			if err != nil {
				mu.Lock()
				failed, lastErr = failed+1, err
				mu.Unlock()
				return
			}
			wt := d.GetPendingWorkflowTask()
			if wt.GetAttempt() < 2 {
				return
			}
			since := wt.GetOriginalScheduledTime().AsTime()
			if wt.GetOriginalScheduledTime() == nil {
				since = cs.UpdatedAt
			}
			mu.Lock()
			defer mu.Unlock()
			out = append(out, StuckCase{Case: summary(cs), Reason: "workflow_task_failing",
				Detail: fmt.Sprintf("the workflow task has failed %d times: a bug or an incompatible deploy; see the history in the Temporal UI",
					wt.GetAttempt()-1),
				Since: since, ForSeconds: int64(now.Sub(since).Seconds()), UIURL: s.uiURL(cs.WorkflowID)})
		})
	}
	wg.Wait()
	if failed > 0 {
		return nil, fmt.Errorf("describing %d of %d quiet cases: %w", failed, len(quiet), lastErr)
	}
	return out, nil
}
