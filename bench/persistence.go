package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/cost"
)

// The persistence budget of issue 19 (target 4), in research terms: what a
// workflow's history should cost the server's database, per run and per thing
// it does. A case is compared with the sum over what its histories hold.
const (
	budgetPerRun      = 13
	budgetPerActivity = 9
	budgetPerSignal   = 8
	budgetPerUpdate   = 6
	budgetPerTimer    = 7
	// persistenceTarget is the highest ratio measured / budget the issue accepts.
	persistenceTarget = 1.2
)

// persistenceBudget is the budget of what histories hold.
func persistenceBudget(c cost.Count) int {
	return budgetPerRun*c.Runs + budgetPerActivity*c.RegularActivities + budgetPerSignal*c.Signals +
		budgetPerUpdate*c.Updates + budgetPerTimer*c.Timers
}

// persistence drives whole cases one after the other and counts the persistence
// requests the dev server made meanwhile (its own metric, persistence_requests,
// over every operation and service), per case, beside the budget of what the
// cases' histories hold. Background work of the server in that window (task
// queues, namespace reads) is counted too: it is what a case costs on this server.
func (e *env) persistence(ctx context.Context, o Options, w io.Writer, res *results) error {
	n := max(o.PersistenceCases, 1)
	o.logf("%d cases, one at a time, counting the dev server's persistence requests", n)
	if _, err := e.settledPersistence(ctx); err != nil {
		return fmt.Errorf("the dev server's metrics at %s: %w", e.metricsURL, err)
	}
	before, err := e.persistenceRequests(ctx)
	if err != nil {
		return err
	}
	var ids []string
	for range n {
		id, err := e.runCase(ctx)
		if err != nil {
			return fmt.Errorf("case %s: %w", id, err)
		}
		ids = append(ids, id)
	}
	after, err := e.settledPersistence(ctx)
	if err != nil {
		return err
	}
	var all cost.Count
	for _, id := range ids {
		hs, err := e.caseHistories(ctx, contract.WorkflowID(id))
		if err != nil {
			return err
		}
		all = all.Add(cost.OfRuns(hs...))
	}
	total := 0.0
	byOp := map[string]float64{}
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			total += d
			byOp[operation(k)] += d
		}
	}
	perCase := total / float64(n)
	budget := float64(persistenceBudget(all)) / float64(n)
	ratio := perCase / budget
	res.persistenceRatio = ratio

	t := &table{title: fmt.Sprintf("Persistence requests per case (issue 19, target 4): %d whole cases, one at a time", n),
		head: []string{"", "per case"}}
	t.add("persistence requests (dev server's persistence_requests)", f1(perCase))
	t.add(fmt.Sprintf("budget: %d/run + %d/activity + %d/signal + %d/update + %d/timer", budgetPerRun, budgetPerActivity,
		budgetPerSignal, budgetPerUpdate, budgetPerTimer), f1(budget))
	t.add(fmt.Sprintf("ratio measured / budget (target <= %.1f)", persistenceTarget), f2(ratio))
	periodic := byOp["GetCurrentClusterMetadata"] + byOp["GetNamespace"] + byOp["ListNamespaces"]
	t.add("  of which the server's periodic reads (cluster metadata, namespaces), by time not by case", f1(periodic/float64(n)))
	per := func(v int) string { return f1(float64(v) / float64(n)) }
	t.add("  runs", per(all.Runs))
	t.add("  regular activities", per(all.RegularActivities))
	t.add("  signals", per(all.Signals))
	t.add("  updates", per(all.Updates))
	t.add("  timers", per(all.Timers))
	t.add("  history events", per(all.Events))
	t.add("  billable actions (Temporal Cloud's rules)", per(all.Total()))
	ops := make([]string, 0, len(byOp))
	for op := range byOp {
		ops = append(ops, op)
	}
	slices.SortFunc(ops, func(a, b string) int { return int(byOp[b] - byOp[a]) })
	for i, op := range ops {
		if i == 8 {
			break
		}
		t.add("  operation "+op, f1(byOp[op]/float64(n)))
	}
	t.note("the cases of the bench's driver: health needs (post-arrival assistance), a cash and an in-kind item, three visits")
	t.note("the budget is taken over what the cases' histories hold; the server's background work in the window counts as measured")
	t.print(w)
	return nil
}

// caseHistories reads a case's runs, oldest first, following continue-as-new back.
func (e *env) caseHistories(ctx context.Context, workflowID string) ([]*historypb.History, error) {
	var out []*historypb.History
	runID := ""
	for {
		it := e.tc.GetWorkflowHistory(ctx, workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		h := &historypb.History{}
		prev := ""
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				return nil, err
			}
			if ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED {
				prev = ev.GetWorkflowExecutionStartedEventAttributes().GetContinuedExecutionRunId()
			}
			h.Events = append(h.Events, ev)
		}
		out = append([]*historypb.History{h}, out...)
		if prev == "" {
			return out, nil
		}
		runID = prev
	}
}

// settledPersistence reads the counters once the server has gone quiet (its queues
// drained after the last case closed): two readings a second apart that agree,
// within ten seconds.
func (e *env) settledPersistence(ctx context.Context) (map[string]float64, error) {
	last, err := e.persistenceRequests(ctx)
	if err != nil {
		return nil, err
	}
	for range 10 {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
		now, err := e.persistenceRequests(ctx)
		if err != nil {
			return nil, err
		}
		if sum(now) == sum(last) {
			return now, nil
		}
		last = now
	}
	return last, nil
}

func sum(m map[string]float64) float64 {
	t := 0.0
	for _, v := range m {
		t += v
	}
	return t
}

// persistenceRequests scrapes the dev server's persistence_requests counters, by series.
func (e *env) persistenceRequests(ctx context.Context) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.metricsURL, nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", e.metricsURL, res.Status)
	}
	return parseCounter(res.Body, "persistence_requests")
}

// parseCounter reads the series of one counter from Prometheus's text format.
func parseCounter(r io.Reader, name string) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", line, err)
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}

// operation is a series' operation label.
func operation(series string) string {
	_, rest, ok := strings.Cut(series, `operation="`)
	if !ok {
		return "?"
	}
	op, _, _ := strings.Cut(rest, `"`)
	return op
}

// freePort asks the system for a port no one listens on.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
