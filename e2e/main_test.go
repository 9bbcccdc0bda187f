// Package e2e drives Homeward through its HTTP API against the real pieces: a
// Temporal dev server (the pinned CLI), the simulator of partners over HTTP, the
// worker, and each database (SQLite and Postgres). Every response is validated
// against api/openapi.yaml.
package e2e

import (
	"context"
	"fmt"
	"os"
	"testing"

	"go.temporal.io/sdk/client"

	"github.com/homeward/homeward/devserver"
)

// temporalDev is the dev server all tests share; each test has its own task queue,
// database and ports.
var temporalDev *devserver.Server

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	wd, _ := os.Getwd()
	cli, err := devserver.FindCLI(wd)
	if err == nil {
		_, err = os.Stat(cli)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: the Temporal CLI is not built (make test builds it):", err)
		return 1
	}
	temporalDev, err = devserver.Start(context.Background(), devserver.Options{CLI: cli, Namespace: "default"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer func() {
		if err := temporalDev.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: stopping the dev server:", err)
		}
	}()
	return m.Run()
}

func temporalClient() client.Client { return temporalDev.Client() }
