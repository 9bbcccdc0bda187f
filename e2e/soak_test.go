package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/partners"
	"github.com/homeward/homeward/simulator"
	"github.com/homeward/homeward/stack"
	"github.com/homeward/homeward/store"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
)

// TestSoak drives many cases through the API at once, each on a random path drawn
// from a fixed seed (withdrawals at random stages, no-shows, rejected and changed
// plans, high risks cleared or not, unfit returnees, undelivered items, skipped
// visits), while a share of all partner calls fails and the worker process is
// restarted every few seconds. Then it stops, lets the cases settle, and checks the
// invariants of every case. Its last line counts what it did:
//
//	soak: cases=N faults_injected=N worker_restarts=N invariants_checked=N violations=0
//
// HOMEWARD_SOAK=short is the short one (make test's serial phase, make soak-short:
// 30 cases, ~25s, graceful restarts).
// HOMEWARD_SOAK=long runs the long one (make soak: 500 cases, ~3 min, every fourth
// restart a SIGKILL); HOMEWARD_SOAK_SEED, _CASES, _DURATION, _CONCURRENCY,
// _FAILURE_RATE, _RESTART_EVERY and _DB (sqlite or postgres) change it. The seed
// and a case's number fix that case's path (what is decided, when it is withdrawn,
// what the medical provider finds); which partner calls fail and when the worker
// restarts depend on timing too, so a violation is replayed by its seed and case
// number, and the report shows what the driver did and the case's history.
func TestSoak(t *testing.T) {
	// It restarts worker processes and loads the machine: make test runs the short
	// one in its serial phase, after the other packages.
	if os.Getenv("HOMEWARD_SOAK") == "" {
		t.Skip("set HOMEWARD_SOAK=short or long (make soak-short, make soak)")
	}
	p := soakParams(t)
	fmt.Printf("soak: seed=%d cases=%d duration=%s concurrency=%d failure_rate=%.2f restart_every=%s db=%s (HOMEWARD_SOAK_SEED=%d replays it)\n",
		p.seed, p.cases, p.duration, p.concurrency, p.failureRate, p.restartEvery, p.db, p.seed)

	bin := buildHomewardBinary(t)
	cfg := testConfig(t, p.db)
	cfg.Simulator.Seed = p.seed
	cfg.Rules.MonitoringOffsets = []time.Duration{2 * time.Second, 4 * time.Second, 6 * time.Second}
	var apiLog apiLogBuffer // the API logs the cause of a 500: the report shows it
	h := startWith(t, stack.Options{Config: cfg, Temporal: temporalClient(), NoWorker: true,
		Logger: slog.New(slog.NewJSONHandler(&apiLog, &slog.HandlerOptions{Level: slog.LevelError}))})
	require.NoError(t, h.s.Simulator.SetFault("*", simulator.Fault{FailureRate: p.failureRate, Mode: simulator.ModeUnavailable}))
	w := h.workerProcess(bin, h.s.SimURL)
	w.quiet = true // its log is long; the report below says what happened to each case
	w.start()

	d := &soakDriver{h: h, p: p, until: time.Now().Add(p.duration)}
	cases := make([]*soakCase, p.cases)
	for i := range cases {
		cases[i] = newSoakCase(p.seed, i)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sem := make(chan struct{}, p.concurrency)
		var wg sync.WaitGroup
		for _, c := range cases {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				d.drive(c)
			})
		}
		wg.Wait()
	}()

	// The worker is restarted every restartEvery while the cases are driven: most
	// often gracefully (SIGTERM), every fourth time with SIGKILL in the long run.
	restarts := 0
	tick := time.NewTicker(p.restartEvery)
	for running := true; running; {
		select {
		case <-done:
			running = false
		case <-tick.C:
			restarts++
			if p.long && restarts%4 == 0 {
				w.kill()
			} else if !w.signal(syscall.SIGTERM, 20*time.Second) {
				w.kill()
			}
			w.start()
		}
	}
	tick.Stop()

	// Heal the partners and let every case settle: nothing under way in Temporal.
	require.NoError(t, h.s.Simulator.SetFault("*", simulator.Fault{}))
	var ids []string
	for _, c := range cases {
		if c.id != "" {
			ids = append(ids, c.id)
		}
	}
	settled := d.settle(ids, p.settle)
	counts := h.s.Simulator.Counts()
	faults := 0
	for _, n := range counts.FailuresInjected {
		faults += n
	}

	chk := &invariants{h: h, counts: counts}
	chk.check("every case driven was registered", len(ids) == len(cases), "%d of %d cases registered", len(ids), len(cases))
	chk.check("every case settled", settled == nil, "%v", settled)
	for _, c := range cases {
		for _, e := range c.unexpected {
			chk.check("the API accepts each valid action", false, "case %d (%s): %s", c.n, c.id, e)
		}
		if c.id != "" {
			chk.checkCase(c)
		}
	}
	chk.noOrphans(ids)

	outcomes := map[string]int{}
	for _, c := range cases {
		outcomes[c.outcome]++
	}
	// Everything goes to stdout, in order, so that the count is the last line
	// whether or not go test runs with -v.
	fmt.Printf("soak: outcomes %v; driver timeouts %d; actions retried after a stale view %d; partner calls %v; failures injected %v; replays %v\n",
		outcomes, d.timeouts.Load(), d.staleRetries.Load(), counts.Calls, counts.FailuresInjected, counts.Replays)
	for _, v := range chk.violations {
		fmt.Printf("soak: VIOLATION %s\n", v)
	}
	if len(chk.violations) > 0 && apiLog.String() != "" {
		fmt.Printf("soak: the API's errors:\n%s", apiLog.String())
	}
	for _, c := range cases {
		if chk.bad[c.id] {
			fmt.Printf("soak: case %d (%s): what the driver did:\n  %s\nits last run's history:\n  %s\n", c.n, c.id,
				strings.Join(c.log, "\n  "), strings.Join(chk.historyOf(c.id), "\n  "))
		}
	}
	fmt.Printf("soak: cases=%d faults_injected=%d worker_restarts=%d invariants_checked=%d violations=%d\n",
		len(ids), faults, restarts, chk.checked, len(chk.violations))
	if len(chk.violations) > 0 {
		t.Fail() // the violations are listed above
	}
}

