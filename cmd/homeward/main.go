// Command homeward runs Homeward: `dev` runs everything on one machine; `api`,
// `worker`, `simulator` and `migrate` are the production pieces.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/homeward/homeward/activities"
	"github.com/homeward/homeward/api"
	"github.com/homeward/homeward/codec"
	"github.com/homeward/homeward/config"
	"github.com/homeward/homeward/partners"
	"github.com/homeward/homeward/simulator"
	"github.com/homeward/homeward/stack"
	"github.com/homeward/homeward/store"
	"github.com/homeward/homeward/worker"
	"github.com/homeward/homeward/workspace"
	"go.temporal.io/sdk/client"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "homeward:", err)
		os.Exit(1)
	}
}

const usage = `usage: homeward [--config FILE] COMMAND

commands:
  dev        everything on one machine: Temporal dev server and UI, simulator, worker, API (SQLite)
  api        the HTTP API
  worker     the Temporal worker (case workflows and activities)
  simulator  the simulator of partner services
  migrate    apply the database migrations
  keys rotate  add a new active payload encryption key to codec.keys_file`

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("homeward", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", "", "YAML configuration file (or HOMEWARD_CONFIG)")
	fs.Usage = func() { fmt.Fprintln(stderr, usage) }
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() < 1 {
		fs.Usage()
		return errors.New("one command expected")
	}
	cfg, err := config.Load(*file, getenv)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	switch fs.Arg(0) {
	case "dev":
		return dev(ctx, cfg, logger, stdout)
	case "api":
		return serveAPI(ctx, cfg, logger)
	case "worker":
		return runWorker(ctx, cfg, logger)
	case "simulator":
		sim := simulator.New(simulator.Options{APIURL: cfg.Simulator.APIURL, APIToken: cfg.Simulator.APIToken,
			CallbackDelay: cfg.Simulator.CallbackDelay, Latency: cfg.Simulator.Latency,
			FailureRate: cfg.Simulator.FailureRate, Seed: cfg.Simulator.Seed, APIKey: cfg.Services.APIKey,
			Logger: logger.With("component", "simulator")})
		logger.Info("simulator listening", "address", cfg.Dev.SimulatorAddress)
		return sim.ListenAndServe(ctx, cfg.Dev.SimulatorAddress)
	case "keys":
		if fs.NArg() != 2 || fs.Arg(1) != "rotate" {
			return errors.New("usage: homeward keys rotate")
		}
		id, err := codec.RotateKeyRingFile(cfg.Codec.KeysFile)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "new active key %s in %s; restart the api and workers to use it (older keys still decode)\n", id, cfg.Codec.KeysFile)
		return nil
	case "migrate":
		st, err := store.Open(cfg.Database.Driver, cfg.Database.DSN)
		if err != nil {
			return err
		}
		defer st.Close()
		n, err := st.Migrate(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "migrations applied: %d\n", n)
		if role := cfg.Database.AppRole; role != "" && cfg.Database.Driver == "postgres" {
			if err := st.GrantApplication(ctx, role); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "granted %s the application's privileges (audit_log: INSERT and SELECT only)\n", role)
		}
		return nil
	}
	fs.Usage()
	return fmt.Errorf("unknown command %q", fs.Arg(0))
}

func dev(ctx context.Context, cfg config.Config, logger *slog.Logger, stdout io.Writer) error {
	fmt.Fprintf(stdout, "Starting Homeward on this machine (data in %s/)...\n", cfg.Dev.DataDir)
	ring, created, err := codec.Load(cfg.Codec.Keys, cfg.Codec.KeysFile, true)
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(stdout, "Created a payload encryption key in %s (keep it: without it the cases' histories cannot be read).\n", cfg.Codec.KeysFile)
	}
	// The UI on this machine decodes payloads without a token: it sends tokens
	// only over HTTPS. Production never sets this.
	cfg.Codec.TrustLoopbackUI = true
	s, err := stack.Start(ctx, stack.Options{Config: cfg, Logger: logger, Ring: ring})
	if err != nil {
		return err
	}
	defer s.Stop()
	fmt.Fprintf(stdout, "\nHomeward is running.\n")
	fmt.Fprintf(stdout, "  Workspace    %s/   (sign in as one of the dev people below)\n", s.APIURL)
	fmt.Fprintf(stdout, "  API          %s/api/v1   (contract: %s/openapi.yaml)\n", s.APIURL, s.APIURL)
	fmt.Fprintf(stdout, "  Temporal UI  %s   (payloads are encrypted; this UI decodes them through %s/codec)\n", s.UIURL, s.APIURL)
	fmt.Fprintf(stdout, "  Temporal     %s (namespace %s, task queue %s)\n", s.Config.Temporal.Address,
		s.Config.Temporal.Namespace, s.Config.Temporal.TaskQueue)
	fmt.Fprintf(stdout, "  Simulator    %s (partners; /_sim/counts shows what they did)\n", s.SimURL)
	fmt.Fprintf(stdout, "\nDev tokens (Authorization: Bearer <token>):\n")
	for _, t := range s.Config.Auth.Tokens {
		if !config.IsDevToken(t.Token) {
			continue // a token of your own stays off the screen
		}
		fmt.Fprintf(stdout, "  %-20s %-12s office %s\n", t.Token, t.Role, t.Office)
	}
	fmt.Fprintf(stdout, "\nCtrl-C stops everything.\n")
	<-ctx.Done()
	fmt.Fprintln(stdout, "Stopping...")
	return nil
}

