package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/store"
	"github.com/homeward/homeward/worker"
)

// openConcurrency is how many registrations are sent at a time to open the cases.
const openConcurrency = 50

// openPoint is what one size of the open population measured.
type openPoint struct {
	open                        int // cases this part opened and left at Counselling
	target                      int
	opened                      int // opened since the last point
	wall                        time.Duration
	use                         usage
	rss, heap, srvRSS           int64
	goroutines                  int
	cached                      int64
	idle                        usage
	cachedStep, evictedStep     *Latencies
	cachedSticky, evictedSticky int // steps whose update ran in a task from the worker's sticky queue
	failedTasks                 int // workflow tasks that failed in the steps' cases
	evictedHistory              int // events in an evicted case's history when its step began
	stopped                     string
}

// openCases grows a population of cases waiting at Counselling, one worker
// process serving them all, to each size of o.OpenSizes in turn (registered
// through the API), and at each size measures the memory of the process and of
// the dev server, the idle CPU, and the next step (counselling recorded) of cases
// out of the sticky cache beside cases in it. Opening stops at o.OpenBudget: the
// last point is then the size reached, and the table says so.
func (e *env) openCases(ctx context.Context, o Options, w io.Writer, res *results) error {
	if len(o.OpenSizes) == 0 {
		return nil
	}
	db, err := e.reader.SQL()
	if err != nil {
		return err
	}
	openBefore := 0
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM cases WHERE status = 'active'`).Scan(&openBefore); err != nil {
		return err
	}
	runtime.GC()
	rssBefore, heapBefore, srvRSSBefore := rssBytes(0), heapInUse(), rssBytes(e.serverPID)
	cacheSize := e.stack.Config.Temporal.StickyCacheSize
	deadline := time.Now().Add(o.OpenBudget)
	var ids []string // in the order their registration was answered
	var points []openPoint
	samples := max(o.OpenSamples, 1)

	for _, size := range o.OpenSizes {
		if size <= len(ids) {
			continue
		}
		p := openPoint{target: size}
		o.logf("opening cases %d to %d through the API (concurrency %d, budget left %s)", len(ids)+1, size, openConcurrency,
			time.Until(deadline).Round(time.Second))
		m := e.meter()
		added, err := e.openUntil(ctx, size-len(ids), deadline)
		ids = append(ids, added...)
		if err != nil {
			return err
		}
		p.open, p.opened = len(ids), len(added)
		o.logf("waiting for them to reach Counselling")
		stuck, err := e.drainIntake(ctx, 10*time.Minute)
		p.use = m.stop()
		p.wall = p.use.wall
		if err != nil {
			return err
		}
		if len(stuck) > 0 {
			return fmt.Errorf("%s", e.lostRecords(ctx, stuck))
		}
		if p.open < size {
			rate := float64(p.opened) / p.wall.Seconds()
			p.stopped = fmt.Sprintf("stopped at %d of %d: the opening budget (%s) ran out; at %s cases/s the other %d would take %s more",
				p.open, size, o.OpenBudget, f1(rate), size-p.open, (time.Duration(float64(size-p.open)/rate) * time.Second).Round(time.Minute))
		}

		time.Sleep(2 * time.Second)
		o.logf("%d open: watching the idle process for %s", p.open, o.IdleWindow)
		runtime.GC()
		m = e.meter()
		p.goroutines = runtime.NumGoroutine()
		time.Sleep(o.IdleWindow)
		p.idle = m.stop()
		p.rss, p.heap, p.srvRSS = rssBytes(0), heapInUse(), rssBytes(e.serverPID)
		p.cached = e.stickyCacheSize(ctx)

		// The next step of the oldest cases (out of the cache once more are open than
		// it holds) and of the newest (in it), in turns, so drift falls on both.
		p.cachedStep, p.evictedStep = &Latencies{}, &Latencies{}
		old, err := e.atCounselling(ctx, samples, false)
		if err != nil {
			return err
		}
		recent, err := e.atCounselling(ctx, samples, true)
		if err != nil {
			return err
		}
		if d, err := e.tc.DescribeWorkflowExecution(ctx, contract.WorkflowID(old[0]), ""); err == nil {
			p.evictedHistory = int(d.GetWorkflowExecutionInfo().GetHistoryLength())
		}
		for i := range min(len(old), len(recent)) {
			order := []string{old[i], recent[i]}
			if i%2 == 1 {
				order = []string{recent[i], old[i]}
			}
			for _, id := range order {
				step, _, err := e.nextStep(ctx, id, nil)
				if err != nil {
					return err
				}
				sticky, failed, err := e.updateTask(ctx, id)
				if err != nil {
					return err
				}
				p.failedTasks += failed
				if os.Getenv("HOMEWARD_BENCH_DEBUG_HISTORY") != "" && i == 0 {
					e.dumpHistory(ctx, o.Progress, contract.WorkflowID(id))
				}
				if id == old[i] {
					p.evictedStep.Add(step)
					p.evictedSticky += sticky
				} else {
					p.cachedStep.Add(step)
					p.cachedSticky += sticky
				}
			}
		}
		points = append(points, p)
		if res.openFirstStep == 0 || p.open >= len(ids) {
			res.openFirstStep = p.evictedStep.Quantile(.5)
		}
		if p.stopped != "" {
			break
		}
	}

	tb := &table{title: fmt.Sprintf("4. Open cases: a population left waiting at Counselling, grown to %s, one worker process (sticky cache %s)",
		joinSizes(o.OpenSizes), itoa(cacheSize)),
		head: []string{"open", "opened at (to Counselling)", "process RSS MiB", "KiB/open case", "KiB/case added", "Go heap MiB", "goroutines", "cached",
			"dev server RSS MiB", "KiB/open case", "KiB/case added", "idle cores (process/server)", "step cached p50/max ms", "step evicted p50/max ms", "evicted/cached p50", "sticky (cached/evicted)", "failed tasks"}}
	prev := openPoint{rss: rssBefore, srvRSS: srvRSSBefore}
	for _, p := range points {
		n, added := float64(p.open), float64(p.opened)
		tb.add(itoa(p.open), fmt.Sprintf("%s/s", f1(added/p.wall.Seconds())),
			mib(p.rss), f1(float64(p.rss-rssBefore)/1024/n), f1(float64(p.rss-prev.rss)/1024/added),
			mib(p.heap), itoa(p.goroutines), cacheSizeText(p.cached),
			mib(p.srvRSS), f1(float64(p.srvRSS-srvRSSBefore)/1024/n), f1(float64(p.srvRSS-prev.srvRSS)/1024/added),
			f3(p.idle.selfCores())+" / "+f3(p.idle.serverCores()),
			ms(p.cachedStep.Quantile(.5))+" / "+ms(p.cachedStep.Quantile(1)),
			ms(p.evictedStep.Quantile(.5))+" / "+ms(p.evictedStep.Quantile(1)),
			f2(float64(p.evictedStep.Quantile(.5))/float64(p.cachedStep.Quantile(.5))),
			fmt.Sprintf("%d / %d of %d", p.cachedSticky, p.evictedSticky, p.cachedStep.Len()), itoa(p.failedTasks))
		prev = p
	}
	var opened, regCPU, selfCPU int
	var wall time.Duration
	for _, p := range points {
		opened += p.opened
		wall += p.wall
		regCPU += int(p.use.server)
		selfCPU += int(p.use.self)
	}
	if opened > 0 {
		tb.note("opened through the API (POST /cases, %d at a time) until all were at Counselling: %d cases in %s, %s cases/s; per case %s ms server CPU, %s ms homeward-process CPU",
			openConcurrency, opened, wall.Round(time.Second), f1(float64(opened)/wall.Seconds()),
			per(CPU(regCPU), opened), per(CPU(selfCPU), opened))
	}
	tb.note("before: process RSS %s MiB, Go heap %s MiB, dev server RSS %s MiB, %d cases already open from earlier parts; KiB/open case = growth since / open",
		mib(rssBefore), mib(heapBefore), mib(srvRSSBefore), openBefore)
	tb.note("the process is the one worker and also the API, the simulator and this driver; the dev server keeps its database in memory")
	tb.note("idle: %s watched after the cases settled; Go heap in use after a GC", o.IdleWindow)
	tb.note("step: counselling recorded through the API until the case file shows Screening (the driver polls it every 2 ms); %d cases", samples)
	tb.note("  of each kind, in turns: those whose case file changed first (evicted: out of the cache once more cases are open than it")
	tb.note("  holds) and last (cached: the cache evicts the least recently used);")
	if len(points) > 0 {
		tb.note("  an evicted case's history was %d events long; sticky = the update's workflow task came from the worker's sticky queue",
			points[len(points)-1].evictedHistory)
	}
	tb.note("  (a cached case), not the task queue with the whole history (the worker released the evicted case: worker/evicted.go);")
	tb.note("  failed tasks = WorkflowTaskFailed events in the histories of the cases stepped")
	ev := worker.Evictions()
	tb.note("evictions the worker released to the task queue: %d; skipped (back in the cache first) %d; failed %d",
		ev.Released, ev.Skipped, ev.Failed)
	for _, p := range points {
		if p.stopped != "" {
			tb.note("%s", p.stopped)
		}
	}
	tb.print(w)
	return nil
}

// openUntil registers n cases through the API, openConcurrency at a time, and
// stops starting more at the deadline (those under way finish). It returns the
// IDs in the order the registrations were answered.
func (e *env) openUntil(ctx context.Context, n int, deadline time.Time) ([]string, error) {
	var (
		mu    sync.Mutex
		ids   []string
		first error
		next  atomic.Int64
		wg    sync.WaitGroup
	)
	for range min(openConcurrency, n) {
		wg.Go(func() {
			for int(next.Add(1)) <= n && time.Now().Before(deadline) && ctx.Err() == nil {
				id, err := e.http.register(ctx)
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				if err == nil {
					ids = append(ids, id)
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	if first != nil {
		return ids, fmt.Errorf("a registration failed: %w", first)
	}
	return ids, nil
}

// atCounselling returns n of the cases waiting at Counselling: those whose case
// file changed last (their workflow's last task was the latest: in the sticky
// cache, which evicts the least recently used), or first (evicted first).
func (e *env) atCounselling(ctx context.Context, n int, last bool) ([]string, error) {
	db, err := e.reader.SQL()
	if err != nil {
		return nil, err
	}
	order := "ASC"
	if last {
		order = "DESC"
	}
	rows, err := db.QueryContext(ctx, store.Rebind(e.reader.Driver(),
		`SELECT id FROM cases WHERE status = 'active' AND stage = 'Counselling' ORDER BY updated_at `+order+`, seq `+order+` LIMIT ?`), n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	if len(ids) < n {
		return nil, fmt.Errorf("only %d cases wait at Counselling, %d wanted", len(ids), n)
	}
	return ids, rows.Err()
}

func joinSizes(xs []int) string {
	s := ""
	for i, x := range xs {
		if i > 0 {
			s += ", "
		}
		s += itoa(x)
	}
	return s
}

func cacheSizeText(n int64) string {
	if n < 0 {
		return "n/a"
	}
	return itoa(int(n))
}

func heapInUse() int64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse)
}

// stickyCacheSize reads the SDK's gauge of the shared sticky cache. The gauge
// changes when a workflow enters or leaves the cache, so a trivial workflow
// runs first to refresh it.
func (e *env) stickyCacheSize(ctx context.Context) int64 {
	run, err := e.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "bare-gauge-" + uuid.NewString(), TaskQueue: baselineQueue}, wfBare, false)
	if err != nil || run.Get(ctx, nil) != nil {
		return -1
	}
	return e.metrics.gauge(mStickySize)
}

// updateTask says whether the workflow task that ran a case's first update came
// from the worker's sticky queue (1) or the task queue (0), and how many of its
// workflow tasks failed.
func (e *env) updateTask(ctx context.Context, id string) (sticky, failed int, err error) {
	it := e.tc.GetWorkflowHistory(ctx, contract.WorkflowID(id), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	queue, found := "", false
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return 0, 0, err
		}
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
			if !found {
				queue = ev.GetWorkflowTaskScheduledEventAttributes().GetTaskQueue().GetName()
			}
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED:
			failed++
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
			found = true
		}
	}
	if !found {
		return 0, 0, fmt.Errorf("case %s: no update in its history", id)
	}
	if queue != e.stack.Config.Temporal.TaskQueue {
		sticky = 1
	}
	return sticky, failed, nil
}

// nextStep records counselling on a case and times the answer and the change of
// stage; answered (if not nil) runs as soon as the answer came.
func (e *env) nextStep(ctx context.Context, id string, answered func()) (step, answer time.Duration, err error) {
	t := time.Now()
	if _, err := e.http.expect(ctx, "POST", "/api/v1/cases/"+id+"/counselling", "dev-caseworker",
		map[string]any{"outcome": "confirmed", "held_at": stamp()}, []int{http.StatusOK}); err != nil {
		return 0, 0, err
	}
	answer = time.Since(t)
	if answered != nil {
		answered()
	}
	db, err := e.reader.SQL()
	if err != nil {
		return 0, 0, err
	}
	for {
		var stage string
		if err := db.QueryRowContext(ctx, store.Rebind(e.reader.Driver(), `SELECT stage FROM cases WHERE id = ?`), id).Scan(&stage); err != nil {
			return 0, 0, err
		}
		if stage == string(contract.StageScreening) {
			return time.Since(t), answer, nil
		}
		if time.Since(t) > time.Minute {
			return 0, 0, fmt.Errorf("case %s did not reach Screening within a minute", id)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
