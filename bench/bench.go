// Package bench measures how close Homeward runs to the Temporal engine's own
// limit on one machine (issue 10): whole cases through the API beside a baseline
// workflow that does the same engine work with no logic, the API under load beside
// a bare Gin handler, reads over 100,000 seeded cases, many open cases, and replay.
// It starts its own dev server (in memory, with the dynamic configuration
// `homeward dev` uses) and its own stack (SQLite in a temporary folder, the
// simulator with no latency). Absolute figures drift between hours on a shared
// machine; the ratios come from one run and are what to compare.
package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/homeward/homeward/codec"
	"github.com/homeward/homeward/config"
	"github.com/homeward/homeward/devserver"
	"github.com/homeward/homeward/stack"
	"github.com/homeward/homeward/store"
	"github.com/homeward/homeward/store/storetest"
)

// Parts are the six measurements, in the order they run.
var Parts = []string{"throughput", "persistence", "api", "reads", "open", "replay"}

// Options say what to measure and how much.
type Options struct {
	Only        []string // parts to run; empty: all
	CLI         string   // bin/temporal
	Histories   string   // folder with completed-run1.json and completed-run2.json
	PostgresDSN string   // reads on Postgres too, when set
	// CaseDB is the stack's own case file: "sqlite" (the default, as homeward dev
	// runs) or "postgres" (a fresh database on PostgresDSN's server).
	CaseDB string

	Cases       int // 1: cases driven through the whole lifecycle
	Rounds      int // 1: Homeward and the baseline take turns, in this many rounds of each (ABBA order)
	Concurrency int
	LAWorkflows int // workflows of 10 activities per kind in the activity-cost table

	PersistenceCases int // cases whose persistence requests on the dev server are counted

	Levels        []int         // 2: concurrency levels
	LoadDuration  time.Duration // per level and endpoint
	DecisionCases int           // cases prepared at PlanApproval for decisions
	UpdateTargets int           // bare workflows that take the bare updates

	ReadCases    int   // 3: cases seeded (SQLite; Postgres too when ReadSizes is empty)
	ReadSizes    []int // Postgres: the case file grown to each size in turn, measured at each
	ReadRequests int   // per query

	OpenSizes   []int         // 4: sizes the population of cases waiting at Counselling grows to, in turn
	OpenBudget  time.Duration // how long opening cases may take in all; the growth stops there
	OpenSamples int           // next steps timed per size, of evicted and of cached cases each
	StickyCache int           // the worker's sticky cache; 0: the configuration's (temporal.sticky_cache_size)
	IdleWindow  time.Duration // how long the idle worker is watched

	Replays int // 5: replays of each history

	CPUProfile string // if set, a CPU profile of this process while Homeward's cases run (part 1)

	Progress io.Writer // progress lines (stderr); nil: none
}

// Defaults are the full run's figures (make bench), chosen to finish in about ten
// minutes on a 2-core machine.
func Defaults() Options {
	return Options{Cases: 200, Rounds: 4, Concurrency: 20, LAWorkflows: 5, PersistenceCases: 50, Levels: []int{1, 10, 50}, LoadDuration: 5 * time.Second,
		DecisionCases: 400, UpdateTargets: 50, ReadCases: 100_000, ReadRequests: 200, ReadSizes: []int{100_000, 1_000_000},
		OpenSizes: []int{10_000, 30_000, 100_000}, OpenBudget: 20 * time.Minute, OpenSamples: 10,
		IdleWindow: 10 * time.Second, Replays: 100}
}

// Quick is a smoke run that completes in well under a minute.
func Quick() Options {
	return Options{Cases: 10, Rounds: 2, Concurrency: 5, LAWorkflows: 2, PersistenceCases: 5, Levels: []int{1, 10, 50}, LoadDuration: time.Second,
		DecisionCases: 40, UpdateTargets: 20, ReadCases: 5_000, ReadRequests: 30, ReadSizes: []int{2_000, 5_000},
		OpenSizes: []int{150, 300}, OpenBudget: time.Minute, OpenSamples: 3, StickyCache: 100,
		IdleWindow: 2 * time.Second, Replays: 10}
}

// results gathers what the summary line needs.
type results struct {
	homewardRate, baselineRate float64
	decisionP99Ratio           float64
	decisionAPIRatio           float64 // the API's decision p99 / the same update's without the API
	decisionP99Level           int
	listP99                    map[string]time.Duration // by database
	replay                     time.Duration
	openFirstStep              time.Duration
	persistenceRatio           float64       // persistence requests per case / the budget
	readRatio                  float64       // issue 19.6: the worst p99 at the last size / at the first, Postgres
	readP99Last                time.Duration // and the worst p99 at the last size
}

func (o Options) runs(part string) bool { return len(o.Only) == 0 || slices.Contains(o.Only, part) }

func (o Options) logf(format string, args ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "[bench %s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
}

