package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/store"
)

// openConcurrency is how many registrations are sent at a time to open the cases.
const openConcurrency = 50

// openCases leaves many cases waiting at Counselling with the worker running, then
// watches the idle process, and times the next step of the first case registered
// (long out of the sticky cache if more cases are open than it holds) and of the
// last one (still cached).
func (e *env) openCases(ctx context.Context, o Options, w io.Writer, res *results) error {
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

	o.logf("registering %d cases through the API (concurrency %d)", o.OpenCases, openConcurrency)
	first, err := e.http.register(ctx)
	if err != nil {
		return err
	}
	m := e.meter()
	_, errs, firstErr, wall := runN(ctx, o.OpenCases-1, openConcurrency, func(ctx context.Context, _ int) error {
		_, err := e.http.register(ctx)
		return err
	})
	regUse := m.stop()
	if errs > 0 {
		return fmt.Errorf("%d registrations failed, first: %w", errs, firstErr)
	}
	// The last one registered has the highest number.
	var last string
	if err := db.QueryRowContext(ctx, `SELECT id FROM cases ORDER BY seq DESC LIMIT 1`).Scan(&last); err != nil {
		return err
	}
	o.logf("waiting for them to reach Counselling")
	settleStart := time.Now()
	stuck, err := e.drainIntake(ctx, 10*time.Minute)
	if err != nil {
		return err
	}
	settled := time.Since(settleStart) + wall
	time.Sleep(2 * time.Second)

	o.logf("watching the idle process for %s", o.IdleWindow)
	runtime.GC()
	m = e.meter()
	goroutines := runtime.NumGoroutine()
	time.Sleep(o.IdleWindow)
	idle := m.stop()
	rssAfter, heapAfter, srvRSSAfter := rssBytes(0), heapInUse(), rssBytes(e.serverPID)
	cacheSize := e.stickyCacheSize(ctx)

	firstStep, firstAnswer, err := e.nextStep(ctx, first)
	if err != nil {
		return err
	}
	lastStep, lastAnswer, err := e.nextStep(ctx, last)
	if err != nil {
		return err
	}
	res.openFirstStep = firstStep

	n := o.OpenCases
	tb := &table{title: fmt.Sprintf("4. Open cases: %d cases registered and left waiting at Counselling, worker running", n),
		head: []string{"", "value"}}
	tb.add(fmt.Sprintf("registration through the API (c=%d)", openConcurrency), fmt.Sprintf("%s s, %s cases/s; %s server CPU ms/case, %s homeward-process CPU ms/case",
		f1(wall.Seconds()), f1(float64(n)/wall.Seconds()), per(regUse.server, n), per(regUse.self, n)))
	tb.add("all at Counselling in the case file after", fmt.Sprintf("%s s", f1(settled.Seconds())))
	tb.add("open cases in the process (incl. earlier parts)", itoa(openBefore+n))
	tb.add("homeward process RSS", fmt.Sprintf("%s MiB before, %s MiB after (+%s KiB per case)", mib(rssBefore), mib(rssAfter),
		f1(float64(rssAfter-rssBefore)/1024/float64(n))))
	tb.add("Go heap in use (after GC)", fmt.Sprintf("%s MiB before, %s MiB after (+%s KiB per case)", mib(heapBefore), mib(heapAfter),
		f1(float64(heapAfter-heapBefore)/1024/float64(n))))
	tb.add("dev server RSS", fmt.Sprintf("%s MiB before, %s MiB after", mib(srvRSSBefore), mib(srvRSSAfter)))
	tb.add(fmt.Sprintf("idle %s: homeward process CPU", o.IdleWindow), fmt.Sprintf("%s cores (%s s), %d goroutines", f3(idle.selfCores()),
		f2(time.Duration(idle.self).Seconds()), goroutines))
	tb.add(fmt.Sprintf("idle %s: dev server CPU", o.IdleWindow), fmt.Sprintf("%s cores (%s s)", f3(idle.serverCores()), f2(time.Duration(idle.server).Seconds())))
	tb.add("sticky cache (shared by the process's workers)", fmt.Sprintf("%s cached workflows (SDK default size 10,000)", cacheSizeText(cacheSize)))
	tb.add("first-registered case: counselling", fmt.Sprintf("answered in %s ms, stage changed after %s ms", ms(firstAnswer), ms(firstStep)))
	tb.add("last-registered case: counselling", fmt.Sprintf("answered in %s ms, stage changed after %s ms", ms(lastAnswer), ms(lastStep)))
	if len(stuck) > 0 {
		tb.note("%s", e.lostRecords(ctx, stuck))
	}
	tb.note("a case evicted from the sticky cache is replayed from its history on its next task; the first case has been evicted if")
	tb.note("more than 10,000 workflows were cached after it. The driver polls the case file every 2 ms for the stage change.")
	tb.print(w)
	return nil
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

// stickyCacheSize reads the SDK's gauge of the shared sticky cache. Only the bench's
// own worker reports to this handler, so a trivial workflow runs first to refresh it.
func (e *env) stickyCacheSize(ctx context.Context) int64 {
	run, err := e.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "bare-gauge-" + uuid.NewString(), TaskQueue: baselineQueue}, wfBare, false)
	if err != nil || run.Get(ctx, nil) != nil {
		return -1
	}
	return e.metrics.gauge(mStickySize)
}

// nextStep records counselling on a case and times the answer and the change of stage.
func (e *env) nextStep(ctx context.Context, id string) (step, answer time.Duration, err error) {
	t := time.Now()
	if _, err := e.http.expect(ctx, "POST", "/api/v1/cases/"+id+"/counselling", "dev-caseworker",
		map[string]any{"outcome": "confirmed", "held_at": stamp()}, []int{http.StatusOK}); err != nil {
		return 0, 0, err
	}
	answer = time.Since(t)
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