// production is what the api and the worker both need: the case file (sealed),
// the payload key ring, and a Temporal client that encrypts with it.
type production struct {
	store    *store.Store
	ring     *codec.KeyRing
	temporal client.Client
}

func connect(ctx context.Context, cfg config.Config, logger *slog.Logger) (*production, func(), error) {
	// The dev tokens are public (README, homeward dev's output): a production
	// process that accepted one would let anyone in as a manager.
	if err := cfg.Auth.RefuseDevTokens(); err != nil {
		return nil, nil, err
	}
	st, err := stack.OpenCaseFile(cfg.Database, false)
	if err != nil {
		return nil, nil, err
	}
	ring, _, err := codec.Load(cfg.Codec.Keys, cfg.Codec.KeysFile, false)
	if err != nil {
		_ = st.Close()
		return nil, nil, err
	}
	tc, err := worker.Dial(ctx, cfg.Temporal, logger, ring)
	if err != nil {
		_ = st.Close()
		return nil, nil, err
	}
	if writable, err := st.AuditTrailWritable(ctx); err == nil && writable && cfg.Database.Driver == "postgres" {
		logger.Warn("this process's database role may change or remove audit entries (it owns audit_log, or may update, delete " +
			"or truncate it): run migrations as the owner and the api and workers as database.app_role (README, Production)")
	}
	return &production{store: st, ring: ring, temporal: tc}, func() { tc.Close(); _ = st.Close() }, nil
}

func serveAPI(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	if cfg.Workspace.DevSignIn {
		// Signing in by picking a dev person, without a password, is for one machine.
		return errors.New("config: workspace.dev_sign_in is for `homeward dev` only: sign people in with auth.oidc")
	}
	p, closeAll, err := connect(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer closeAll()
	// Cases registered before search existed get their blind indexes (keyed: a
	// migration cannot make them). Several API processes may do it at once.
	if n, err := p.store.BackfillSearchTerms(ctx); err != nil {
		return fmt.Errorf("search terms: %w", err)
	} else if n > 0 {
		logger.Info("search terms written for cases registered before search", "cases", n)
	}
	a := api.New(logger, cfg, p.store, p.temporal, p.ring)
	h, err := workspace.Handler(logger, a, p.ring)
	if err != nil {
		return err
	}
	// Registered cases whose workflow did not start (Temporal did not answer, or an
	// API process stopped after the commit) are started: by every API process, safely.
	go a.RunSweeper(ctx, api.SweepEvery)
	srv := api.HTTPServer(cfg.HTTP, cfg.HTTP.Address, h)
	errc := make(chan error, 2)
	go func() { errc <- srv.ListenAndServe() }()
	if cfg.HTTP.MetricsAddress != "" {
		metrics := api.HTTPServer(cfg.HTTP, cfg.HTTP.MetricsAddress, a.MetricsHandler())
		go func() { errc <- metrics.ListenAndServe() }()
		defer metrics.Close()
		logger.Info("metrics listening", "address", cfg.HTTP.MetricsAddress)
	}
	logger.Info("API listening", "address", cfg.HTTP.Address)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

func runWorker(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	p, closeAll, err := connect(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer closeAll()
	acts := &activities.Activities{Store: p.store, Partners: partners.New(cfg.Services.BaseURL, cfg.Services.APIKey, cfg.Services.Timeout)}
	if err := worker.EnsureRetentionSchedule(ctx, p.temporal, cfg.Temporal.TaskQueue, cfg.Retention); err != nil {
		return fmt.Errorf("retention schedule: %w", err)
	}
	logger.Info("worker polling", "task_queue", cfg.Temporal.TaskQueue)
	worker.UseStickyCache(cfg.Temporal.StickyCacheSize)
	return worker.Run(ctx, worker.New(p.temporal, cfg.Temporal.TaskQueue, acts, p.ring))
}
