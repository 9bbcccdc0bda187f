// Package devserver starts the Temporal dev server built from the CLI pinned in
// tools/go.mod (bin/temporal), with Homeward's search attributes registered and the
// dynamic configuration that suits one machine. `homeward dev` and the
// integration tests both use it.
package devserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/homeward/homeward/workflows"
)

// Options configure the dev server.
type Options struct {
	CLI       string // path to the temporal binary
	Namespace string
	Port      int    // frontend port; 0 picks a free one
	UIPort    int    // 0: no UI
	DBFile    string // "" keeps everything in memory
	CodecURL  string // the UI's codec endpoint, if any
	// MetricsPort, if set, serves the server's own Prometheus metrics at
	// http://127.0.0.1:<port>/metrics (the benchmark reads its persistence requests).
	MetricsPort int
	Output      io.Writer
	// Client are the options of the client the server hands back (data and
	// failure converters); namespace and host are set from the fields above.
	Client client.Options
}

// Server is a running dev server.
type Server struct {
	dev *testsuite.DevServer
}

// Start starts the dev server and waits until it answers.
func Start(ctx context.Context, o Options) (*Server, error) {
	if _, err := os.Stat(o.CLI); err != nil {
		return nil, fmt.Errorf("the Temporal CLI is not built at %s (make bin/temporal builds it from tools/go.mod): %w", o.CLI, err)
	}
	args := []string{
		// Measured on these machines (shared/ARCHITECTURE.md): eager activities and
		// a faster transfer queue halve the cost of each activity on one machine.
		"--dynamic-config-value", "system.enableActivityEagerExecution=true",
		"--dynamic-config-value", "history.transferProcessorMaxPollRPS=100",
		// A run continued as new gets its first task no sooner than this after the
		// previous run started (default 1 s). A real case's first run lasts months;
		// on one machine with a compressed lifecycle (tests, the benchmark) the second
		// would be the longest wait of a case.
		"--dynamic-config-value", `history.workflowIdReuseMinimalInterval="0s"`,
	}
	if o.DBFile != "" {
		// Cases are kept on disk; WAL with synchronous=NORMAL avoids an fsync per write.
		args = append(args, "--sqlite-pragma", "journal_mode=WAL", "--sqlite-pragma", "synchronous=NORMAL")
	}
	if o.CodecURL != "" {
		args = append(args, "--ui-codec-endpoint", o.CodecURL)
	}
	if o.MetricsPort != 0 {
		args = append(args, "--metrics-port", strconv.Itoa(o.MetricsPort))
	}
	if o.Output == nil {
		o.Output = io.Discard
	}
	o.Client.Namespace = o.Namespace
	if o.Client.Logger == nil {
		o.Client.Logger = tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	}
	opts := testsuite.DevServerOptions{
		ExistingPath:     o.CLI,
		ClientOptions:    &o.Client,
		DBFilename:       o.DBFile,
		EnableUI:         o.UIPort != 0,
		LogLevel:         "error",
		SearchAttributes: workflows.DevServerSearchAttributes(),
		ExtraArgs:        args,
		Stdout:           o.Output,
		Stderr:           o.Output,
	}
	if o.Port != 0 {
		opts.ClientOptions.HostPort = "127.0.0.1:" + strconv.Itoa(o.Port)
	}
	if o.UIPort != 0 {
		opts.UIPort = strconv.Itoa(o.UIPort)
	}
	if o.DBFile != "" {
		if err := os.MkdirAll(filepath.Dir(o.DBFile), 0o700); err != nil {
			return nil, err
		}
	}
	dev, err := testsuite.StartDevServer(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("starting the Temporal dev server: %w", err)
	}
	return &Server{dev: dev}, nil
}

// Address is the frontend's host:port.
func (s *Server) Address() string { return s.dev.FrontendHostPort() }

// Client is a client the server started with (namespace as given).
func (s *Server) Client() client.Client { return s.dev.Client() }

// Stop stops the server and its child processes.
func (s *Server) Stop() error { return s.dev.Stop() }

// FindCLI looks for bin/temporal in the module root above dir.
func FindCLI(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			if _, err := os.Stat(filepath.Join(d, "tools", "go.mod")); err == nil {
				return filepath.Join(d, "bin", "temporal"), nil
			}
		}
		if filepath.Dir(d) == d {
			return "", errors.New("no module root with tools/go.mod above " + dir)
		}
	}
}