// Run runs the parts asked for and prints a table per part and, last, one SUMMARY line.
func Run(ctx context.Context, o Options, w io.Writer) error {
	for _, p := range o.Only {
		if !slices.Contains(Parts, p) {
			return fmt.Errorf("unknown part %q (parts: %s)", p, strings.Join(Parts, ","))
		}
	}
	res := &results{listP99: map[string]time.Duration{}}
	if len(o.Levels) > 0 {
		res.decisionP99Level = o.Levels[len(o.Levels)-1]
	}
	started := time.Now()
	fmt.Fprintf(w, "Homeward benchmark — %s, %d CPUs, %s, GOMAXPROCS=%d, load average %s\n", time.Now().UTC().Format(time.RFC3339),
		runtime.NumCPU(), runtime.Version(), runtime.GOMAXPROCS(0), loadAverage())

	needsStack := o.runs("throughput") || o.runs("persistence") || o.runs("api") || o.runs("reads") || o.runs("open")
	var e *env
	if needsStack {
		var err error
		if e, err = startEnv(ctx, o); err != nil {
			return err
		}
		defer e.stop()
		where := e.stack.Config.Database.DSN
		if e.stack.Config.Database.Driver == "postgres" {
			where = "a fresh Postgres database"
		}
		fmt.Fprintf(w, "dev server pid %d (in memory, %s); stack: case file on %s (%s), simulator latency 0, callbacks after %s\n",
			e.serverPID, e.dev.Address(), e.stack.Config.Database.Driver, where, e.stack.Config.Simulator.CallbackDelay)
	}
	steps := []struct {
		part string
		run  func() error
	}{
		{"throughput", func() error { return e.throughput(ctx, o, w, res) }},
		{"persistence", func() error { return e.persistence(ctx, o, w, res) }},
		{"api", func() error { return e.apiLoad(ctx, o, w, res) }},
		{"reads", func() error { return e.reads(ctx, o, w, res) }},
		{"open", func() error { return e.openCases(ctx, o, w, res) }},
		{"replay", func() error { return replay(o, w, res) }},
	}
	for _, s := range steps {
		if !o.runs(s.part) {
			continue
		}
		o.logf("part %s", s.part)
		if err := s.run(); err != nil {
			return fmt.Errorf("%s: %w", s.part, err)
		}
	}
	fmt.Fprintf(w, "\n(total %s; load average at the end %s)\n", time.Since(started).Round(time.Second), loadAverage())
	fmt.Fprintln(w, res.summary())
	return nil
}

func (r *results) summary() string {
	na := func(ok bool, s string) string {
		if !ok {
			return "n/a"
		}
		return s
	}
	var b strings.Builder
	b.WriteString("SUMMARY")
	fmt.Fprintf(&b, " cases/s=%s baseline=%s overhead_ratio=%s", na(r.homewardRate > 0, f2(r.homewardRate)),
		na(r.baselineRate > 0, f2(r.baselineRate)), na(r.baselineRate > 0, f2(r.homewardRate/r.baselineRate)))
	fmt.Fprintf(&b, " decision_p99_ratio(c=%d)=%s", r.decisionP99Level, na(r.decisionP99Ratio > 0, f2(r.decisionP99Ratio)))
	fmt.Fprintf(&b, " decision_api_ratio(c=%d)=%s", r.decisionP99Level, na(r.decisionAPIRatio > 0, f2(r.decisionAPIRatio)))
	fmt.Fprintf(&b, " list_p99=%s", na(r.listP99["sqlite"] > 0, ms(r.listP99["sqlite"])+"ms"))
	if d, ok := r.listP99["postgres"]; ok {
		fmt.Fprintf(&b, " list_p99_pg=%sms", ms(d))
	}
	fmt.Fprintf(&b, " persistence_ratio=%s", na(r.persistenceRatio > 0, f2(r.persistenceRatio)))
	fmt.Fprintf(&b, " open_first_step=%s", na(r.openFirstStep > 0, ms(r.openFirstStep)+"ms"))
	if r.readRatio > 0 {
		fmt.Fprintf(&b, " read_p99_last=%sms read_p99_ratio=%s", ms(r.readP99Last), f2(r.readRatio))
	}
	fmt.Fprintf(&b, " replay=%s", na(r.replay > 0, ms(r.replay)+"ms"))
	return b.String()
}

// loadAverage is /proc/loadavg's first three figures: other work on the machine
// during a run shows here.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// baselineQueue is the task queue of the bench's own workflows (baseline, bare, activity costs).
const baselineQueue = "homeward-bench-baseline"

// env is the running system under measurement.
type env struct {
	o          Options
	dir        string
	dev        *devserver.Server
	metricsURL string // the dev server's own Prometheus metrics
	tc         client.Client
	serverPID  int
	stack      *stack.Stack
	reader     *store.Store // a second pool on the case file, for the driver's reads
	bw         sdkworker.Worker
	metrics    *sdkMetrics
	ring       *codec.KeyRing
	http       *apiClient
	dropCaseDB func()
	benchActs  *benchActivities
	watchers   *watchers // the driver's waits, woken by the stack's case-file writes
}

