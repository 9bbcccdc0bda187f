package e2e

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/partners"
	"github.com/homeward/homeward/simulator"
	"github.com/homeward/homeward/soak"
	"github.com/homeward/homeward/stack"
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

	d := &soak.Driver{API: soakAPI{h}, Partners: localPartners{h.s.Simulator}, Temporal: h.s.Temporal,
		Tokens: soak.DevTokens(), Until: time.Now().Add(p.duration)}
	cases := make([]*soak.Case, p.cases)
	for i := range cases {
		cases[i] = soak.NewCase(p.seed, i)
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
				d.Drive(c)
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
		if c.ID != "" {
			ids = append(ids, c.ID)
		}
	}
	settled := d.Settle(ids, p.settle)
	counts := h.s.Simulator.Counts()
	faults := 0
	for _, n := range counts.FailuresInjected {
		faults += n
	}

	chk := &soak.Invariants{Temporal: h.s.Temporal, Store: h.s.Store, Counts: counts, TaskQueue: h.s.Config.Temporal.TaskQueue}
	chk.CheckDriven(cases, ids, settled)
	chk.NoOrphans(ids)

	outcomes := map[string]int{}
	for _, c := range cases {
		outcomes[c.Outcome]++
	}
	// Everything goes to stdout, in order, so that the count is the last line
	// whether or not go test runs with -v.
	fmt.Printf("soak: outcomes %v; driver timeouts %d; actions retried after a stale view %d; partner calls %v; failures injected %v; replays %v\n",
		outcomes, d.Timeouts.Load(), d.StaleRetries.Load(), counts.Calls, counts.FailuresInjected, counts.Replays)
	for _, v := range chk.Violations {
		fmt.Printf("soak: VIOLATION %s\n", v)
	}
	if len(chk.Violations) > 0 && apiLog.String() != "" {
		fmt.Printf("soak: the API's errors:\n%s", apiLog.String())
	}
	for _, c := range cases {
		if chk.Bad[c.ID] {
			fmt.Printf("soak: case %d (%s): what the driver did:\n  %s\nits last run's history:\n  %s\n", c.N, c.ID,
				strings.Join(c.Log, "\n  "), strings.Join(chk.HistoryOf(c.ID), "\n  "))
		}
	}
	fmt.Printf("soak: cases=%d faults_injected=%d worker_restarts=%d invariants_checked=%d violations=%d\n",
		len(ids), faults, restarts, chk.Checked, len(chk.Violations))
	if len(chk.Violations) > 0 {
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

// soakAPI is the test's API client for the soak's driver: every answer is
// checked against the contract.
type soakAPI struct{ h *homeward }

func (a soakAPI) Attempt(method, path, token string, body any, headers ...string) (soak.Response, error) {
	r, err := a.h.attempt(method, path, token, body, headers...)
	return soak.Response(r), err
}

// localPartners is the simulator in this process, scripted directly.
type localPartners struct{ *simulator.Simulator }

func (p localPartners) ScriptEligibility(caseID string, e partners.Eligibility) error {
	p.Simulator.ScriptEligibility(caseID, e)
	return nil
}