// ---- parameters ----

type soakParameters struct {
	long         bool
	seed         int64
	cases        int
	duration     time.Duration // how long cases are driven; then they settle
	settle       time.Duration
	concurrency  int
	failureRate  float64
	restartEvery time.Duration
	db           string
}

func soakParams(t *testing.T) soakParameters {
	p := soakParameters{seed: 20261120, cases: 30, duration: 20 * time.Second, settle: 60 * time.Second,
		concurrency: 30, failureRate: 0.15, restartEvery: 5 * time.Second, db: "sqlite"}
	if os.Getenv("HOMEWARD_SOAK") == "long" {
		p.long, p.cases, p.duration, p.settle, p.concurrency, p.restartEvery = true, 500, 150*time.Second, 120*time.Second, 40, 10*time.Second
	}
	env := func(name string, parse func(string) error) {
		if v := os.Getenv("HOMEWARD_SOAK_" + name); v != "" {
			require.NoError(t, parse(v), "HOMEWARD_SOAK_%s=%s", name, v)
		}
	}
	env("SEED", func(v string) (err error) { p.seed, err = strconv.ParseInt(v, 10, 64); return })
	env("CASES", func(v string) (err error) { p.cases, err = strconv.Atoi(v); return })
	env("DURATION", func(v string) (err error) { p.duration, err = time.ParseDuration(v); return })
	env("CONCURRENCY", func(v string) (err error) { p.concurrency, err = strconv.Atoi(v); return })
	env("FAILURE_RATE", func(v string) (err error) { p.failureRate, err = strconv.ParseFloat(v, 64); return })
	env("RESTART_EVERY", func(v string) (err error) { p.restartEvery, err = time.ParseDuration(v); return })
	env("DB", func(v string) error { p.db = v; return nil })
	return p
}

// ---- each case's path ----

// soakCase is one case of the soak: its path, drawn from the seed and its number,
// and what happened to it.
type soakCase struct {
	n   int
	rng *rand.Rand

	withdrawAt  contract.Stage // "" for none
	withdrawWhy string
	counselling string // confirmed or withdrawn
	risk        string
	clearance   string // for a high risk: cleared or not_cleared
	medical     []string
	eligible    bool
	noShows     int
	plans       [][]map[string]any // the plan versions submitted
	decisions   []string           // the decision on each version
	deliver     bool               // record every delivery
	visits      int                // visits reported

	id         string
	outcome    string   // where the driver left it
	expect     string   // the closure reason its path ends in, if it ran to its end
	decided    int      // plan decisions accepted
	unexpected []string // answers a valid action should not get
	log        []string // what the driver saw, for the report of a violation
}

func (c *soakCase) note(format string, args ...any) {
	c.log = append(c.log, time.Now().Format("15:04:05.000 ")+fmt.Sprintf(format, args...))
}

