package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/store"
)

// runN runs f n times on conc goroutines and times each call.
func runN(ctx context.Context, n, conc int, f func(ctx context.Context, i int) error) (lat *Latencies, errs int, first error, wall time.Duration) {
	lat = &Latencies{}
	var next atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for range min(conc, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				t := time.Now()
				err := f(ctx, i)
				if err != nil {
					mu.Lock()
					errs++
					if first == nil {
						first = err
					}
					mu.Unlock()
					continue
				}
				lat.Add(time.Since(t))
			}
		})
	}
	wg.Wait()
	return lat, errs, first, time.Since(start)
}

// shape is what one case asks of the engine, counted from its history (all runs).
type shape struct {
	script                                          string // A activity, U update, S signal, in order
	activities, updates, signals                    int
	markers, timers, upserts, workflowTasks, events int
	runs                                            int
}

// caseShape reads a workflow's history, following continue-as-new back to the first run.
func (e *env) caseShape(ctx context.Context, workflowID string) (shape, error) {
	var s shape
	var scripts []string
	runID := ""
	for {
		it := e.tc.GetWorkflowHistory(ctx, workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		var b strings.Builder
		prev := ""
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				return s, err
			}
			s.events++
			switch ev.GetEventType() {
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
				prev = ev.GetWorkflowExecutionStartedEventAttributes().GetContinuedExecutionRunId()
			case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
				s.activities++
				b.WriteByte('A')
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
				s.updates++
				b.WriteByte('U')
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
				s.signals++
				b.WriteByte('S')
			case enumspb.EVENT_TYPE_MARKER_RECORDED:
				s.markers++
			case enumspb.EVENT_TYPE_TIMER_STARTED:
				s.timers++
			case enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
				s.upserts++
			case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
				s.workflowTasks++
			}
		}
		s.runs++
		scripts = append([]string{b.String()}, scripts...)
		if prev == "" {
			break
		}
		runID = prev
	}
	s.script = strings.Join(scripts, "")
	return s, nil
}

// runBaseline runs one baseline workflow and drives it as the API drives a case:
// updates wait for their completion, signals are sent in the order the case got them.
func (e *env) runBaseline(ctx context.Context, script string) (string, error) {
	run, err := e.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "baseline-" + uuid.NewString(), TaskQueue: baselineQueue},
		wfBaseline, BaselineInput{Script: script})
	if err != nil {
		return "", err
	}
	return run.GetID(), e.driveBaseline(ctx, run, script)
}

func (e *env) driveBaseline(ctx context.Context, run client.WorkflowRun, script string) error {
	n := 0
	for _, step := range script {
		switch step {
		case 'U':
			n++
			h, err := e.tc.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: run.GetID(), RunID: run.GetRunID(),
				UpdateName: updateStep, Args: []any{n}, WaitForStage: client.WorkflowUpdateStageCompleted})
			if err == nil {
				err = h.Get(ctx, nil)
			}
			if err != nil {
				return fmt.Errorf("baseline update %d: %w", n, err)
			}
		case 'S':
			if err := e.tc.SignalWorkflow(ctx, run.GetID(), run.GetRunID(), signalFact, nil); err != nil {
				return err
			}
		}
	}
	return run.Get(ctx, nil)
}

