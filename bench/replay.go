package bench

import (
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	tlog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/homeward/homeward/worker"
)

// replay times replaying a full-lifecycle history (both runs of a completed case)
// through the current workflow code, as the versioning tests do.
func replay(o Options, w io.Writer, res *results) error {
	r := sdkworker.NewWorkflowReplayer()
	worker.RegisterWorkflows(r)
	quiet := tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	files := []string{"completed-run1.json", "completed-run2.json"}
	tb := &table{title: fmt.Sprintf("5. Replay: a full-lifecycle history through the current workflow code, %d times", o.Replays),
		head: []string{"history", "mean ms", "p50 ms", "p99 ms"}}
	var total time.Duration
	for _, f := range files {
		path := filepath.Join(o.Histories, f)
		if err := r.ReplayWorkflowHistoryFromJSONFile(quiet, path); err != nil { // warm-up, and a check
			return fmt.Errorf("%s: %w", f, err)
		}
		lat := &Latencies{}
		for range o.Replays {
			t := time.Now()
			if err := r.ReplayWorkflowHistoryFromJSONFile(quiet, path); err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			lat.Add(time.Since(t))
		}
		total += lat.Mean()
		tb.add(f, ms(lat.Mean()), ms(lat.Quantile(.5)), ms(lat.Quantile(.99)))
	}
	res.replay = total
	tb.add("whole case (both runs)", ms(total), "", "")
	tb.note("each replay reads and parses the JSON file too, as the replay tests do")
	tb.print(w)
	return nil
}