func newSoakCase(seed int64, n int) *soakCase {
	r := rand.New(rand.NewPCG(uint64(seed), uint64(n)))
	c := &soakCase{n: n, rng: r, counselling: "confirmed", risk: "low", eligible: true, deliver: true, visits: 3}
	chance := func(p float64) bool { return r.Float64() < p }
	if chance(0.25) {
		stages := []contract.Stage{contract.StageCounselling, contract.StageScreening, contract.StageMedicalClearance,
			contract.StageTravel, contract.StageReintegrationPlanning, contract.StagePlanApproval,
			contract.StageProcurement, contract.StageMonitoring}
		c.withdrawAt = stages[r.IntN(len(stages))]
		c.withdrawWhy = []string{"withdrawn", "deceased", "absconded"}[r.IntN(3)]
	}
	if chance(0.05) {
		c.counselling = "withdrawn"
	}
	switch x := r.Float64(); {
	case x < 0.15:
		c.risk, c.clearance = "high", map[bool]string{true: "cleared", false: "not_cleared"}[chance(0.7)]
	case x < 0.45:
		c.risk = "medium"
	}
	switch x := r.Float64(); {
	case x < 0.06:
		c.medical = []string{"unfit"}
	case x < 0.09:
		c.medical = []string{"unfit_temporary"} // reassessed in a day: it waits on the provider
	case x < 0.2:
		c.medical = []string{"fit_with_escort"}
	}
	c.eligible = !chance(0.03)
	switch x := r.Float64(); {
	case x < 0.05:
		c.noShows = 3 // more than max_rebookings (2): closed as a no-show
	case x < 0.2:
		c.noShows = 1
	}
	for v := 0; ; v++ {
		c.plans = append(c.plans, randomPlan(r))
		switch x := r.Float64(); {
		case v < 2 && x < 0.12:
			c.decisions = append(c.decisions, "reject")
			continue
		case v < 2 && x < 0.25:
			c.decisions = append(c.decisions, "request_changes")
			continue
		}
		c.decisions = append(c.decisions, "approve")
		break
	}
	c.deliver = !chance(0.08)
	if chance(0.1) {
		c.visits = r.IntN(3)
	}
	return c
}

// randomPlan is one to three items within the household's cap (EUR 1,500).
func randomPlan(r *rand.Rand) []map[string]any {
	kinds := []string{"cash", "in_kind", "service", "referral"}
	var items []map[string]any
	budget := 1500
	for range 1 + r.IntN(3) {
		kind := kinds[r.IntN(len(kinds))]
		amount := 0
		if kind != "referral" {
			amount = 50 + r.IntN(budget/3/50)*50
			budget -= amount
		}
		items = append(items, cost(kind, fmt.Sprintf("%d.00", amount)))
	}
	return items
}

// ---- the driver ----

type soakDriver struct {
	h            *homeward
	p            soakParameters
	until        time.Time
	timeouts     atomic.Int64
	staleRetries atomic.Int64
}

var (
	errSoakOver   = errors.New("the drive is over")
	errCaseClosed = errors.New("the case closed")
)

// drive takes a case along its path, through the API, until the path ends or
// the drive is over.
func (d *soakDriver) drive(c *soakCase) {
	err := d.path(c)
	switch {
	case err == nil:
		c.outcome = "path done"
	case errors.Is(err, errSoakOver):
		c.outcome = "drive over"
	case errors.Is(err, errCaseClosed):
		c.outcome = "closed early"
		c.unexpected = append(c.unexpected, err.Error())
	default:
		c.outcome = "stopped: " + strings.SplitN(err.Error(), ":", 2)[0]
		if strings.Contains(err.Error(), "timed out") {
			d.timeouts.Add(1)
		} else {
			c.unexpected = append(c.unexpected, err.Error())
		}
	}
}

