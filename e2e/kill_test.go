package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/homeward/homeward/config"
	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/partners"
	"github.com/homeward/homeward/simulator"
	"github.com/homeward/homeward/soak"
	"github.com/homeward/homeward/stack"
)

// Faults that need the worker in a process of its own: `homeward worker`, built
// from this module, is killed with SIGKILL at the worst moments and started again.
// The API and the simulator run in the test (stack.Options{NoWorker: true}).

// A worker dies after a partner acted on a call and before the worker could tell
// Temporal: a proxy between the worker and the simulator lets the payment through
// and holds back the partner's answer while the worker is killed. A new worker
// retries the payment with the same idempotency key, the partner answers from its
// memory, and the returnee is paid once.
func TestWorkerKilledAfterThePartnerPaidBeforeItReported(t *testing.T) {
	bin := buildHomewardBinary(t)
	h := startWith(t, stack.Options{Config: testConfig(t, "sqlite"), Temporal: temporalClient(), NoWorker: true})
	proxy := newHoldingProxy(t, h.s.SimURL, "/finance/v1/payments")
	w := h.workerProcess(bin, proxy.URL)
	w.start()

	id := h.register()
	h.counsel(id, "confirmed")
	h.screen(id, "low")
	h.depart(id)
	h.submitPlan(id, cost("cash", "400.00"))
	proxy.arm()
	h.decide(id, "dev-approver-gn", "approve")

	key := id + "/pay/p1-1"
	require.Equal(t, key, proxy.waitHeld(20*time.Second), "the payment's answer is held back")
	require.Equal(t, 1, h.s.Simulator.Counts().PaymentsByKey[key], "the partner has paid")
	w.kill()
	proxy.disarm()
	require.Contains(t, h.pendingActivities(id), "Pay", "Temporal never heard that the payment was made")
	c := h.call("GET", "/api/v1/cases/"+id, "dev-manager", nil).JSON(t)
	require.Equal(t, "pending", list(c["procurement"])[0]["status"], "nor did the case file")

	w.start()
	// Temporal retries the payment once its attempt times out (the activity's
	// start-to-close timeout: no heartbeat tells it sooner that the worker died).
	h.waitCaseWithin(id, "the payment retried by the new worker", 60*time.Second, stageIs("Monitoring"))
	h.visitAll(id)
	c = h.waitCase(id, "closure", stageIs("Closed"))
	require.Equal(t, "completed", c["closure_reason"])

	counts := h.s.Simulator.Counts()
	t.Logf("finance: calls %d, replays %d, payments %v", counts.Calls["finance"], counts.Replays["finance"], counts.PaymentsByKey)
	require.Equal(t, map[string]int{key: 1}, counts.PaymentsByKey, "paid once, under the item's key")
	require.Equal(t, 1, counts.PaymentsByItem[id+"/p1-1"])
	require.GreaterOrEqual(t, counts.Replays["finance"], 1, "the retry came with the same key and was answered from the partner's memory")
	paid := list(c["procurement"])[0]["payment"].(map[string]any)
	ps, err := h.s.Store.Payments(t.Context(), id)
	require.NoError(t, err)
	require.Len(t, ps, 1)
	require.Equal(t, paid["payment_id"], ps[0].PaymentID, "the case file has the partner's one payment")
}

// A worker killed while the case waits on a person: the approval, sent while no
// worker runs, is applied once a new worker is back, and nothing that had been
// done is done again.
func TestWorkerKilledWhileTheCaseWaitsForAnApproval(t *testing.T) {
	bin := buildHomewardBinary(t)
	h := startWith(t, stack.Options{Config: testConfig(t, "sqlite"), Temporal: temporalClient(), NoWorker: true})
	w := h.workerProcess(bin, h.s.SimURL)
	w.start()

	id := h.register()
	h.counsel(id, "confirmed")
	h.screen(id, "medium", "health_needs")
	h.depart(id)
	h.submitPlan(id, cost("cash", "400.00"), cost("in_kind", "900.00"))
	h.settledAt(id, "PlanApproval")
	w.kill()

	answer := make(chan attemptResult, 1)
	go func() {
		r, err := h.attempt("POST", "/api/v1/cases/"+id+"/plan/decisions", "dev-approver-gn",
			map[string]any{"decision": "approve"}, "Idempotency-Key", "approve-while-down")
		answer <- attemptResult{r, err}
	}()
	select {
	case a := <-answer:
		t.Fatalf("the approval was answered while no worker ran: %d %s %v", a.r.Status, a.r.Body, a.err)
	case <-time.After(2 * time.Second): // the approval waits for a worker
	}
	w.start()
	a := <-answer
	require.NoError(t, a.err)
	require.Equal(t, http.StatusOK, a.r.Status, string(a.r.Body))
	require.Equal(t, "approved", a.r.JSON(t)["plan"].(map[string]any)["status"])

	h.deliverAll(id, 1)
	h.visitAll(id)
	require.Equal(t, "completed", h.waitCase(id, "closure", stageIs("Closed"))["closure_reason"])
	h.nothingDoneTwice(id)
	require.Equal(t, []string{"approver-gn"}, h.timelineActors(id, "plan_decision"), "one decision")
}

