package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/devserver"
	"github.com/homeward/homeward/stack"
)

// homeward dev keeps its cases: stopped and started again on the same data
// folder, it finds the case of the first run and the case goes on.
func TestOneMachineKeepsItsCasesAcrossARestart(t *testing.T) {
	wd, err := os.Getwd()
	require.NoError(t, err)
	cli, err := devserver.FindCLI(wd)
	require.NoError(t, err)
	data := t.TempDir()
	cfg := testConfig(t, "sqlite")
	cfg.Dev.TemporalCLI, cfg.Dev.DataDir = cli, data
	cfg.Dev.TemporalPort, cfg.Dev.UIPort = 0, 0
	cfg.Database.DSN = filepath.Join(data, "homeward.db")

	first, err := stack.Start(context.Background(), stack.Options{Config: cfg})
	require.NoError(t, err)
	h := &homeward{t: t, s: first, router: contractRouter(t)}
	id := h.register()
	h.counsel(id, "confirmed")
	h.waitCase(id, "screening", stageIs("Screening"))
	first.Stop()
	require.FileExists(t, filepath.Join(data, "temporal.db"))

	second := startWith(t, stack.Options{Config: cfg})
	c := second.waitCase(id, "the case after the restart", stageIs("Screening"))
	require.Equal(t, "confirmed", c["counselling"].(map[string]any)["outcome"])
	second.screen(id, "low")
	second.waitCase(id, "the case going on", stageIs("MedicalClearance"))
}