func (d *soakDriver) path(c *soakCase) error {
	r, err := d.send(c, "POST", "/api/v1/cases", "dev-caseworker", registration(), fmt.Sprintf("soak-%d", c.n),
		http.StatusCreated, http.StatusOK)
	if err != nil {
		return err
	}
	var reg struct{ ID string }
	if err := json.Unmarshal(r.Body, &reg); err != nil {
		return err
	}
	c.id = reg.ID
	sim := d.h.s.Simulator
	if c.medical != nil {
		if err := sim.ScriptMedical(c.id, simulator.MedicalScript{Results: c.medical, ReassessAfterDays: 1}); err != nil {
			return err
		}
	}
	if !c.eligible {
		sim.ScriptEligibility(c.id, partners.Eligibility{Eligible: false, Reason: "outside the programme's scope"})
	}

	// withdraw ends the path at stage (or the first stage after it that the driver
	// sees: some pass in a moment) if the case is to be withdrawn there.
	withdraw := func(stage contract.Stage) (bool, error) {
		if c.withdrawAt != stage {
			return false, nil
		}
		_, err := d.waitFor(c, "stage "+string(stage)+" or later", func(v caseView) bool {
			return v.Status == contract.StatusActive && slices.Index(contract.Stages, v.Stage) >= slices.Index(contract.Stages, stage)
		})
		if errors.Is(err, errCaseClosed) {
			return true, nil // its path closed it first (not fit, say): no withdrawal
		}
		if err != nil {
			return true, err
		}
		err = d.act(c, "/withdrawal", "dev-caseworker", map[string]any{"reason": c.withdrawWhy}, "withdraw")
		if err == nil {
			c.expect = c.withdrawWhy
		}
		return true, err
	}
	step := func(stage contract.Stage, f func() error) (bool, error) {
		if end, err := withdraw(stage); end || err != nil {
			return true, err
		}
		return false, f()
	}

	if end, err := step(contract.StageCounselling, func() error {
		if _, err := d.waitStage(c, contract.StageCounselling); err != nil {
			return err
		}
		return d.act(c, "/counselling", "dev-caseworker", map[string]any{"outcome": c.counselling, "held_at": now()}, "counsel")
	}); end || err != nil {
		return err
	}
	if c.counselling == "withdrawn" {
		c.expect = "withdrawn"
		return nil
	}
	if end, err := step(contract.StageScreening, func() error {
		if _, err := d.waitStage(c, contract.StageScreening); err != nil {
			return err
		}
		return d.act(c, "/screening", "dev-caseworker", map[string]any{"risk": c.risk, "flags": []string{}}, "screen")
	}); end || err != nil {
		return err
	}
	if c.risk == "high" {
		if _, err := d.waitFor(c, "waiting for clearance", func(v caseView) bool { return v.WaitingOn == contract.WaitingApprover }); err != nil {
			return err
		}
		if err := d.act(c, "/screening/clearance", "dev-approver", map[string]any{"decision": c.clearance, "comment": "reviewed"}, "clear"); err != nil {
			return err
		}
		if c.clearance == "not_cleared" {
			c.expect = "ineligible"
			return nil
		}
	}
	if !c.eligible {
		c.expect = "ineligible"
		return nil
	}
	if end, err := step(contract.StageMedicalClearance, func() error { return nil }); end || err != nil {
		return err
	}
	switch {
	case slices.Contains(c.medical, "unfit"):
		c.expect = "not_fit"
		return nil
	case slices.Contains(c.medical, "unfit_temporary"):
		_, err := d.waitFor(c, "a temporary unfitness", func(v caseView) bool {
			return v.Medical != nil && v.Medical.Result == contract.MedicalUnfitTemporary
		})
		return err
	}

	for attempt := 1; ; attempt++ {
		if end, err := withdraw(contract.StageTravel); end || err != nil {
			return err
		}
		if _, err := d.waitFor(c, fmt.Sprintf("flight %d ticketed", attempt), func(v caseView) bool {
			return v.Stage == contract.StageTravel && v.Travel != nil && v.Travel.Attempt == attempt && v.Travel.BookingStatus == "ticketed"
		}); err != nil {
			return err
		}
		if attempt <= c.noShows {
			if err := d.act(c, "/departure", "dev-caseworker", map[string]any{"no_show": true}, fmt.Sprintf("no-show-%d", attempt)); err != nil {
				return err
			}
			if attempt > 2 { // max_rebookings
				c.expect = "no_show"
				return nil
			}
			continue
		}
		if err := d.act(c, "/departure", "dev-caseworker", map[string]any{"departed_at": now(), "flight": "HW" + strconv.Itoa(attempt)}, "depart"); err != nil {
			return err
		}
		break
	}

	for v, items := range c.plans {
		if end, err := step(contract.StageReintegrationPlanning, func() error {
			if _, err := d.waitStage(c, contract.StageReintegrationPlanning); err != nil {
				return err
			}
			return d.act(c, "/plan", "dev-caseworker-gn", map[string]any{"items": items}, fmt.Sprintf("plan-%d", v))
		}); end || err != nil {
			return err
		}
		if end, err := step(contract.StagePlanApproval, func() error {
			if _, err := d.waitStage(c, contract.StagePlanApproval); err != nil {
				return err
			}
			approver := []string{"dev-approver-gn", "dev-approver"}[c.rng.IntN(2)]
			if err := d.act(c, "/plan/decisions", approver, map[string]any{"decision": c.decisions[v], "comment": "reviewed"},
				fmt.Sprintf("decision-%d", v)); err != nil {
				return err
			}
			c.decided++
			return nil
		}); end || err != nil {
			return err
		}
	}

	if end, err := step(contract.StageProcurement, func() error {
		if !c.deliver {
			return nil
		}
		inKind := 0
		for _, it := range c.plans[len(c.plans)-1] {
			if it["kind"] == "in_kind" {
				inKind++
			}
		}
		if inKind == 0 {
			return nil
		}
		v, err := d.waitFor(c, "orders", func(v caseView) bool {
			n := 0
			for _, p := range v.Procurement {
				if p.Status == "ordered" {
					n++
				}
			}
			return v.Stage == contract.StageProcurement && n == inKind
		})
		if err != nil {
			return err
		}
		for _, p := range v.Procurement {
			if p.Status == "ordered" {
				if err := d.act(c, "/procurement/"+p.ItemID+"/delivery", "dev-procurement",
					map[string]any{"delivered_at": now(), "handover_certificate": "HC-" + p.ItemID}, "deliver-"+p.ItemID); err != nil {
					return err
				}
			}
		}
		return nil
	}); end || err != nil {
		return err
	}
	if !c.deliver && slices.ContainsFunc(c.plans[len(c.plans)-1], func(it map[string]any) bool { return it["kind"] == "in_kind" }) {
		return nil // it waits on procurement
	}

	for visit := 1; visit <= 3; visit++ {
		if end, err := withdraw(contract.StageMonitoring); end || err != nil {
			return err
		}
		if visit > c.visits {
			return nil // it waits on the caseworker
		}
		if _, err := d.waitFor(c, fmt.Sprintf("visit %d due", visit), func(v caseView) bool {
			return len(v.Monitoring) == 3 && v.Monitoring[visit-1].Status == "due"
		}); err != nil {
			return err
		}
		if err := d.act(c, "/monitoring", "dev-caseworker-gn", map[string]any{"visit": visit, "visited_at": now(),
			"scores": map[string]any{"economic": c.rng.Float64(), "social": c.rng.Float64(), "psychosocial": c.rng.Float64()}},
			fmt.Sprintf("visit-%d", visit)); err != nil {
			return err
		}
	}
	c.expect = "completed"
	return nil
}

