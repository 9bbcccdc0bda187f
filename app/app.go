// Package app assembles Homeward's running parts from the configuration, in one
// place for both ways of running them: the production commands (`homeward api`,
// `worker` and `simulator`, cmd/homeward) and one machine (`homeward dev` and the
// integration tests, stack). A part added to the worker or the API is added here.
//
// What differs between the two stays with the caller: how the case file and the
// Temporal client are opened (stack starts a dev server and migrates; production
// refuses the dev tokens and reports the SDK's metrics), the dev tokens and the
// workspace's dev sign-in (stack only), and the processes' metrics ports.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/homeward/homeward/activities"
	"github.com/homeward/homeward/api"
	"github.com/homeward/homeward/codec"
	"github.com/homeward/homeward/config"
	"github.com/homeward/homeward/partners"
	"github.com/homeward/homeward/relay"
	"github.com/homeward/homeward/simulator"
	"github.com/homeward/homeward/store"
	"github.com/homeward/homeward/worker"
	"github.com/homeward/homeward/workspace"
)

// Simulator builds the simulator of the partners from the configuration: it calls
// back the API at simulator.api_url with the partners' tokens.
func Simulator(cfg config.Config, logger *slog.Logger) *simulator.Simulator {
	return simulator.New(simulator.Options{APIURL: cfg.Simulator.APIURL, MedicalToken: cfg.Simulator.MedicalToken,
		ReceivingToken: cfg.Simulator.ReceivingToken, CallbackDelay: cfg.Simulator.CallbackDelay,
		Latency: cfg.Simulator.Latency, FailureRate: cfg.Simulator.FailureRate, Seed: cfg.Simulator.Seed,
		APIKey: cfg.Services.APIKey, Logger: logger.With("component", "simulator")})
}

// Worker is what a worker process runs: the case workflows and their activities
// (which write the case file and call the partners) on the task queue, and the
// registry's relay, which sends what the case-file writes queued for the registry
// (every worker runs one; they share the work through store.ClaimRegistryChanges).
type Worker struct {
	worker    sdkworker.Worker
	stopRelay context.CancelFunc
	relayDone chan struct{}
}

// StartWorker creates the retention schedule unless it exists (the first worker
// does), then starts the worker on tc and the relay. The ring is tc's, with which
// the worker drops signals Homeward did not encrypt; nil only to record the replay
// tests' histories in clear. Stop undoes it.
func StartWorker(ctx context.Context, cfg config.Config, st *store.Store, tc client.Client, ring *codec.KeyRing, logger *slog.Logger) (*Worker, error) {
	if err := worker.EnsureRetentionSchedule(ctx, tc, cfg.Temporal.TaskQueue, cfg.Retention); err != nil {
		return nil, fmt.Errorf("retention schedule: %w", err)
	}
	pc := partners.New(cfg.Services.BaseURL, cfg.Services.APIKey, cfg.Services.Timeout)
	// The first worker of a process sizes the SDK's sticky cache (it is the
	// process's; tests start several stacks).
	worker.UseStickyCache(cfg.Temporal.StickyCacheSize)
	w := &Worker{worker: worker.New(tc, cfg.Temporal.TaskQueue, &activities.Activities{Store: st, Partners: pc}, ring)}
	if err := w.worker.Start(); err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	r := relay.New(st, relay.ToRegistry(pc), logger.With("component", "relay"))
	var relayCtx context.Context
	relayCtx, w.stopRelay = context.WithCancel(context.Background())
	w.relayDone = make(chan struct{})
	go func() {
		defer close(w.relayDone)
		r.Run(relayCtx)
	}()
	return w, nil
}

// Stop stops the worker once its tasks in hand are done, then the relay.
func (w *Worker) Stop() {
	w.worker.Stop()
	w.stopRelay()
	<-w.relayDone
}

// API is the HTTP API with the workspace's pages beside it, and the sweeper that
// starts the workflows of registered cases whose start did not happen (Temporal
// did not answer, or an API process stopped after the commit): every API process
// runs one, safely.
type API struct {
	Server *api.Server
	// Handler serves the API and the workspace.
	Handler     http.Handler
	stopSweeper context.CancelFunc
	swept       sync.WaitGroup
}

// StartAPI gives the cases registered before search existed their blind indexes
// (keyed: a migration cannot make them; several API processes may do it at once)
// and cuts from the cases anonymised before migration 00032 what the statistics count,
// builds the API and the workspace, and starts the sweeper. Stop ends the sweeper;
// serving Handler is the caller's.
func StartAPI(ctx context.Context, cfg config.Config, st *store.Store, tc client.Client, ring *codec.KeyRing, logger *slog.Logger) (*API, error) {
	if n, err := st.BackfillSearchTerms(ctx); err != nil {
		return nil, fmt.Errorf("search terms: %w", err)
	} else if n > 0 {
		logger.Info("search terms written for cases registered before search", "cases", n)
	}
	if n, err := st.CutAnonymisedFacts(ctx); err != nil {
		return nil, fmt.Errorf("anonymised cases' counts: %w", err)
	} else if n > 0 {
		logger.Info("counted facts cut from cases anonymised before", "cases", n)
	}
	a := &API{Server: api.New(logger.With("component", "api"), cfg, st, tc, ring)}
	var err error
	if a.Handler, err = workspace.Handler(logger, a.Server, ring); err != nil {
		return nil, err
	}
	var sweep context.Context
	sweep, a.stopSweeper = context.WithCancel(context.Background())
	a.swept.Go(func() { a.Server.RunSweeper(sweep, api.SweepEvery) })
	return a, nil
}

// Stop ends the sweeper and waits for it.
func (a *API) Stop() {
	a.stopSweeper()
	a.swept.Wait()
}