func (e *env) throughput(ctx context.Context, o Options, w io.Writer, res *results) error {
	// One case alone first: its history says what a case asks of the engine.
	o.logf("one case alone, to count what it asks of the engine")
	t := time.Now()
	pctx, steps := withStepLog(ctx)
	probeID, err := e.runCase(pctx)
	if err != nil {
		return fmt.Errorf("the probe case: %w", err)
	}
	single := time.Since(t)
	if os.Getenv("HOMEWARD_BENCH_DEBUG_HISTORY") != "" {
		e.dumpHistory(ctx, os.Stderr, contract.WorkflowID(probeID))
	}
	sh, err := e.caseShape(ctx, contract.WorkflowID(probeID))
	if err != nil {
		return err
	}
	t = time.Now()
	if _, err := e.runBaseline(ctx, sh.script); err != nil {
		return err
	}
	singleBase := time.Since(t)

	// The two sides take turns, H B B H (and again), and their figures add up over
	// the rounds: the machine's speed drifts over a run by more than the difference
	// measured, and this puts the drift on both sides alike.
	rounds := max(1, min(o.Rounds, o.Cases))
	o.logf("%d cases at concurrency %d through the API, and as many baseline workflows, in %d rounds each", o.Cases, o.Concurrency, rounds)
	type side struct {
		lat   Latencies
		errs  int
		first error
		use   usage
		ids   []string
	}
	var hs, bs side
	writes := &Latencies{}
	turn := func(s *side, n int, homeward bool) error {
		var stopProbe func() *Latencies
		profiling := homeward && o.CPUProfile != "" && len(hs.ids) == 0
		if profiling {
			f, err := os.Create(o.CPUProfile)
			if err != nil {
				return err
			}
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
			defer pprof.StopCPUProfile()
		}
		if homeward {
			stopProbe = e.writeProbe(ctx)
		}
		ids := make([]string, n)
		m := e.meter()
		lat, errs, first, _ := runN(ctx, n, o.Concurrency, func(ctx context.Context, i int) error {
			var err error
			if homeward {
				var id string
				id, err = e.runCase(ctx)
				ids[i] = contract.WorkflowID(id)
			} else {
				ids[i], err = e.runBaseline(ctx, sh.script)
			}
			return err
		})
		s.use = s.use.plus(m.stop())
		if stopProbe != nil {
			writes.merge(stopProbe())
		}
		s.lat.merge(lat)
		s.errs += errs
		if s.first == nil {
			s.first = first
		}
		s.ids = append(s.ids, ids...)
		return nil
	}
	for r := range 2 * rounds {
		n := o.Cases / rounds
		if r/2 < o.Cases%rounds {
			n++
		}
		s, homeward := &bs, r%4 == 0 || r%4 == 3 // H B B H
		if homeward {
			s = &hs
		}
		if err := turn(s, n, homeward); err != nil {
			return err
		}
	}
	hLat, hErrs, hFirst, hUse, caseIDs := &hs.lat, hs.errs, hs.first, hs.use, hs.ids
	bLat, bErrs, bFirst, bUse, baseIDs := &bs.lat, bs.errs, bs.first, bs.use, bs.ids
	hWall, bWall := hUse.wall, bUse.wall
	sample := min(o.Cases, 50)
	hb, err := e.breakdown(ctx, caseIDs[len(caseIDs)-sample:])
	if err != nil {
		return err
	}
	bb, err := e.breakdown(ctx, baseIDs[len(baseIDs)-sample:])
	if err != nil {
		return err
	}

	hOK, bOK := hLat.Len(), bLat.Len()
	res.homewardRate = float64(hOK) / hWall.Seconds()
	res.baselineRate = float64(bOK) / bWall.Seconds()
	tb := &table{title: fmt.Sprintf("1. Case throughput: %d cases through the whole lifecycle, concurrency %d, vs the bare engine", o.Cases, o.Concurrency),
		head: []string{"", "done", "errors", "wall s", "cases/s", "p50 ms", "p99 ms", "server CPU s/case", "homeward-process CPU s/case", "server cores", "process cores"}}
	tb.add("Homeward (HTTP API)", itoa(hOK), itoa(hErrs), f1(hWall.Seconds()), f2(res.homewardRate), ms(hLat.Quantile(.5)), ms(hLat.Quantile(.99)),
		perSec(hUse.server, hOK), perSec(hUse.self, hOK), f2(hUse.serverCores()), f2(hUse.selfCores()))
	tb.add("baseline (no logic)", itoa(bOK), itoa(bErrs), f1(bWall.Seconds()), f2(res.baselineRate), ms(bLat.Quantile(.5)), ms(bLat.Quantile(.99)),
		perSec(bUse.server, bOK), perSec(bUse.self, bOK), f2(bUse.serverCores()), f2(bUse.selfCores()))
	tb.note("overhead ratio (Homeward cases/s / baseline cases/s): %s   (target >= 0.8)", f2(res.homewardRate/res.baselineRate))
	tb.note("the two took turns in %d rounds each (H B B H ...); wall s and the CPU are their rounds' sums", rounds)
	tb.note("a case's history (%d runs, %d events): %d regular activities, %d updates, %d signals — the baseline does exactly these;",
		sh.runs, sh.events, sh.activities, sh.updates, sh.signals)
	tb.note("  Homeward does besides: %d local activities (case file), %d timers, %d search-attribute upserts, %d workflow tasks, continue-as-new",
		sh.markers, sh.timers, sh.upserts, sh.workflowTasks)
	tb.note("%s under Homeward's load: a 1-row write transaction on the case file took p50 %s ms, p99 %s ms, max %s ms (%d samples, every 50 ms)",
		e.reader.Driver(), ms(writes.Quantile(.5)), ms(writes.Quantile(.99)), ms(writes.Quantile(1)), writes.Len())
	tb.note("one case alone (concurrency 1): Homeward %s ms, baseline %s ms", ms(single), ms(singleBase))
	tb.note("the driver reads the case file when the store says the case was written, and every %s besides", pollEvery)
	tb.note("the baseline's updates are sent as soon as the previous one completed and wait in their handler; Homeward's after the driver saw the step")
	if hFirst != nil {
		tb.note("first Homeward error: %v", hFirst)
	}
	if bFirst != nil {
		tb.note("first baseline error: %v", bFirst)
	}
	tb.print(w)

	bt := &table{title: fmt.Sprintf("1c. Where the time went under load, from the histories of the last %d workflows of each (ms per workflow)", sample),
		head: []string{"", "workflows", "first to last event", "workflow tasks queued", "workflow tasks running", "activities queued",
			"activities running", "the rest", "one workflow task p50/p99", "one activity p50/p99"}}
	hb.row(bt, "Homeward")
	bb.row(bt, "baseline")
	bt.note("workflow tasks running = in the worker, Homeward's local activities (the case file) included; queued = waiting for a poller")
	bt.note("the rest = nothing scheduled: waiting for the driver (a person), a partner's callback, or a timer")
	bt.print(w)

	sb := &table{title: "1a. Where one case's time goes (the case alone, concurrency 1): each wait ends when the case file shows the step",
		head: []string{"step", "ms"}}
	for _, s := range steps.steps {
		sb.add(s.name, ms(s.took))
	}
	sb.add("total", ms(single))
	sb.note("\"visit 1 due\" includes the continue-as-new into the monitoring run (the dev server sets")
	sb.note("history.workflowIdReuseMinimalInterval to 0: its default 1 s between a run's start and the next run's first task")
	sb.note("is met only by a compressed lifecycle, never by a real case's months-long first run)")
	sb.print(w)

	st, err := e.reader.CaseByID(ctx, probeID)
	if err != nil {
		return err
	}
	state, _ := st.LiveState()
	return e.activityCosts(ctx, o, w, state)
}