// act sends an action with an Idempotency-Key of the case and step.
func (d *soakDriver) act(c *soakCase, suffix, token string, body any, step string) error {
	_, err := d.send(c, "POST", "/api/v1/cases/"+c.id+suffix, token, body, c.id+"/"+step, http.StatusOK)
	return err
}

// send retries what a client retries (503, no connection) with the same key, and
// reports any other answer than want.
//
// A client also retries, once and a second later, an action refused because the
// case is not where the client saw it a moment ago. When a worker dies after a
// workflow task wrote its steps to the case file and before the task completed,
// the task's next attempt writes them again, in order: meanwhile the case file can
// show a step the workflow has not committed (the action is refused as not
// possible yet: 409), or an earlier step again (an approver no longer sees the
// case: 404). A person looking at the case sees the same thing and clicks again;
// refused twice is a violation.
func (d *soakDriver) send(c *soakCase, method, path, token string, body any, key string, want ...int) (response, error) {
	giveUp := time.Now().Add(75 * time.Second) // the API gives up on Temporal after 30s: two tries and more
	staleRetried := false
	for {
		var headers []string
		if key != "" {
			headers = []string{"Idempotency-Key", key}
		}
		r, err := d.h.attempt(method, path, token, body, headers...)
		c.note("%s %s -> %d %v", method, strings.TrimPrefix(path, "/api/v1/cases/"+c.id), r.Status, err)
		switch {
		case err == nil && slices.Contains(want, r.Status):
			return r, nil
		case err == nil && !staleRetried && c.id != "" && strings.HasPrefix(path, "/api/v1/cases/"+c.id+"/") &&
			(r.Status == http.StatusConflict && wrongStage(r.Body) || r.Status == http.StatusNotFound):
			staleRetried = true
			d.staleRetries.Add(1)
			<-time.After(time.Second)
			continue
		case err == nil && r.Status != http.StatusServiceUnavailable:
			return r, fmt.Errorf("%s %s answered %d: %s", method, strings.TrimPrefix(path, "/api/v1/cases/"+c.id), r.Status, r.Body)
		case err != nil && !isTransient(err) && !strings.Contains(err.Error(), "connection refused"):
			return r, err
		case time.Now().After(giveUp):
			return r, fmt.Errorf("%s %s: timed out retrying (%d, %v): %s", method, strings.TrimPrefix(path, "/api/v1/cases/"+c.id),
				r.Status, err, r.Body)
		}
		<-time.After(250 * time.Millisecond)
	}
}

