// Package stack wires Homeward's pieces together on one machine: the Temporal dev
// server, the simulator of partners, the case file, the worker and the API.
// `homeward dev` runs it; the integration tests run it against a shared dev server.
package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/homeward/homeward/api"
	"github.com/homeward/homeward/app"
	"github.com/homeward/homeward/codec"
	"github.com/homeward/homeward/config"
	"github.com/homeward/homeward/devserver"
	"github.com/homeward/homeward/simulator"
	"github.com/homeward/homeward/store"
	"github.com/homeward/homeward/worker"
)

// Options say what to run. With Temporal set, the stack uses that client and
// starts no dev server.
type Options struct {
	Config   config.Config
	Temporal client.Client
	// Ring encrypts payloads; nil loads it from the configuration (creating the
	// key file on first use: homeward dev).
	Ring *codec.KeyRing
	// PlainPayloads leaves payloads unencrypted: only for recording the replay
	// tests' histories from test data.
	PlainPayloads bool
	Logger        *slog.Logger
	DevOutput     io.Writer // the dev server's own output
	NoWorker      bool      // tests that run the worker as a separate process
	KeepInMemo    bool      // dev server without a database file (tests)
	// Metrics receives the SDK's metrics of the stack's client and worker (the
	// benchmark reads the sticky cache's hits and misses); nil: none.
	Metrics client.MetricsHandler
}

// Stack is a running Homeward.
type Stack struct {
	Config    config.Config
	APIURL    string
	SimURL    string
	UIURL     string
	Store     *store.Store
	Temporal  client.Client
	Simulator *simulator.Simulator

	dev     *devserver.Server
	worker  *app.Worker
	api     *app.API
	servers []*http.Server
}

// Start runs everything and returns when it serves. Stop undoes it.
func Start(ctx context.Context, o Options) (_ *Stack, err error) {
	cfg, log := o.Config, o.Logger
	// One machine, for trying and testing: the well-known dev tokens work here,
	// and only here (homeward api and worker refuse them).
	cfg.Auth = cfg.Auth.WithDevTokens()
	// ... and the workspace's sign-in page offers their people, without a password.
	cfg.Workspace.DevSignIn = true
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Stack{}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	apiLn, err := net.Listen("tcp", cfg.HTTP.Address)
	if err != nil {
		return nil, fmt.Errorf("API address %s: %w", cfg.HTTP.Address, err)
	}
	simLn, err := net.Listen("tcp", cfg.Dev.SimulatorAddress)
	if err != nil {
		_ = apiLn.Close()
		return nil, fmt.Errorf("simulator address %s: %w", cfg.Dev.SimulatorAddress, err)
	}
	s.APIURL, s.SimURL = "http://"+apiLn.Addr().String(), "http://"+simLn.Addr().String()
	cfg.Services.BaseURL, cfg.Simulator.APIURL = s.SimURL, s.APIURL

	ring := o.Ring
	if ring == nil {
		if ring, _, err = codec.Load(cfg.Codec.Keys, cfg.Codec.KeysFile, true); err != nil {
			return nil, err
		}
	}
	// Payloads encrypted with the ring, unless the replay tests' histories are
	// recorded in clear.
	clientRing := ring
	if o.PlainPayloads {
		clientRing = nil
	}
	// The stack's logger, also for a client made from one given (the SDK's default
	// would print a DEBUG line per activity to stdout). The dev server picks its own
	// address (dev.temporal_port).
	clientOpts := worker.ClientOptions(cfg.Temporal, log, clientRing, o.Metrics)
	clientOpts.HostPort = ""
	switch {
	case o.Temporal != nil && o.PlainPayloads:
		s.Temporal = o.Temporal
	case o.Temporal != nil:
		if s.Temporal, err = client.NewClientFromExisting(o.Temporal, clientOpts); err != nil {
			return nil, err
		}
	default:
		dev := devserver.Options{CLI: cfg.Dev.TemporalCLI, Namespace: cfg.Temporal.Namespace, Port: cfg.Dev.TemporalPort,
			UIPort: cfg.Dev.UIPort, Output: o.DevOutput, Client: clientOpts,
			CodecURL: s.APIURL + "/codec/" + cfg.Temporal.Namespace}
		if !o.KeepInMemo {
			dev.DBFile = filepath.Join(cfg.Dev.DataDir, "temporal.db")
		}
		log.Info("starting the Temporal dev server", "cli", cfg.Dev.TemporalCLI)
		if s.dev, err = devserver.Start(ctx, dev); err != nil {
			return nil, err
		}
		s.Temporal = s.dev.Client()
		cfg.Temporal.Address = s.dev.Address()
		cfg.Temporal.UIURL = fmt.Sprintf("http://127.0.0.1:%d", cfg.Dev.UIPort)
	}
	s.Config, s.UIURL = cfg, cfg.Temporal.UIURL

	if s.Store, err = OpenCaseFile(cfg.Database, true); err != nil {
		return nil, err
	}
	if _, err = s.Store.Migrate(ctx); err != nil {
		return nil, err
	}

	s.Simulator = app.Simulator(cfg, log)
	s.serve(simLn, s.Simulator.Handler())

	if !o.NoWorker {
		if s.worker, err = app.StartWorker(ctx, cfg, s.Store, s.Temporal, clientRing, log); err != nil {
			return nil, err
		}
	}
	if s.api, err = app.StartAPI(ctx, cfg, s.Store, s.Temporal, ring, log); err != nil {
		return nil, err
	}
	s.serve(apiLn, s.api.Handler)
	return s, nil
}

func (s *Stack) serve(ln net.Listener, h http.Handler) {
	srv := api.HTTPServer(s.Config.HTTP, "", h)
	s.servers = append(s.servers, srv)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("server stopped", "error", err)
		}
	}()
}

// Stop shuts everything down: servers drain, the worker finishes its tasks, the
// dev server and its UI stop.
func (s *Stack) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := len(s.servers) - 1; i >= 0; i-- {
		_ = s.servers[i].Shutdown(ctx)
	}
	if s.api != nil {
		s.api.Stop()
	}
	if s.Simulator != nil {
		s.Simulator.Close()
	}
	if s.worker != nil {
		s.worker.Stop()
	}
	if s.Store != nil {
		_ = s.Store.Close()
	}
	if s.dev != nil {
		_ = s.dev.Stop()
	}
}
