// Command homewardbench measures Homeward against the Temporal engine's own limit
// on this machine (make bench): see package bench. It prints a table per part and,
// last, one SUMMARY line.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/homeward/homeward/bench"
	"github.com/homeward/homeward/devserver"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "homewardbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	quick := false
	for _, a := range args {
		if a == "-quick" || a == "--quick" || a == "-quick=true" || a == "--quick=true" {
			quick = true
		}
	}
	o := bench.Defaults()
	if quick {
		o = bench.Quick()
	}
	wd, _ := os.Getwd()
	cli, _ := devserver.FindCLI(wd)
	histories := ""
	if cli != "" {
		histories = newestHistories(filepath.Join(filepath.Dir(filepath.Dir(cli)), "workflows", "testdata", "histories"))
	}

	fs := flag.NewFlagSet("homewardbench", flag.ContinueOnError)
	fs.Bool("quick", false, "a short smoke run (small counts, 1s of load per level), under a minute")
	only := fs.String("only", "", "comma-separated parts to run: "+strings.Join(bench.Parts, ",")+" (default: all)")
	fs.StringVar(&o.CLI, "temporal-cli", cli, "the Temporal CLI (bin/temporal)")
	fs.StringVar(&o.Histories, "histories", histories, "folder with completed-run1.json and completed-run2.json")
	fs.StringVar(&o.PostgresDSN, "postgres", os.Getenv("HOMEWARD_BENCH_POSTGRES_DSN"),
		"Postgres DSN for the reads part too (a database is created and dropped); default $HOMEWARD_BENCH_POSTGRES_DSN")
	fs.StringVar(&o.CaseDB, "case-db", "sqlite", "the stack's case file: sqlite (as homeward dev) or postgres (a fresh database on -postgres's server)")
	fs.IntVar(&o.Cases, "cases", o.Cases, "throughput: cases driven through the whole lifecycle")
	fs.IntVar(&o.Rounds, "rounds", o.Rounds, "throughput: rounds of each side, taking turns (H B B H ...), so that a drift of the machine's speed falls on both")
	fs.IntVar(&o.Concurrency, "concurrency", o.Concurrency, "throughput: cases at a time")
	fs.IntVar(&o.LAWorkflows, "activity-workflows", o.LAWorkflows, "throughput: workflows of 10 activities per kind in the activity-cost table")
	fs.IntVar(&o.PersistenceCases, "persistence-cases", o.PersistenceCases, "persistence: cases driven one at a time while the dev server's persistence requests are counted")
	levels := fs.String("levels", joinInts(o.Levels), "api: concurrency levels")
	fs.DurationVar(&o.LoadDuration, "duration", o.LoadDuration, "api: load per endpoint and level")
	fs.IntVar(&o.DecisionCases, "decision-cases", o.DecisionCases, "api: cases prepared at PlanApproval for the decisions")
	fs.IntVar(&o.UpdateTargets, "update-targets", o.UpdateTargets, "api: bare workflows that take the bare updates")
	fs.IntVar(&o.ReadCases, "read-cases", o.ReadCases, "reads: cases seeded in the database")
	readSizes := fs.String("read-sizes", joinInts(o.ReadSizes), "reads: on Postgres, the sizes the case file grows to in turn (newest cases first), measured at each")
	fs.IntVar(&o.ReadRequests, "read-requests", o.ReadRequests, "reads: requests per query")
	openSizes := fs.String("open-sizes", joinInts(o.OpenSizes), "open: sizes the population of open cases grows to, in turn (one worker process serves them all)")
	fs.DurationVar(&o.OpenBudget, "open-budget", o.OpenBudget, "open: how long opening cases may take in all; the growth stops there and says so")
	fs.IntVar(&o.OpenSamples, "open-samples", o.OpenSamples, "open: next steps timed per size, of evicted and of cached cases each")
	fs.IntVar(&o.StickyCache, "sticky-cache", o.StickyCache, "open: the worker's sticky cache size (default: temporal.sticky_cache_size)")
	fs.DurationVar(&o.IdleWindow, "idle", o.IdleWindow, "open: how long the idle process is watched")
	fs.IntVar(&o.Replays, "replays", o.Replays, "replay: replays of each history")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "throughput: write a CPU profile of this process (worker, API, simulator, driver) while Homeward's cases run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *only != "" {
		o.Only = strings.Split(*only, ",")
	}
	var err error
	if o.Levels, err = parseInts(*levels); err != nil {
		return fmt.Errorf("-levels: %w", err)
	}
	if o.ReadSizes, err = parseInts(*readSizes); err != nil {
		return fmt.Errorf("-read-sizes: %w", err)
	}
	if o.OpenSizes, err = parseInts(*openSizes); err != nil {
		return fmt.Errorf("-open-sizes: %w", err)
	}
	if o.CLI == "" {
		return fmt.Errorf("no Temporal CLI found: run from the repository (make bench builds bin/temporal) or pass -temporal-cli")
	}
	o.Progress = os.Stderr
	// The stack's Temporal client, built from the one given to it, logs through the
	// SDK's default logger, which writes every activity and timer to os.Stdout at
	// debug level: the tables go to the real stdout, os.Stdout to /dev/null.
	out := os.Stdout
	if devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0); err == nil {
		os.Stdout = devNull
		defer func() { os.Stdout = out; _ = devNull.Close() }()
	}
	start := time.Now()
	defer func() { fmt.Fprintf(os.Stderr, "homewardbench: done in %s\n", time.Since(start).Round(time.Second)) }()
	return bench.Run(ctx, o, out)
}

// newestHistories is the folder of the newest workflow version's histories (v<N>).
func newestHistories(dir string) string {
	newest, best := "", -1
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if n, err := strconv.Atoi(strings.TrimPrefix(e.Name(), "v")); e.IsDir() && err == nil && n > best {
			newest, best = filepath.Join(dir, e.Name()), n
		}
	}
	return newest
}

func joinInts(xs []int) string {
	var s []string
	for _, x := range xs {
		s = append(s, strconv.Itoa(x))
	}
	return strings.Join(s, ",")
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("want positive integers, got %q", p)
		}
		out = append(out, n)
	}
	return out, nil
}