// A worker killed while a monitoring visit's timer runs: with a new worker the
// visit falls due at the deadline set before the kill (arrival + offset), not an
// offset after the restart, and nothing that had been done is done again.
func TestWorkerKilledWhileAVisitTimerRuns(t *testing.T) {
	// It waits out a real deadline with the worker down: make test runs it in its
	// serial phase, after the other packages, so a busy machine does not skew it.
	if os.Getenv("HOMEWARD_TEST_SERIAL") != "1" {
		t.Skip("make test runs it in its serial phase (HOMEWARD_TEST_SERIAL=1)")
	}
	bin := buildHomewardBinary(t)
	cfg := testConfig(t, "sqlite")
	// A visit's timer is its window's end (version 5): visit 1 is due 12 s after
	// the arrival and missed if not reported within a second after that.
	offset, window := 12*time.Second, time.Second
	cfg.Rules.MonitoringOffsets = []time.Duration{offset, offset + time.Second, offset + 2*time.Second}
	cfg.Rules.SLA.MonitoringVisit = window
	h := startWith(t, stack.Options{Config: cfg, Temporal: temporalClient(), NoWorker: true})
	w := h.workerProcess(bin, h.s.SimURL)
	w.start()

	id := h.register()
	h.planApproved(id, cost("cash", "400.00"))
	c := h.waitCase(id, "monitoring", stageIs("Monitoring"))
	arrived, err := time.Parse(time.RFC3339Nano, c["arrival"].(map[string]any)["arrived_at"].(string))
	require.NoError(t, err)
	due := arrived.Add(offset)
	require.Equal(t, due.Format(time.RFC3339), list(c["monitoring"])[0]["due_at"], "visit 1 is due an offset after arrival")
	closes := due.Add(window)
	h.settledAt(id, "Monitoring")
	w.kill()
	killedAt := time.Now()

	// The worker stays down until shortly before the window closes: a timer that
	// started afresh with the new worker would fire about an offset too late.
	restartAt := closes.Add(-3 * time.Second)
	require.True(t, killedAt.Add(2*time.Second).Before(restartAt), "the case reached monitoring too late for this test: raise the offset")
	<-time.After(time.Until(restartAt))
	w.start()

	h.waitCaseWithin(id, "visit 1 missed", offset+10*time.Second, func(c map[string]any) bool {
		return list(c["monitoring"])[0]["status"] == "missed"
	})
	fired := h.timelineAt(id, "visit_missed", "Monitoring visit 1 missed")
	t.Logf("visit 1's window closed at %s; the case saw it at %s (the worker was down from %s to %s)",
		closes.Format("15:04:05.000"), fired.Format("15:04:05.000"), killedAt.Format("15:04:05.000"), restartAt.Format("15:04:05.000"))
	require.False(t, fired.Before(closes), "not before its deadline")
	// A timer started afresh by the new worker would fire an offset (12 s) after the
	// restart, 9 s after the deadline; 5 s leaves room for a busy machine.
	require.Less(t, fired.Sub(closes), 5*time.Second, "at its deadline, not an offset after the restart")

	// The other visits' windows close too (nobody reports them): monitoring ends.
	require.Equal(t, "completed", h.waitCase(id, "closure", stageIs("Closed"))["closure_reason"])
	h.nothingDoneTwice(id)
}