// writeProbe times a tiny write transaction on the case file every 50 ms, on its
// own connection pool, while the worker and the API write to it: how long a writer
// waits for SQLite's one write lock under load. stop ends it and returns the times.
func (e *env) writeProbe(ctx context.Context) (stop func() *Latencies) {
	lat := &Latencies{}
	db, err := e.reader.SQL()
	if err != nil {
		return func() *Latencies { return lat }
	}
	_, _ = db.ExecContext(ctx, `INSERT INTO counters (name, value) VALUES ('bench-probe', 0) ON CONFLICT (name) DO NOTHING`)
	// (On SQLite, BeginTx is BEGIN IMMEDIATE: the store's DSN sets _txlock.)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			t := time.Now()
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				continue
			}
			_, err = tx.ExecContext(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'bench-probe'`)
			if err == nil {
				err = tx.Commit()
			} else {
				_ = tx.Rollback()
			}
			if err == nil {
				lat.Add(time.Since(t))
			}
		}
	}()
	return func() *Latencies {
		close(done)
		<-finished
		return lat
	}
}

// activityCosts times workflows of 10 activities of each kind, one at a time: what
// the case file's bookkeeping costs as a local activity, and as a regular one.
func (e *env) activityCosts(ctx context.Context, o Options, w io.Writer, state contract.CaseState) error {
	if err := e.scratchCase(ctx, state); err != nil {
		return err
	}
	const n = 10
	tb := &table{title: fmt.Sprintf("1b. What an activity costs: workflows of %d activities in sequence, one workflow at a time, the kinds in turn (x%d each)", n, o.LAWorkflows),
		head: []string{"kind", "per workflow ms", "per activity ms", "server CPU ms/activity", "homeward-process CPU ms/activity"}}
	var seq atomic.Int64
	seq.Store(1_000_000)
	kinds := []string{"regular-noop", "local-noop", "regular-record", "local-record", "noop-upsert", "noop-timer"}
	lats := make([]Latencies, len(kinds))
	uses := make([]usage, len(kinds))
	// One workflow of each kind in turn, again and again: a drift of the machine, or
	// work the server still does for the load before, falls on every kind alike.
	for range o.LAWorkflows {
		for k, kind := range kinds {
			base := seq.Add(n) - n
			m := e.meter()
			t := time.Now()
			run, err := e.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "acts-" + uuid.NewString(), TaskQueue: baselineQueue},
				wfActivities, ActivitiesInput{Kind: kind, N: n, SeqBase: base})
			if err == nil {
				err = run.Get(ctx, nil)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", kind, err)
			}
			lats[k].Add(time.Since(t))
			uses[k] = uses[k].plus(m.stop())
		}
	}
	for k, kind := range kinds {
		label := map[string]string{"regular-noop": "regular activity, no-op", "local-noop": "local activity, no-op",
			"regular-record": "regular activity, RecordCase", "local-record": "local activity, RecordCase (as Homeward)",
			"noop-upsert": "regular no-op + the case's 6 search attributes", "noop-timer": "regular no-op + an SLA timer left pending"}[kind]
		lat, u := &lats[k], uses[k]
		tb.add(label, ms(lat.Mean()), ms(lat.Mean()/n), per(u.server, o.LAWorkflows*n), per(u.self, o.LAWorkflows*n))
	}
	tb.note("RecordCase writes the case's state projection and a timeline event to SQLite, on a scratch case with a real case's state")
	tb.note("the last two rows less the first: what a search-attribute upsert and a pending timer add to a step (visibility on the dev server is SQLite)")
	tb.print(w)
	return nil
}

// scratchCase creates the case the Record activity writes to, directly in the case file.
func (e *env) scratchCase(ctx context.Context, state contract.CaseState) error {
	for i := range state.Procurement {
		state.Procurement[i].Payment = nil // no payment rows for the scratch case
	}
	now := time.Now().UTC()
	id := uuid.NewString()
	cs := &store.Case{ID: id, Status: "active", Stage: "Counselling", WaitingOn: "caseworker", StageEnteredAt: now,
		HostCountry: "DE", CountryOfReturn: "GN", SendingOffice: "DE-BER", ReceivingOffice: "GN-CKY", Programme: "REAG-GARP",
		Beneficiary: "{}", Household: "[]", Vulnerabilities: "[]", Consent: "{}", State: "{}", Currency: "EUR",
		CreatedBy: "bench", WorkflowID: "bench-scratch-" + id, CreatedAt: now, UpdatedAt: now}
	err := e.stack.Store.CreateCase(ctx, cs, nil, func(context.Context, *store.Case) (string, error) { return "bench", nil })
	if err != nil {
		return err
	}
	e.benchActs.caseID, e.benchActs.state = id, state
	return nil
}

func itoa(n int) string { return fmt.Sprint(n) }

var errPoolEmpty = errors.New("pool exhausted")