// wrongStage says whether a 409 refuses an action as not possible now (not a duplicate).
func wrongStage(body []byte) bool {
	return !bytes.Contains(body, []byte("already")) && !bytes.Contains(body, []byte("closed"))
}

// waitFor polls the case until cond holds. A closed case that cond does not
// accept ends the path early (errCaseClosed).
func (d *soakDriver) waitFor(c *soakCase, what string, cond func(caseView) bool) (caseView, error) {
	deadline := time.Now().Add(90 * time.Second)
	pause := 150*time.Millisecond + time.Duration(c.rng.IntN(100))*time.Millisecond
	for {
		var v caseView
		r, err := d.h.attempt("GET", "/api/v1/cases/"+c.id, "dev-manager", nil)
		if err == nil && r.Status == http.StatusOK {
			if err := json.Unmarshal(r.Body, &v); err != nil {
				return v, err
			}
			if cond(v) {
				c.note("GET: %s %s waiting on %q seq %d (%s)", v.Stage, v.Status, v.WaitingOn, v.Seq, what)
				return v, nil
			}
			if v.Status == contract.StatusClosed {
				return v, fmt.Errorf("%w (%s) while waiting for %s", errCaseClosed, v.ClosureReason, what)
			}
		} else if err == nil && r.Status != http.StatusServiceUnavailable {
			return v, fmt.Errorf("GET answered %d: %s", r.Status, r.Body)
		}
		switch now := time.Now(); {
		case now.After(d.until):
			return v, errSoakOver
		case now.After(deadline):
			return v, fmt.Errorf("timed out waiting for %s (stage %s, waiting on %q)", what, v.Stage, v.WaitingOn)
		}
		<-time.After(pause)
	}
}

func (d *soakDriver) waitStage(c *soakCase, stage contract.Stage) (caseView, error) {
	return d.waitFor(c, "stage "+string(stage), func(v caseView) bool { return v.Stage == stage })
}

// settle waits until no case has anything under way in Temporal: no pending
// activity, no workflow task to run.
func (d *soakDriver) settle(ids []string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for _, id := range ids {
		for {
			desc, err := d.h.s.Temporal.DescribeWorkflowExecution(context.Background(), contract.WorkflowID(id), "")
			if err == nil && (desc.WorkflowExecutionInfo.Status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING ||
				len(desc.PendingActivities) == 0 && desc.PendingWorkflowTask == nil) {
				break
			}
			if time.Now().After(deadline) {
				what := "?"
				if err == nil {
					what = fmt.Sprintf("%d pending activities, workflow task %v", len(desc.PendingActivities), desc.PendingWorkflowTask != nil)
					for _, a := range desc.PendingActivities {
						what += fmt.Sprintf("; %s attempt %d: %s", a.ActivityType.GetName(), a.Attempt, a.LastFailure.GetMessage())
					}
				}
				return fmt.Errorf("case %s has not settled after %s: %s (%v)", id, within, what, err)
			}
			<-time.After(100 * time.Millisecond)
		}
	}
	return nil
}

// ---- the invariants ----

type invariants struct {
	h          *homeward
	counts     simulator.Counts
	checked    int
	violations []string
	bad        map[string]bool // cases with a violation
}

func (iv *invariants) check(what string, ok bool, format string, args ...any) {
	iv.checked++
	if !ok {
		msg := fmt.Sprintf(format, args...)
		iv.violations = append(iv.violations, what+": "+msg)
		if iv.bad == nil {
			iv.bad = map[string]bool{}
		}
		if _, id, found := strings.Cut(msg, "("); found {
			iv.bad[strings.SplitN(id, ")", 2)[0]] = true
		}
	}
}

// historyOf summarises the events of a case's last run.
func (iv *invariants) historyOf(id string) []string {
	it := iv.h.s.Temporal.GetWorkflowHistory(context.Background(), contract.WorkflowID(id), "", false,
		enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var out []string
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return append(out, err.Error())
		}
		line := e.EventTime.AsTime().Format("15:04:05.000 ") + strings.TrimPrefix(e.EventType.String(), "EVENT_TYPE_")
		switch {
		case e.GetWorkflowExecutionUpdateAcceptedEventAttributes() != nil:
			line += " " + e.GetWorkflowExecutionUpdateAcceptedEventAttributes().GetAcceptedRequest().GetInput().GetName()
		case e.GetMarkerRecordedEventAttributes() != nil:
			line += " " + e.GetMarkerRecordedEventAttributes().GetMarkerName()
		case e.GetActivityTaskScheduledEventAttributes() != nil:
			line += " " + e.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()
		}
		out = append(out, line)
	}
	return out
}