// Decisions that arrive twice or at once. The same approval sent twice at the
// same instant with one Idempotency-Key has one effect; two approvers deciding at
// the same instant: one wins, the other gets 409; nobody approves their own plan.
func TestDuplicateAndConcurrentDecisions(t *testing.T) {
	cfg := testConfig(t, "sqlite")
	// The caseworker who submits plans also holds an approver's token.
	cfg.Auth.Tokens = append(cfg.Auth.Tokens, config.Token{Token: "dev-self-approver", User: "caseworker-gn",
		Role: "approver", Office: "GN-CKY"})
	h := start(t, cfg)
	ids := make([]string, 3)
	for i := range ids {
		ids[i] = h.register()
	}
	for _, id := range ids {
		h.counsel(id, "confirmed")
		h.screen(id, "low")
		h.depart(id)
		h.submitPlan(id, cost("cash", "400.00"))
	}

	t.Run("the same approval twice at once, one Idempotency-Key", func(t *testing.T) {
		id := ids[0]
		same := func() (response, error) {
			return h.attempt("POST", "/api/v1/cases/"+id+"/plan/decisions", "dev-approver-gn",
				map[string]any{"decision": "approve", "comment": "once"}, "Idempotency-Key", "double-click")
		}
		rs := atOnce(t, same, same)
		require.Equal(t, http.StatusOK, rs[0].Status, string(rs[0].Body))
		require.Equal(t, http.StatusOK, rs[1].Status, string(rs[1].Body))
		require.Equal(t, id, rs[0].JSON(t)["id"])
		require.Equal(t, id, rs[1].JSON(t)["id"], "both get the case (a repeat re-reads it: no answer is kept)")
		h.waitCase(id, "procurement", func(c map[string]any) bool { return c["stage"] != "PlanApproval" })
		require.Equal(t, []string{"approver-gn"}, h.timelineActors(id, "plan_decision"), "one decision in the timeline")
	})

	t.Run("two approvers at once", func(t *testing.T) {
		id := ids[1]
		by := func(token string) func() (response, error) {
			return func() (response, error) {
				return h.attempt("POST", "/api/v1/cases/"+id+"/plan/decisions", token, map[string]any{"decision": "approve"})
			}
		}
		rs := atOnce(t, by("dev-approver-gn"), by("dev-approver"))
		statuses := []int{rs[0].Status, rs[1].Status}
		require.ElementsMatch(t, []int{http.StatusOK, http.StatusConflict}, statuses, "%s / %s", rs[0].Body, rs[1].Body)
		winner := map[bool]string{true: "approver-gn", false: "approver-de"}[rs[0].Status == http.StatusOK]
		require.Equal(t, []string{winner}, h.timelineActors(id, "plan_decision"), "only the winner's decision")
		loser := rs[0]
		if loser.Status == http.StatusOK {
			loser = rs[1]
		}
		require.Equal(t, "application/problem+json", loser.Header.Get("Content-Type"))
	})

	t.Run("self-approval", func(t *testing.T) {
		id := ids[2]
		r := h.call("POST", "/api/v1/cases/"+id+"/plan/decisions", "dev-self-approver", map[string]any{"decision": "approve"})
		require.Equal(t, http.StatusForbidden, r.Status, string(r.Body))
		require.Contains(t, r.JSON(t)["detail"], "submitted")
		c := h.call("GET", "/api/v1/cases/"+id, "dev-manager", nil).JSON(t)
		require.Equal(t, "PlanApproval", c["stage"])
		require.Equal(t, "submitted", c["plan"].(map[string]any)["status"])
		require.Empty(t, h.timelineActors(id, "plan_decision"), "nothing recorded")
		h.decide(id, "dev-approver-gn", "approve") // another approver can
		require.Equal(t, []string{"approver-gn"}, h.timelineActors(id, "plan_decision"))
	})
}

