package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"go.temporal.io/sdk/client"

	"github.com/homeward/homeward/contract"
)

// loadResult is one endpoint at one concurrency for a bounded time.
type loadResult struct {
	lat      *Latencies
	requests int
	errors   int
	first    error
	elapsed  time.Duration
	use      usage
	poolOut  bool // stopped early: no more prepared cases
}

func (r loadResult) rate() float64 { return float64(r.requests) / r.elapsed.Seconds() }

// load sends requests from conc goroutines for d, or until f says the pool is empty.
func (e *env) load(ctx context.Context, conc int, d time.Duration, f func(ctx context.Context) error) loadResult {
	r := loadResult{lat: &Latencies{}}
	var mu sync.Mutex
	var stop atomic.Bool
	var wg sync.WaitGroup
	m := e.meter()
	deadline := time.Now().Add(d)
	for range conc {
		wg.Go(func() {
			for !stop.Load() && time.Now().Before(deadline) && ctx.Err() == nil {
				t := time.Now()
				err := f(ctx)
				el := time.Since(t)
				if errors.Is(err, errPoolEmpty) {
					stop.Store(true)
					mu.Lock()
					r.poolOut = true
					mu.Unlock()
					return
				}
				mu.Lock()
				r.requests++
				if err != nil {
					r.errors++
					if r.first == nil {
						r.first = err
					}
				} else {
					r.lat.Add(el)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	r.use = m.stop()
	r.elapsed = r.use.wall
	return r
}

// bare is a Gin server whose handlers only call ExecuteWorkflow or UpdateWorkflow
// on a trivial workflow: the least an API in front of Temporal can do.
func (e *env) startBare() (string, func(), error) {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.POST("/bare/cases", func(c *gin.Context) {
		var body map[string]any
		if err := c.ShouldBindJSON(&body); err != nil {
			c.JSON(http.StatusBadRequest, gin.H{"error": err.Error()})
			return
		}
		run, err := e.tc.ExecuteWorkflow(c, client.StartWorkflowOptions{ID: "bare-" + uuid.NewString(), TaskQueue: baselineQueue},
			wfBare, false)
		if err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": err.Error()})
			return
		}
		c.JSON(http.StatusCreated, gin.H{"id": run.GetID(), "run_id": run.GetRunID()})
	})
	r.POST("/bare/cases/:id/decisions", func(c *gin.Context) {
		var body map[string]any
		if err := c.ShouldBindJSON(&body); err != nil {
			c.JSON(http.StatusBadRequest, gin.H{"error": err.Error()})
			return
		}
		h, err := e.tc.UpdateWorkflow(c, client.UpdateWorkflowOptions{WorkflowID: c.Param("id"), UpdateID: uuid.NewString(),
			UpdateName: updateDecide, Args: []any{body["decision"]}, WaitForStage: client.WorkflowUpdateStageCompleted})
		var n int
		if err == nil {
			err = h.Get(c, &n)
		}
		if err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": err.Error()})
			return
		}
		c.JSON(http.StatusOK, gin.H{"decided": n})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}

// drainIntake waits until every registered case has left Intake in the case file,
// so that the work registrations started does not weigh on the next measurement.
// Cases whose file stays at Intake for 30 s while the others have moved on are
// counted and returned: the workflow went on but the case file missed the change.
func (e *env) drainIntake(ctx context.Context, within time.Duration) (stuck []string, err error) {
	db, err := e.reader.SQL()
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(within)
	last, since := -1, time.Now()
	for {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM cases WHERE stage = 'Intake'`).Scan(&n); err != nil {
			return nil, err
		}
		if n == 0 {
			time.Sleep(500 * time.Millisecond) // the counselling stage's registry call
			return nil, nil
		}
		if n != last {
			last, since = n, time.Now()
		}
		if time.Since(since) > 30*time.Second {
			rows, err := db.QueryContext(ctx, `SELECT id FROM cases WHERE stage = 'Intake'`)
			if err != nil {
				return nil, err
			}
			defer rows.Close()
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					return nil, err
				}
				stuck = append(stuck, id)
			}
			return stuck, rows.Err()
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d cases still in Intake after %s", n, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// lostRecords says which of the cases whose file stayed at Intake have moved on
// in Temporal (CaseStage search attribute), and how the record failed.
func (e *env) lostRecords(ctx context.Context, ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	moved := 0
	for _, id := range ids {
		d, err := e.tc.DescribeWorkflowExecution(ctx, contract.WorkflowID(id), "")
		if err != nil {
			continue
		}
		if p := d.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()["CaseStage"]; p != nil && !strings.Contains(string(p.GetData()), "Intake") {
			moved++
		}
	}
	return fmt.Sprintf("%d case(s) stayed at Intake in the case file, %d of them past it in Temporal (e.g. case-%s): "+
		"the case file missed a change", len(ids), moved, ids[0])
}

func (e *env) apiLoad(ctx context.Context, o Options, w io.Writer, res *results) error {
	bareURL, stopBare, err := e.startBare()
	if err != nil {
		return err
	}
	defer stopBare()
	bare := newAPIClient(bareURL)
	tb := &table{title: fmt.Sprintf("2. API under load on loopback, %s per endpoint and level", o.LoadDuration),
		head: []string{"endpoint", "c", "requests", "errors", "req/s", "p50 ms", "p99 ms", "server CPU ms/req",
			"bare req/s", "bare p50", "bare p99", "bare server CPU ms/req", "req/s ratio", "p99 ratio"}}
	row := func(name string, c int, h, b loadResult) {
		hp99, bp99 := h.lat.Quantile(.99), b.lat.Quantile(.99)
		ratio := "-"
		if bp99 > 0 && hp99 > 0 {
			ratio = f2(float64(hp99) / float64(bp99))
		}
		reqs := itoa(h.requests)
		if h.poolOut {
			reqs += "*"
		}
		tb.add(name, itoa(c), reqs, itoa(h.errors), f1(h.rate()), ms(h.lat.Quantile(.5)), ms(hp99), per(h.use.server, h.requests),
			f1(b.rate()), ms(b.lat.Quantile(.5)), ms(bp99), per(b.use.server, b.requests), f2(h.rate()/b.rate()), ratio)
		for _, r := range []loadResult{h, b} {
			if r.first != nil {
				tb.note("%s c=%d: first error: %v", name, c, r.first)
			}
		}
	}

	// Registrations beside bare starts.
	for _, c := range o.Levels {
		o.logf("POST /cases at concurrency %d", c)
		b := e.load(ctx, c, o.LoadDuration, func(ctx context.Context) error {
			_, err := bare.expect(ctx, "POST", "/bare/cases", "", registration(), []int{http.StatusCreated})
			return err
		})
		h := e.load(ctx, c, o.LoadDuration, func(ctx context.Context) error {
			_, err := e.http.register(ctx)
			return err
		})
		row("POST /cases", c, h, b)
		stuck, err := e.drainIntake(ctx, 3*time.Minute)
		if err != nil {
			return err
		}
		if len(stuck) > 0 {
			tb.note("POST /cases c=%d: %s", c, e.lostRecords(ctx, stuck))
		}
	}

	// Cases waiting at PlanApproval for the decisions, and bare workflows for the bare updates.
	o.logf("preparing %d cases at PlanApproval", o.DecisionCases)
	prep := e.meter()
	pool := make([]string, o.DecisionCases)
	_, errs, first, _ := runN(ctx, o.DecisionCases, o.Concurrency, func(ctx context.Context, i int) error {
		id, err := e.http.register(ctx)
		if err != nil {
			return err
		}
		pool[i] = id
		return e.driveToPlanApproval(ctx, id)
	})
	prepUse := prep.stop()
	if errs > 0 {
		return fmt.Errorf("preparing cases at PlanApproval: %d failed, first: %w", errs, first)
	}
	waits := make([]any, o.UpdateTargets)
	for i := range waits {
		waits[i] = true
	}
	targets, stopTargets, err := e.startWorkflows(ctx, wfBare, "bare-update-", waits)
	if err != nil {
		return err
	}
	defer stopTargets()

	for _, c := range o.Levels {
		o.logf("plan decisions at concurrency %d", c)
		var ti atomic.Int64
		b := e.load(ctx, c, o.LoadDuration, func(ctx context.Context) error {
			id := targets[int(ti.Add(1))%len(targets)]
			_, err := bare.expect(ctx, "POST", "/bare/cases/"+id+"/decisions", "", map[string]any{"decision": "request_changes",
				"comment": "bench"}, []int{http.StatusOK})
			return err
		})
		// Each decision takes a case from the pool; the cases that took one go back to
		// planning, and their plans are submitted again before the pool is reused.
		decide := func(send func(ctx context.Context, id string) error) (loadResult, error) {
			var next atomic.Int64
			var usedMu sync.Mutex
			var used []string
			r := e.load(ctx, c, o.LoadDuration, func(ctx context.Context) error {
				i := int(next.Add(1)) - 1
				if i >= len(pool) {
					return errPoolEmpty
				}
				usedMu.Lock()
				used = append(used, pool[i])
				usedMu.Unlock()
				return send(ctx, pool[i])
			})
			o.logf("resubmitting %d plans", len(used))
			_, errs, first, _ := runN(ctx, len(used), o.Concurrency, func(ctx context.Context, i int) error {
				if _, err := e.waitCase(ctx, used[i], "planning", stepTimeout, atStage("ReintegrationPlanning")); err != nil {
					return err
				}
				return e.submitPlan(ctx, used[i])
			})
			if errs > 0 {
				return r, fmt.Errorf("resubmitting plans: %d failed, first: %w", errs, first)
			}
			return r, nil
		}
		h, err := decide(func(ctx context.Context, id string) error {
			_, err := e.http.expect(ctx, "POST", "/api/v1/cases/"+id+"/plan/decisions", "dev-approver-gn",
				map[string]any{"decision": "request_changes", "comment": "bench"}, []int{http.StatusOK}, "Idempotency-Key", uuid.NewString())
			return err
		})
		if err != nil {
			return err
		}
		row("POST /cases/{id}/plan/decisions", c, h, b)
		// The same update sent to the case's workflow with the client, as the API does:
		// what the API adds to it, apart from what the workflow does.
		o.logf("the same decisions as updates, without the API, at concurrency %d", c)
		approver := contract.Actor{User: "approver-gn", Role: contract.RoleApprover, Office: "GN-CKY"}
		d, err := decide(func(ctx context.Context, id string) error {
			key := uuid.NewString()
			u, err := e.stack.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: contract.WorkflowID(id),
				UpdateID: key, UpdateName: contract.UpdatePlanDecision, WaitForStage: client.WorkflowUpdateStageCompleted,
				Args: []any{contract.Action[contract.PlanDecision]{Actor: approver, RequestID: key,
					Body: contract.PlanDecision{Decision: contract.DecisionRequestChanges, Comment: "bench"}}}})
			if err == nil {
				var done contract.Accepted
				err = u.Get(ctx, &done)
			}
			return err
		})
		if err != nil {
			return err
		}
		row("  the update alone, no API", c, d, b)
		if c == o.Levels[len(o.Levels)-1] {
			res.decisionP99Level = c
			if bp := b.lat.Quantile(.99); bp > 0 {
				res.decisionP99Ratio = float64(h.lat.Quantile(.99)) / float64(bp)
			}
			if dp := d.lat.Quantile(.99); dp > 0 {
				res.decisionAPIRatio = float64(h.lat.Quantile(.99)) / float64(dp)
			}
		}
	}
	tb.note("bare: a Gin handler that only calls ExecuteWorkflow (a workflow that ends at once) or UpdateWorkflow (a handler that returns at once)")
	tb.note("POST /cases also runs the case's intake (registry calls, case file); each level is drained before the next")
	tb.note("decisions are request_changes (the case goes back to planning; its plan is resubmitted between levels), with an Idempotency-Key;")
	tb.note("  %d cases were prepared at PlanApproval in %s (%s server CPU s/case); * = stopped early when they ran out",
		o.DecisionCases, prepUse.wall.Round(time.Second), perSec(prepUse.server, o.DecisionCases))
	tb.note("the update alone: the same decision sent with the Temporal client to the case's workflow (no HTTP, no case")
	tb.note("  lookup, no Idempotency-Key memory): its p99 against the API's says what the API adds")
	tb.note("p99 ratio target for decisions: <= 1.5")
	tb.print(w)

	c, err := e.reader.CaseByID(ctx, pool[0])
	if err != nil {
		return err
	}
	st, err := c.LiveState()
	if err != nil {
		return err
	}
	return e.updateCosts(ctx, o, w, st)
}

// startWorkflows starts one workflow of the bench's per argument, on its queue,
// and returns their IDs and a func that terminates them.
func (e *env) startWorkflows(ctx context.Context, workflowType, idPrefix string, args []any) ([]string, func(), error) {
	ids := make([]string, 0, len(args))
	stop := func() {
		for _, id := range ids {
			_ = e.tc.TerminateWorkflow(context.Background(), id, "", "benchmark done")
		}
	}
	for _, arg := range args {
		run, err := e.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: idPrefix + uuid.NewString(), TaskQueue: baselineQueue},
			workflowType, arg)
		if err != nil {
			stop()
			return nil, nil, err
		}
		ids = append(ids, run.GetID())
	}
	return ids, stop, nil
}

// quiesce waits (up to 30 s) until the dev server is nearly idle: under 0.15
// cores over half a second, so that work left by the part before is not measured.
func (e *env) quiesce(ctx context.Context) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		m := e.meter()
		time.Sleep(500 * time.Millisecond)
		if m.stop().serverCores() < 0.15 {
			return
		}
	}
}

// updateCosts sends updates one at a time to a workflow of each kind (see
// updateCostWorkflow), the kinds in turn, rounds of 10: what each piece of a
// decision's workflow task adds to the bare update, without HTTP or load.
func (e *env) updateCosts(ctx context.Context, o Options, w io.Writer, state contract.CaseState) error {
	if err := e.scratchCase(ctx, state); err != nil {
		return err
	}
	// The resubmitted plans' next steps would otherwise still run on the server.
	e.quiesce(ctx)
	kinds := make([]any, len(updateKinds))
	for k, kind := range updateKinds {
		kinds[k] = kind
	}
	ids, stop, err := e.startWorkflows(ctx, wfUpdates, "update-costs-", kinds)
	if err != nil {
		return err
	}
	defer stop()
	send := func(id, name string, args ...any) error {
		h, err := e.tc.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: name, Args: args,
			WaitForStage: client.WorkflowUpdateStageCompleted})
		if err != nil {
			return err
		}
		return h.Get(ctx, nil)
	}
	seq := int64(2_000_000)
	for k, kind := range updateKinds { // each workflow's first task and a warm cache are not what is measured
		seq++
		if err := send(ids[k], updateWork, seq); err != nil {
			return fmt.Errorf("%s update: %w", kind, err)
		}
	}
	const batch = 10
	lats := make([]Latencies, len(updateKinds))
	uses := make([]usage, len(updateKinds))
	for range o.LAWorkflows {
		for k, kind := range updateKinds {
			m := e.meter()
			for range batch {
				seq++
				t := time.Now()
				if err := send(ids[k], updateWork, seq); err != nil {
					return fmt.Errorf("%s update: %w", kind, err)
				}
				lats[k].Add(time.Since(t))
			}
			// The activities the updates started are part of their cost.
			if err := send(ids[k], updateDrain); err != nil {
				return fmt.Errorf("%s drain: %w", kind, err)
			}
			uses[k] = uses[k].plus(m.stop())
		}
	}
	tb := &table{title: fmt.Sprintf("2b. What a decision's workflow task costs: updates one at a time, the kinds in turn (%d each)", batch*o.LAWorkflows),
		head: []string{"update", "p50 ms", "p99 ms", "p50 / bare", "server CPU ms/update", "homeward-process CPU ms/update"}}
	label := map[string]string{"bare": "bare (the handler returns)", "write": "+ a case-file write (local activity), answered after it",
		"upsert": "+ the case's six search attributes", "activity": "+ a regular activity started, not waited for (the registry call)",
		"lazy":     "the same, not eagerly dispatched",
		"decision": "all three, as a decision's workflow task"}
	n := batch * o.LAWorkflows
	for k, kind := range updateKinds {
		tb.add(label[kind], ms(lats[k].Quantile(.5)), ms(lats[k].Quantile(.99)), f2(float64(lats[k].Quantile(.5))/float64(lats[0].Quantile(.5))),
			per(uses[k].server, n), per(uses[k].self, n))
	}
	tb.note("sent with the Temporal client, no HTTP; CPU includes the activities the updates started (waited for after each 10)")
	tb.print(w)
	return nil
}