func startEnv(ctx context.Context, o Options) (_ *env, err error) {
	e := &env{o: o, metrics: newSDKMetrics()}
	defer func() {
		if err != nil {
			e.stop()
		}
	}()
	if e.dir, err = os.MkdirTemp("", "homeward-bench-"); err != nil {
		return nil, err
	}
	o.logf("starting the dev server (%s)", o.CLI)
	metricsPort, err := freePort()
	if err != nil {
		return nil, err
	}
	if e.dev, err = devserver.Start(ctx, devserver.Options{CLI: o.CLI, Namespace: "default", MetricsPort: metricsPort}); err != nil {
		return nil, err
	}
	e.metricsURL = fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)
	_, port, _ := net.SplitHostPort(e.dev.Address())
	if e.serverPID, err = findDevServer(port); err != nil {
		return nil, err
	}
	// The bench's own client carries a metrics handler, so the sticky cache can be watched.
	e.tc, err = client.DialContext(ctx, client.Options{HostPort: e.dev.Address(), Namespace: "default",
		// Homeward's connection (no gzip: its payloads are ciphertext); the bare
		// engine's side shares it, so both talk to the server alike.
		ConnectionOptions: codec.Connection(),
		MetricsHandler:    e.metrics, Logger: tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))})
	if err != nil {
		return nil, err
	}

	cfg, err := benchConfig(filepath.Join(e.dir, "homeward.db"))
	if err != nil {
		return nil, err
	}
	if o.StickyCache > 0 {
		cfg.Temporal.StickyCacheSize = o.StickyCache
	}
	switch o.CaseDB {
	case "", "sqlite":
	case "postgres":
		if o.PostgresDSN == "" {
			return nil, fmt.Errorf("a case file on Postgres needs a DSN (-postgres or HOMEWARD_BENCH_POSTGRES_DSN)")
		}
		if cfg.Database.DSN, e.dropCaseDB, err = storetest.CreateDatabase(ctx, o.PostgresDSN, "homeward_bench"); err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
		cfg.Database.Driver = "postgres"
	default:
		return nil, fmt.Errorf("unknown case database %q (sqlite or postgres)", o.CaseDB)
	}
	o.logf("starting the stack (worker, API, simulator)")
	// Homeward encrypts every payload (its own key ring); the bench's workflows do not.
	e.ring = codec.GenerateKeyRing()
	if e.stack, err = stack.Start(ctx, stack.Options{Config: cfg, Temporal: e.tc, Ring: e.ring, Metrics: e.metrics}); err != nil {
		return nil, err
	}
	// The driver reads the case file (its sealed state too) with the stack's keys.
	if e.reader, err = stack.OpenCaseFile(e.stack.Config.Database, false); err != nil {
		return nil, err
	}
	e.watchers = newWatchers()
	e.stack.Store.OnWritten(e.watchers.written)
	e.http = newAPIClient(e.stack.APIURL)
	e.benchActs = &benchActivities{store: e.stack.Store}
	e.bw = newBenchWorker(e.tc, e.benchActs)
	if err = e.bw.Start(); err != nil {
		return nil, err
	}
	return e, nil
}

// benchConfig is Homeward's default configuration with the bench's database, free
// ports, no partner latency, quick callbacks and monitoring visits that fall due at
// once, so a case's lifecycle is its work and not its timers. SLAs keep their
// defaults (days): no case becomes overdue during a run.
func benchConfig(dsn string) (config.Config, error) {
	cfg, err := config.Load("", func(string) string { return "" })
	if err != nil {
		return cfg, err
	}
	cfg.Database.Driver, cfg.Database.DSN = "sqlite", dsn
	cfg.Database.KeysFile, cfg.Database.Keys = filepath.Join(filepath.Dir(dsn), "database-keys.json"), ""
	cfg.Codec.KeysFile, cfg.Codec.Keys = filepath.Join(filepath.Dir(dsn), "codec-keys.json"), ""
	cfg.Temporal.TaskQueue = "homeward-bench"
	cfg.HTTP.Address, cfg.Dev.SimulatorAddress = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Simulator.Latency, cfg.Simulator.CallbackDelay = 0, 10*time.Millisecond
	cfg.Rules.MonitoringOffsets = []time.Duration{time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond}
	return cfg, cfg.Validate()
}

func (e *env) stop() {
	if e.bw != nil {
		e.bw.Stop()
	}
	if e.stack != nil {
		e.stack.Stop()
	}
	if e.reader != nil {
		_ = e.reader.Close()
	}
	if e.tc != nil {
		e.tc.Close()
	}
	if e.dev != nil {
		_ = e.dev.Stop()
	}
	if e.dropCaseDB != nil {
		e.dropCaseDB()
	}
	if e.dir != "" {
		_ = os.RemoveAll(e.dir)
	}
}