// people a case can wait on.
var namedWaiters = []contract.WaitingOn{contract.WaitingCaseworker, contract.WaitingApprover, contract.WaitingProcurement,
	contract.WaitingMedicalProvider, contract.WaitingReceivingOffice}

func (iv *invariants) checkCase(c *soakCase) {
	id := c.id
	st, row, err := iv.agreeingStates(id)
	iv.check("the case file agrees with its workflow", err == nil, "case %d (%s): %v", c.n, id, err)
	if err != nil {
		return
	}

	// Closed, or waiting on someone named, or in monitoring between visits.
	between := st.Stage == contract.StageMonitoring && st.WaitingOn == contract.WaitingNobody &&
		slices.ContainsFunc(st.Monitoring, func(v contract.VisitState) bool { return v.Status == "scheduled" })
	iv.check("every case is closed or waiting on someone named",
		st.Status == contract.StatusClosed || slices.Contains(namedWaiters, st.WaitingOn) || between,
		"case %d (%s) is %s in %s waiting on %q (blocked: %q)", c.n, id, st.Status, st.Stage, st.WaitingOn, st.Blocked)
	if c.outcome == "path done" && c.expect != "" {
		iv.check("a path that ends in a closure closes so", st.Status == contract.StatusClosed && string(st.ClosureReason) == c.expect,
			"case %d (%s): expected closed %s, is %s %s in %s", c.n, id, c.expect, st.Status, st.ClosureReason, st.Stage)
	}

	// Every plan item paid at most once, exactly once if delivered, and the case
	// file knows every payment the partner made.
	paidInFile := map[string]int{}
	payments, err := iv.h.s.Store.Payments(context.Background(), id)
	iv.check("the case file's payments can be read", err == nil, "%v", err)
	for _, p := range payments {
		paidInFile[p.ItemID]++
	}
	for _, p := range st.Procurement {
		partner := iv.counts.PaymentsByItem[id+"/"+p.ItemID]
		iv.check("every plan item is paid at most once", partner <= 1 && paidInFile[p.ItemID] <= 1,
			"case %d (%s) item %s: the partner paid %d times, the case file has %d payments", c.n, id, p.ItemID, partner, paidInFile[p.ItemID])
		if p.Delivery != nil {
			iv.check("every delivered item is paid exactly once", partner == 1 && p.Payment != nil,
				"case %d (%s) item %s delivered: the partner paid %d times, the case says %s", c.n, id, p.ItemID, partner, p.Status)
		}
		iv.check("the case file knows every payment", (partner == 1) == (p.Payment != nil) && (partner == 1) == (paidInFile[p.ItemID] == 1),
			"case %d (%s) item %s: the partner paid %d times; the case says %s, the case file has %d payments",
			c.n, id, p.ItemID, partner, p.Status, paidInFile[p.ItemID])
	}
	for item, n := range iv.counts.PaymentsByItem {
		if strings.HasPrefix(item, id+"/") {
			iv.check("nothing is paid outside the plan", slices.ContainsFunc(st.Procurement, func(p contract.ProcurementItem) bool {
				return id+"/"+p.ItemID == item
			}), "case %d (%s): the partner paid %s %d times, which the case does not procure", c.n, id, item, n)
		}
	}

	// No booking both ticketed and cancelled; a closed case holds no seat.
	b := iv.counts.BookingsByCase[id]
	iv.check("no booking both ticketed and cancelled", b.Ticketed+b.Cancelled <= b.Held,
		"case %d (%s): held %d, ticketed %d, cancelled %d", c.n, id, b.Held, b.Ticketed, b.Cancelled)
	if st.Status == contract.StatusClosed && (st.Travel == nil || st.Travel.DepartedAt == nil) {
		iv.check("a case closed before departure holds no seat", b.Ticketed+b.Cancelled == b.Held,
			"case %d (%s) closed %s in %s: held %d, ticketed %d, cancelled %d (its booking: %s)", c.n, id,
			st.ClosureReason, row.Stage, b.Held, b.Ticketed, b.Cancelled, bookingStatus(st))
	}

	// Every decision in the timeline has one actor, and each accepted decision is there once.
	evs, err := iv.h.s.Store.Timeline(context.Background(), id)
	iv.check("the timeline can be read", err == nil, "%v", err)
	decisions := 0
	for _, e := range evs {
		switch e.Type {
		case "plan_decision", "clearance", "counselling", "screening", "departed", "no_show", "delivered", "visit":
			iv.check("every decision has one actor", e.ActorUser != "" && e.ActorRole != "" && !strings.Contains(e.ActorUser, ","),
				"case %d (%s): %s event by %q (%q)", c.n, id, e.Type, e.ActorUser, e.ActorRole)
		}
		if e.Type == "plan_decision" {
			decisions++
		}
	}
	iv.check("each accepted plan decision is in the timeline once", decisions == c.decided,
		"case %d (%s): %d decisions accepted, %d in the timeline", c.n, id, c.decided, decisions)
}