// Postgres restarted while cases run: meanwhile the API answers 503 with
// Retry-After (never 500) and /readyz fails; afterwards every case completes, its
// timeline is complete with each row once, the case file agrees with the workflow,
// and no workflow runs without its row. Restarting Postgres disturbs every other
// test using it, so make test runs it in its serial phase (HOMEWARD_TEST_SERIAL=1),
// when nothing else runs.
func TestPostgresRestartedDuringLoad(t *testing.T) {
	if os.Getenv("HOMEWARD_TEST_SERIAL") != "1" {
		t.Skip("restarts the machine's Postgres: make test runs it in its serial phase (HOMEWARD_TEST_SERIAL=1)")
	}
	cluster := postgresCluster(t)
	cfg := testConfig(t, "postgres")
	cfg.Rules.MonitoringOffsets = []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}
	var apiLog apiLogBuffer // the API logs the cause of a 500
	h := startWith(t, stack.Options{Config: cfg, Temporal: temporalClient(),
		Logger: slog.New(slog.NewJSONHandler(&apiLog, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the API's warnings and errors:\n%s", apiLog.String())
		}
	})

	const cases = 6
	var (
		answers sync.Map // "METHOD route status" -> count
		bad     atomic.Value
		ids     = make([]string, cases)
		errs    = make(chan error, cases+2)
		arrived atomic.Int32
	)
	observe := func(method, route string, r response) {
		n, _ := answers.LoadOrStore(fmt.Sprintf("%s %s %d", method, route, r.Status), new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
		if r.Status >= 500 && (r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "") {
			bad.CompareAndSwap(nil, fmt.Sprintf("%s %s answered %d (Retry-After %q): %s", method, route, r.Status,
				r.Header.Get("Retry-After"), r.Body))
		}
	}
	client := &retryingClient{h: h, observe: observe}
	for i := range ids {
		id, err := client.register(fmt.Sprintf("pg-%d", i))
		require.NoError(t, err)
		ids[i] = id
	}
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() {
			errs <- client.completeCase(id, func() { arrived.Add(1) })
		})
	}

	// Restart Postgres once half the cases have arrived, while the others are still
	// on their way; probe the API and readiness throughout.
	h.eventually("half the cases to arrive", 60*time.Second, func() bool { return arrived.Load() >= cases/2 })
	stopProbe := make(chan struct{})
	var sawUnready atomic.Bool
	var probes sync.WaitGroup
	probes.Go(func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stopProbe:
				return
			case <-tick.C:
			}
			if r, err := h.attempt("GET", "/readyz", "", nil); err == nil {
				observe("GET", "/readyz", r)
				if r.Status == http.StatusServiceUnavailable {
					sawUnready.Store(true)
				}
			}
			id := ids[i%cases]
			for _, p := range []struct{ path, route string }{{"/api/v1/cases/" + id, "/api/v1/cases/{id}"},
				{"/api/v1/cases?limit=5", "/api/v1/cases"}, {"/api/v1/cases/" + id + "/timeline", "/api/v1/cases/{id}/timeline"}} {
				if r, err := h.attempt("GET", p.path, "dev-manager", nil); err == nil {
					observe("GET", p.route, r)
				}
			}
			if i%5 == 0 { // registrations: each must end with its row and workflow, or neither
				if r, err := h.attempt("POST", "/api/v1/cases", "dev-caseworker", registration(),
					"Idempotency-Key", fmt.Sprintf("probe-%d", i)); err == nil {
					observe("POST", "/api/v1/cases", r)
				}
			}
		}
	})
	cluster.ctl(t, "stop")
	h.eventually("/readyz to fail while Postgres is down", 10*time.Second, sawUnready.Load)
	cluster.ctl(t, "start")
	h.eventually("/readyz to pass again", 60*time.Second, func() bool {
		r, err := h.attempt("GET", "/readyz", "", nil)
		return err == nil && r.Status == http.StatusOK
	})
	close(stopProbe)
	probes.Wait()
	wg.Wait()
	close(errs)
	answers.Range(func(k, v any) bool { t.Logf("%-40s %d", k, v.(*atomic.Int64).Load()); return true })
	assert.Nil(t, bad.Load(), "only 503 with Retry-After while the database was down")
	for err := range errs {
		require.NoError(t, err)
	}

	for _, id := range ids {
		h.caseFileAgreesWithWorkflow(id)
		row, err := h.s.Store.CaseByID(t.Context(), id)
		require.NoError(t, err)
		require.Equal(t, "completed", row.ClosureReason)
		ps, err := h.s.Store.Payments(t.Context(), id)
		require.NoError(t, err)
		require.Len(t, ps, 2, "both items paid, once")
	}
	for item, n := range h.s.Simulator.Counts().PaymentsByItem {
		require.Equal(t, 1, n, item)
	}
	h.noWorkflowWithoutItsRow()
}

// ---- the worker as a process ----

// buildHomewardBinary builds cmd/homeward from this module into the test's folder.
func buildHomewardBinary(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(root, "go.mod"))
	bin := filepath.Join(t.TempDir(), "homeward")
	goTool := "go"
	if g := os.Getenv("GO"); g != "" {
		goTool = g
	}
	cmd := exec.Command(goTool, "build", "-o", bin, "./cmd/homeward")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build ./cmd/homeward: %s", out)
	return bin
}

// workerProc is `homeward worker` as a child process, configured like the stack's
// own worker would be (HOMEWARD_* variables), partner calls going to servicesURL.
type workerProc struct {
	t      *testing.T
	bin    string
	env    []string
	logs   string
	cmd    *exec.Cmd
	exited chan struct{}
	starts int
	quiet  bool // no log in the test's output when it fails
}

func (h *homeward) workerProcess(bin, servicesURL string) *workerProc {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HOMEWARD_") {
			env = append(env, kv)
		}
	}
	// The stack's own configuration (database and its keys, payload keys, ...), then
	// where this worker finds Temporal and the partners.
	env = append(env, configEnv("HOMEWARD", reflect.ValueOf(h.s.Config))...)
	env = append(env,
		"HOMEWARD_TEMPORAL_ADDRESS="+temporalDev.Address(),
		"HOMEWARD_SERVICES_BASE_URL="+servicesURL,
	)
	w := &workerProc{t: h.t, bin: bin, env: env, logs: filepath.Join(h.t.TempDir(), "worker.log")}
	h.t.Cleanup(func() {
		w.stop()
		if h.t.Failed() && !w.quiet {
			b, _ := os.ReadFile(w.logs)
			h.t.Logf("worker log (last 4 KiB):\n%s", b[max(0, len(b)-4096):])
		}
	})
	return w
}