func bookingStatus(st contract.CaseState) string {
	if st.Travel == nil {
		return "none"
	}
	return st.Travel.BookingStatus
}

// agreeingStates reads the workflow's state (its query while it runs, its result
// once closed) and the case's row, and says how they differ. A timer may fire
// between the two reads, so they are read again a few times before it counts.
func (iv *invariants) agreeingStates(id string) (contract.CaseState, *store.Case, error) {
	var err error
	for range 5 {
		var st contract.CaseState
		var row *store.Case
		if st, err = iv.workflowState(id); err != nil {
			continue
		}
		if row, err = iv.h.s.Store.CaseByID(context.Background(), id); err != nil {
			continue
		}
		var fromRow contract.CaseState
		if err = json.Unmarshal([]byte(row.State), &fromRow); err != nil {
			continue
		}
		want, _ := json.Marshal(st)
		got, _ := json.Marshal(fromRow)
		switch {
		case string(st.Stage) != row.Stage || string(st.Status) != row.Status || string(st.ClosureReason) != row.ClosureReason ||
			string(st.WaitingOn) != row.WaitingOn || st.Seq != row.StateSeq:
			err = fmt.Errorf("the workflow says %s/%s/%s waiting on %q at seq %d; the row %s/%s/%s waiting on %q at seq %d",
				st.Stage, st.Status, st.ClosureReason, st.WaitingOn, st.Seq, row.Stage, row.Status, row.ClosureReason, row.WaitingOn, row.StateSeq)
		case string(want) != string(got):
			err = fmt.Errorf("the states differ at seq %d (%s):\n workflow  %s\n case file %s", st.Seq, iv.lostTasks(id), want, got)
		default:
			return st, row, nil
		}
		<-time.After(300 * time.Millisecond)
	}
	return contract.CaseState{}, nil, err
}

// lostTasks tells, for a disagreement, how many workflow tasks of the case's run
// were lost (timed out or failed): a task's local activities may have written the
// case file before it was lost.
func (iv *invariants) lostTasks(id string) string {
	it := iv.h.s.Temporal.GetWorkflowHistory(context.Background(), contract.WorkflowID(id), "", false,
		enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var lost []string
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return err.Error()
		}
		switch e.EventType {
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT, enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED:
			lost = append(lost, fmt.Sprintf("%s at %s", strings.TrimPrefix(e.EventType.String(), "WorkflowTask"),
				e.EventTime.AsTime().Format("15:04:05.000")))
		}
	}
	return fmt.Sprintf("lost workflow tasks of its last run: %v", lost)
}

func (iv *invariants) workflowState(id string) (contract.CaseState, error) {
	var st contract.CaseState
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := iv.h.s.Temporal.QueryWorkflow(ctx, contract.WorkflowID(id), "", contract.QueryState)
	if err != nil {
		// A closed workflow's state is its result.
		if err := iv.h.s.Temporal.GetWorkflow(ctx, contract.WorkflowID(id), "").Get(ctx, &st); err != nil {
			return st, fmt.Errorf("neither query nor result: %w", err)
		}
		return st, nil
	}
	return st, v.Get(&st)
}

// noOrphans: the case file and Temporal know the same cases.
func (iv *invariants) noOrphans(ids []string) {
	listed := iv.h.workflowIDsOnQueue()
	for _, wid := range listed {
		_, err := iv.h.s.Store.CaseByID(context.Background(), strings.TrimPrefix(wid, "case-"))
		iv.check("every workflow has its case", err == nil, "workflow %s: %v", wid, err)
	}
	iv.check("every case has its workflow", len(listed) == len(ids), "%d workflows for %d cases", len(listed), len(ids))
}