// configEnv turns a configuration into the HOMEWARD_* variables that set it: every
// scalar key that has a value (lists, such as tokens and rules, are left out: the
// worker needs none of them; a case carries its rules).
func configEnv(prefix string, v reflect.Value) []string {
	var env []string
	for i := range v.NumField() {
		name := v.Type().Field(i).Tag.Get("mapstructure")
		if name == "" {
			continue
		}
		key, f := prefix+"_"+strings.ToUpper(name), v.Field(i)
		var val string
		switch x := f.Interface().(type) {
		case time.Duration:
			val = x.String()
		default:
			switch f.Kind() {
			case reflect.Struct:
				env = append(env, configEnv(key, f)...)
			case reflect.String:
				val = f.String()
			case reflect.Bool, reflect.Int, reflect.Int64, reflect.Float64:
				val = fmt.Sprint(x)
			}
		}
		if val != "" {
			env = append(env, key+"="+val)
		}
	}
	return env
}

// start starts a new worker process (the previous one must have exited).
func (w *workerProc) start() {
	w.t.Helper()
	require.True(w.t, w.cmd == nil, "a worker is already running")
	logs, err := os.OpenFile(w.logs, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	require.NoError(w.t, err)
	defer func() { _ = logs.Close() }()
	cmd := exec.Command(w.bin, "worker")
	cmd.Env, cmd.Stdout, cmd.Stderr = w.env, logs, logs
	// Dies with the test binary, even if it is killed before its cleanups run.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(w.t, cmd.Start())
	w.cmd, w.exited, w.starts = cmd, make(chan struct{}), w.starts+1
	go func(exited chan struct{}) { _ = cmd.Wait(); close(exited) }(w.exited)
	// It is up once it says it polls (each start says so once).
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(w.logs)
		if strings.Count(string(b), `"msg":"worker polling"`) >= w.starts {
			return
		}
		select {
		case <-w.exited:
			w.cmd = nil
			w.t.Fatalf("the worker exited at its start:\n%s", b[max(0, len(b)-2048):])
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("the worker did not start polling within 30s:\n%s", b[max(0, len(b)-2048):])
		}
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (w *workerProc) kill() {
	w.t.Helper()
	w.signal(syscall.SIGKILL, 10*time.Second)
}

// stop asks the worker to stop (SIGTERM: it finishes or hands back its tasks),
// and kills it if it takes too long.
func (w *workerProc) stop() {
	if w.cmd != nil && !w.signal(syscall.SIGTERM, 15*time.Second) {
		w.signal(syscall.SIGKILL, 10*time.Second)
	}
}

func (w *workerProc) signal(sig syscall.Signal, within time.Duration) bool {
	if w.cmd == nil {
		return true
	}
	_ = w.cmd.Process.Signal(sig)
	select {
	case <-w.exited:
		w.cmd = nil
		return true
	case <-time.After(within):
		return false
	}
}

// ---- a proxy that holds back a partner's answers ----

// holdingProxy forwards the worker's partner calls to the simulator. While armed,
// it lets calls to path through (the partner acts) and holds back the answer until
// disarmed or until the caller is gone.
type holdingProxy struct {
	URL     string
	t       *testing.T
	path    string
	armed   atomic.Bool
	held    chan string // the Idempotency-Key of each call whose answer is held
	release chan struct{}
	once    sync.Once
}

func newHoldingProxy(t *testing.T, target, path string) *holdingProxy {
	u, err := url.Parse(target)
	require.NoError(t, err)
	p := &holdingProxy{t: t, path: path, held: make(chan string, 16), release: make(chan struct{})}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(res *http.Response) error {
		if !p.armed.Load() || res.Request.URL.Path != p.path || res.StatusCode/100 != 2 {
			return nil
		}
		p.held <- res.Request.Header.Get(partners.IdempotencyHeader)
		select {
		case <-p.release:
		case <-res.Request.Context().Done():
		}
		return nil
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	t.Cleanup(p.disarm) // before the server closes: let held answers go
	p.URL = srv.URL
	return p
}

func (p *holdingProxy) arm() { p.armed.Store(true) }

func (p *holdingProxy) disarm() {
	p.armed.Store(false)
	p.once.Do(func() { close(p.release) })
}

func (p *holdingProxy) waitHeld(within time.Duration) string {
	p.t.Helper()
	select {
	case key := <-p.held:
		return key
	case <-time.After(within):
		p.t.Fatalf("no answer from %s was held within %s", p.path, within)
		return ""
	}
}

// ---- looking at a case from Temporal's side ----

// pendingActivities names the activities Temporal has scheduled and not heard back from.
func (h *homeward) pendingActivities(id string) []string {
	h.t.Helper()
	d, err := h.s.Temporal.DescribeWorkflowExecution(h.t.Context(), contract.WorkflowID(id), "")
	require.NoError(h.t, err)
	var names []string
	for _, a := range d.PendingActivities {
		names = append(names, a.ActivityType.GetName())
	}
	return names
}

// settledAt waits until the case waits in stage with nothing under way: the
// registry knows the stage, and no activity is pending.
func (h *homeward) settledAt(id, stage string) {
	h.t.Helper()
	h.waitCase(id, stage, stageIs(stage))
	h.eventually("the case to settle in "+stage, 20*time.Second, func() bool {
		return h.s.Simulator.Counts().RegistryStages[id] == stage && len(h.pendingActivities(id)) == 0
	})
}

// nothingDoneTwice checks that no partner call of the case was repeated: no call
// was answered from a partner's idempotency memory, and every payment was made once.
func (h *homeward) nothingDoneTwice(id string) {
	h.t.Helper()
	counts := h.s.Simulator.Counts()
	for service, n := range counts.Replays {
		require.Zero(h.t, n, "a call to %s was sent again", service)
	}
	for key, n := range counts.PaymentsByKey {
		require.Equal(h.t, 1, n, key)
	}
	require.Equal(h.t, simulator.BookingCounts{Held: 1, Ticketed: 1}, counts.BookingsByCase[id], "one flight held and ticketed")
}

// timelineActors lists, oldest first, who did each event of a type.
func (h *homeward) timelineActors(id, typ string) []string {
	h.t.Helper()
	evs, err := h.s.Store.Timeline(h.t.Context(), id)
	require.NoError(h.t, err)
	var users []string
	for _, e := range evs {
		if e.Type == typ {
			users = append(users, e.ActorUser)
		}
	}
	return users
}

// timelineAt is when the first event of a type with that summary happened.
func (h *homeward) timelineAt(id, typ, summary string) time.Time {
	h.t.Helper()
	evs, err := h.s.Store.Timeline(h.t.Context(), id)
	require.NoError(h.t, err)
	for _, e := range evs {
		if e.Type == typ && e.Summary == summary {
			return e.At
		}
	}
	h.t.Fatalf("no %s event %q in the timeline of %s", typ, summary, id)
	return time.Time{}
}

// waitCaseWithin is waitCase with a deadline of its own.
func (h *homeward) waitCaseWithin(id, what string, within time.Duration, cond func(c map[string]any) bool) map[string]any {
	h.t.Helper()
	var c map[string]any
	h.eventually(what, within, func() bool {
		r := h.call("GET", "/api/v1/cases/"+id, "dev-manager", nil)
		require.Equal(h.t, http.StatusOK, r.Status, string(r.Body))
		c = r.JSON(h.t)
		return cond(c)
	})
	return c
}

// caseFileAgreesWithWorkflow compares the case's row with the workflow's final
// state, and checks its timeline holds each of the workflow's records once: the
// event keys are exactly <id>/1 … <id>/<seq>.
func (h *homeward) caseFileAgreesWithWorkflow(id string) {
	h.t.Helper()
	var st contract.CaseState
	ctx, cancel := context.WithTimeout(h.t.Context(), 30*time.Second)
	defer cancel()
	require.NoError(h.t, h.s.Temporal.GetWorkflow(ctx, contract.WorkflowID(id), "").Get(ctx, &st))
	row, err := h.s.Store.CaseByID(h.t.Context(), id)
	require.NoError(h.t, err)
	require.Equal(h.t, string(st.Stage), row.Stage, id)
	require.Equal(h.t, string(st.Status), row.Status, id)
	require.Equal(h.t, string(st.ClosureReason), row.ClosureReason, id)
	require.Equal(h.t, st.Seq, row.StateSeq, id)
	evs, err := h.s.Store.Timeline(h.t.Context(), id)
	require.NoError(h.t, err)
	keys := map[string]int{}
	for _, e := range evs {
		keys[e.EventKey]++
	}
	require.Len(h.t, evs, int(st.Seq), "one timeline row per record of the workflow")
	for i := int64(1); i <= st.Seq; i++ {
		require.Equal(h.t, 1, keys[id+"/"+strconv.FormatInt(i, 10)], "timeline row %d of %s", i, id)
	}
}

// noWorkflowWithoutItsRow checks that every case workflow on the test's queue has
// its row in the case file.
func (h *homeward) noWorkflowWithoutItsRow() {
	h.t.Helper()
	h.eventually("visibility to list the test's workflows", 10*time.Second, func() bool {
		ids := h.workflowIDsOnQueue()
		return len(ids) > 0
	})
	for _, wid := range h.workflowIDsOnQueue() {
		id := strings.TrimPrefix(wid, "case-")
		_, err := h.s.Store.CaseByID(h.t.Context(), id)
		require.NoError(h.t, err, "workflow %s has no row in the case file", wid)
	}
}

func (h *homeward) workflowIDsOnQueue() []string {
	h.t.Helper()
	var ids []string
	seen := map[string]bool{}
	var token []byte
	for {
		res, err := h.s.Temporal.ListWorkflow(h.t.Context(), &workflowservice.ListWorkflowExecutionsRequest{
			Query: fmt.Sprintf("TaskQueue = %q", h.s.Config.Temporal.TaskQueue), NextPageToken: token})
		require.NoError(h.t, err)
		for _, e := range res.Executions {
			if id := e.Execution.WorkflowId; !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
		if token = res.NextPageToken; len(token) == 0 {
			return ids
		}
	}
}

// ---- HTTP without failing the test (for goroutines and outages) ----

type attemptResult struct {
	r   response
	err error
}

// attempt is call for goroutines and outages: it returns what went wrong instead
// of failing the test, and checks the answer against the contract all the same.
func (h *homeward) attempt(method, path, token string, body any, headers ...string) (response, error) {
	req, res, b, err := h.exchange(method, path, token, body, headers...)
	if err != nil {
		return response{}, err
	}
	r := response{Status: res.StatusCode, Header: res.Header, Body: b}
	route, params, err := h.router.FindRoute(req)
	if err != nil {
		if res.StatusCode != http.StatusNotFound {
			return r, fmt.Errorf("%s %s is not in the contract", method, path)
		}
		return r, nil
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status: res.StatusCode, Header: res.Header, Body: io.NopCloser(bytes.NewReader(b)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return r, fmt.Errorf("%s %s answered %d, not as api/openapi.yaml says: %v: %s", method, path, res.StatusCode, err, b)
	}
	return r, nil
}

// atOnce runs the requests in goroutines released at the same instant, and
// returns their answers in order.
func atOnce(t *testing.T, reqs ...func() (response, error)) []response {
	t.Helper()
	out := make([]attemptResult, len(reqs))
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i, req := range reqs {
		wg.Go(func() {
			<-gate
			r, err := req()
			out[i] = attemptResult{r, err}
		})
	}
	close(gate)
	wg.Wait()
	rs := make([]response, len(reqs))
	for i, o := range out {
		require.NoError(t, o.err)
		rs[i] = o.r
	}
	return rs
}

// retryingClient drives cases through the API like a well-behaved client: every
// mutation carries an Idempotency-Key, and a 503 is retried with the same key.
type retryingClient struct {
	h       *homeward
	observe func(method, route string, r response)
}

func (c *retryingClient) do(method, path, route, token string, body any, key string, want ...int) (response, error) {
	deadline := time.Now().Add(90 * time.Second)
	for {
		var headers []string
		if key != "" {
			headers = []string{"Idempotency-Key", key}
		}
		r, err := c.h.attempt(method, path, token, body, headers...)
		if err == nil {
			c.observe(method, route, r)
			for _, w := range want {
				if r.Status == w {
					return r, nil
				}
			}
			// A 503 is retried with the same key, and so is a 500, which observe
			// has reported: the test goes on to show what else happened.
			if r.Status != http.StatusServiceUnavailable && r.Status != http.StatusInternalServerError {
				return r, fmt.Errorf("%s %s answered %d: %s", method, path, r.Status, r.Body)
			}
		} else if !soak.Transient(err) {
			return r, err
		}
		if time.Now().After(deadline) {
			return r, fmt.Errorf("%s %s: still failing after 90s: %v", method, path, err)
		}
		<-time.After(200 * time.Millisecond) // a patient client would honour Retry-After
	}
}

func (c *retryingClient) register(key string) (string, error) {
	r, err := c.do("POST", "/api/v1/cases", "/api/v1/cases", "dev-caseworker", registration(), key,
		http.StatusCreated, http.StatusOK)
	if err != nil {
		return "", err
	}
	var v struct{ ID string }
	return v.ID, json.Unmarshal(r.Body, &v)
}

// waitFor polls the case until cond holds.
func (c *retryingClient) waitFor(id, what string, cond func(st caseView) bool) (caseView, error) {
	deadline := time.Now().Add(90 * time.Second)
	for {
		r, err := c.do("GET", "/api/v1/cases/"+id, "/api/v1/cases/{id}", "dev-manager", nil, "", http.StatusOK)
		var v caseView
		if err == nil {
			if err = json.Unmarshal(r.Body, &v); err == nil && cond(v) {
				return v, nil
			}
		}
		if time.Now().After(deadline) {
			return v, fmt.Errorf("case %s: timed out waiting for %s (last: %+v, %v)", id, what, v.CaseState, err)
		}
		<-time.After(100 * time.Millisecond)
	}
}

// caseView is the part of GET /cases/{id} the drivers read.
type caseView struct {
	contract.CaseState
}

func (c *retryingClient) act(id, suffix, token string, body any, key string) error {
	_, err := c.do("POST", "/api/v1/cases/"+id+suffix, "/api/v1/cases/{id}"+suffix, token, body, id+"/"+key, http.StatusOK)
	return err
}

// completeCase takes a registered case to its end on the happy path.
func (c *retryingClient) completeCase(id string, arrived func()) error {
	stage := func(s contract.Stage) func(caseView) bool { return func(v caseView) bool { return v.Stage == s } }
	steps := []func() error{
		func() error { _, err := c.waitFor(id, "counselling", stage(contract.StageCounselling)); return err },
		func() error {
			return c.act(id, "/counselling", "dev-caseworker", map[string]any{"outcome": "confirmed", "held_at": now()}, "counsel")
		},
		func() error { _, err := c.waitFor(id, "screening", stage(contract.StageScreening)); return err },
		func() error {
			return c.act(id, "/screening", "dev-caseworker", map[string]any{"risk": "low"}, "screen")
		},
		func() error {
			_, err := c.waitFor(id, "a ticketed flight", func(v caseView) bool {
				return v.Stage == contract.StageTravel && v.Travel != nil && v.Travel.BookingStatus == contract.BookingTicketed
			})
			return err
		},
		func() error {
			return c.act(id, "/departure", "dev-caseworker", map[string]any{"departed_at": now(), "flight": "HW101"}, "depart")
		},
		func() error {
			_, err := c.waitFor(id, "planning", stage(contract.StageReintegrationPlanning))
			if err == nil {
				arrived()
			}
			return err
		},
		func() error {
			return c.act(id, "/plan", "dev-caseworker-gn", map[string]any{"items": []any{cost("cash", "400.00"), cost("in_kind", "900.00")}}, "plan")
		},
		func() error { _, err := c.waitFor(id, "approval", stage(contract.StagePlanApproval)); return err },
		func() error {
			return c.act(id, "/plan/decisions", "dev-approver-gn", map[string]any{"decision": "approve"}, "approve")
		},
		func() error {
			v, err := c.waitFor(id, "an order", func(v caseView) bool {
				return len(v.Procurement) == 2 && v.Procurement[1].Status == contract.ItemOrdered
			})
			if err != nil {
				return err
			}
			return c.act(id, "/procurement/"+v.Procurement[1].ItemID+"/delivery", "dev-procurement",
				map[string]any{"delivered_at": now(), "handover_certificate": "HC-1"}, "deliver")
		},
	}
	for visit := 1; visit <= 3; visit++ {
		steps = append(steps,
			func() error {
				_, err := c.waitFor(id, fmt.Sprintf("visit %d due", visit), func(v caseView) bool {
					return len(v.Monitoring) == 3 && v.Monitoring[visit-1].Status == contract.VisitDue
				})
				return err
			},
			func() error {
				return c.act(id, "/monitoring", "dev-caseworker-gn", map[string]any{"visit": visit, "visited_at": now(),
					"scores": map[string]any{"economic": 0.5, "social": 0.5, "psychosocial": 0.5}}, fmt.Sprintf("visit-%d", visit))
			})
	}
	steps = append(steps, func() error { _, err := c.waitFor(id, "closure", stage(contract.StageClosed)); return err })
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// apiLogBuffer is a log destination that goroutines share.
type apiLogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *apiLogBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *apiLogBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// ---- the machine's Postgres ----

type pgCluster struct{ version string }

// postgresCluster finds this machine's Postgres cluster (Debian's pg_ctlcluster).
func postgresCluster(t *testing.T) pgCluster {
	t.Helper()
	_, err := exec.LookPath("pg_ctlcluster")
	require.NoError(t, err, "restarting Postgres needs pg_ctlcluster (Debian's postgresql-common)")
	versions, err := os.ReadDir("/etc/postgresql")
	require.NoError(t, err)
	require.Len(t, versions, 1, "one Postgres version under /etc/postgresql")
	return pgCluster{version: versions[0].Name()}
}

func (c pgCluster) ctl(t *testing.T, action string) {
	t.Helper()
	args := []string{"--skip-systemctl-redirect", c.version, "main", action}
	if action == "stop" {
		args = append(args, "--", "-m", "fast")
	}
	if action == "stop" { // whatever happens next, Postgres is running when the test ends
		t.Cleanup(func() {
			_ = exec.Command("pg_ctlcluster", "--skip-systemctl-redirect", c.version, "main", "start").Run()
		})
	}
	out, err := exec.Command("pg_ctlcluster", args...).CombinedOutput()
	require.NoError(t, err, "pg_ctlcluster %s: %s", action, out)
}
