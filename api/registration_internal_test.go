package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/homeward/homeward/codec"
	"github.com/homeward/homeward/config"
	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/store"
	"github.com/homeward/homeward/store/storetest"
)

// fakeTemporal answers the calls registration and case reads make.
type fakeTemporal struct {
	client.Client
	mu       sync.Mutex
	started  map[string]string // workflow ID -> run ID
	starts   atomic.Int64
	startErr error
	gate     chan struct{} // if set, a start waits for it
}

func (f *fakeTemporal) ExecuteWorkflow(ctx context.Context, o client.StartWorkflowOptions, _ any, _ ...any) (client.WorkflowRun, error) {
	f.starts.Add(1)
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if f.startErr != nil {
		return nil, f.startErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if run, ok := f.started[o.ID]; ok {
		if o.WorkflowIDConflictPolicy == enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING {
			return fakeRun{id: o.ID, run: run}, nil
		}
		return nil, serviceerror.NewWorkflowExecutionAlreadyStarted("started", "", run)
	}
	run := "run-" + uuid.NewString()
	f.started[o.ID] = run
	return fakeRun{id: o.ID, run: run}, nil
}

func (f *fakeTemporal) DescribeWorkflowExecution(_ context.Context, id, _ string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	run, ok := f.started[id]
	if !ok {
		return nil, serviceerror.NewNotFound("workflow not found")
	}
	return &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{
		Execution: &commonpb.WorkflowExecution{WorkflowId: id, RunId: run}}}, nil
}

func (f *fakeTemporal) QueryWorkflow(context.Context, string, string, string, ...any) (converter.EncodedValue, error) {
	return nil, serviceerror.NewUnavailable("no worker here") // the API answers from the case file
}

type fakeRun struct {
	client.WorkflowRun
	id, run string
}

func (r fakeRun) GetID() string    { return r.id }
func (r fakeRun) GetRunID() string { return r.run }

type regEnv struct {
	t     *testing.T
	srv   *Server
	st    *store.Store
	tc    *fakeTemporal
	h     http.Handler
	later atomic.Bool // the clock says two minutes later
}

func newRegEnv(t *testing.T, driver string) *regEnv {
	cfg, err := config.Load("", func(string) string { return "" })
	require.NoError(t, err)
	cfg.Auth = cfg.Auth.WithDevTokens()
	st := storetest.Open(t, driver)
	ring := codec.GenerateKeyRing()
	sealer, err := codec.NewSealer(ring, ring.ActiveKeyID())
	require.NoError(t, err)
	st.WithSealer(sealer)
	tc := &fakeTemporal{started: map[string]string{}}
	e := &regEnv{t: t, st: st, tc: tc}
	e.srv = New(slog.New(slog.NewTextHandler(io.Discard, nil)), cfg, st, tc, ring)
	e.srv.now = func() time.Time {
		if e.later.Load() {
			return time.Now().UTC().Add(time.Minute)
		}
		return time.Now().UTC()
	}
	e.h = e.srv.Handler()
	return e
}

func (e *regEnv) call(method, path string, body any, headers ...string) *httptest.ResponseRecorder {
	var b []byte
	if body != nil {
		var err error
		b, err = json.Marshal(body)
		require.NoError(e.t, err)
	}
	req := httptest.NewRequest(method, path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer dev-caseworker")
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

func (e *regEnv) register(body any, headers ...string) *httptest.ResponseRecorder {
	return e.call("POST", "/api/v1/cases", body, headers...)
}

func person(family string) map[string]any {
	return map[string]any{
		"beneficiary": map[string]any{"given_name": "Aminata", "family_name": family, "date_of_birth": "1990-04-01",
			"sex": "female", "nationality": "GN", "languages": []string{"fr"}},
		"household": []any{}, "vulnerabilities": []string{},
		"host_country": "DE", "country_of_return": "GN",
		"area_of_return": map[string]any{"region": "Kankan", "district": "Siguiri"},
		"sending_office": "DE-BER", "receiving_office": "GN-CKY", "programme": "REAG-GARP",
		"consent": map[string]any{"data_processing": true, "given_at": "2026-11-20T10:00:00Z"},
	}
}

func idOf(t *testing.T, rec *httptest.ResponseRecorder) string {
	var v map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &v), rec.Body.String())
	return v["id"].(string)
}

func (e *regEnv) rows() int {
	db, err := e.st.SQL()
	require.NoError(e.t, err)
	var n int
	require.NoError(e.t, db.QueryRow("SELECT COUNT(*) FROM cases").Scan(&n))
	return n
}

func (e *regEnv) auditRows() int {
	db, err := e.st.SQL()
	require.NoError(e.t, err)
	var n int
	require.NoError(e.t, db.QueryRow("SELECT COUNT(*) FROM audit_log").Scan(&n))
	return n
}

func eachDriver(t *testing.T, f func(t *testing.T, e *regEnv)) {
	for _, d := range storetest.Drivers {
		t.Run(d, func(t *testing.T) { f(t, newRegEnv(t, d)) })
	}
}

// While a registration waits for Temporal, other writers write: the case file
// holds no lock across the start. The case and its audit entry are committed
// before the start.
func TestARegistrationHoldsNoLockWhileItStartsItsWorkflow(t *testing.T) {
	eachDriver(t, func(t *testing.T, e *regEnv) {
		e.tc.gate = make(chan struct{})
		done := make(chan *httptest.ResponseRecorder)
		go func() { done <- e.register(person("Camara")) }()
		require.Eventually(t, func() bool { return e.tc.starts.Load() == 1 }, 5*time.Second, 5*time.Millisecond)

		// A lock held across the start would make this write wait until the gate opens.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, e.st.Audit(ctx, store.AuditEntry{At: time.Now().UTC(), ActorUser: "u",
			ActorRole: "manager", CaseID: "other", Part: "case_file", Action: "read"}), "a write while a registration is starting")
		require.Equal(t, 1, e.rows(), "the case is registered before its workflow starts")

		close(e.tc.gate)
		rec := <-done
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
		got, err := e.st.CaseByID(context.Background(), idOf(t, rec))
		require.NoError(t, err)
		require.NotEmpty(t, got.RunID)
		trail, err := e.st.AuditTrail(context.Background(), got.ID)
		require.NoError(t, err)
		require.Len(t, trail, 1)
		require.Equal(t, "registration", trail[0].Part)
	})
}

// Temporal refuses the start: the case stays registered (201, with its audit
// entry), a change to it is refused for now and changes nothing, a retry with
// the key gets the same case, and the sweeper starts its one workflow once
// Temporal answers.
func TestAFailedStartLeavesTheCaseForTheSweeper(t *testing.T) {
	eachDriver(t, func(t *testing.T, e *regEnv) {
		e.tc.startErr = serviceerror.NewUnavailable("temporal is down")
		rec := e.register(person("Camara"), "Idempotency-Key", "k1")
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
		id := idOf(t, rec)
		require.Equal(t, 1, e.rows())
		require.Equal(t, 1, e.auditRows(), "the registration is audited with the case")

		rec = e.call("POST", "/api/v1/cases/"+id+"/notes", map[string]any{"text": "x"})
		require.Equal(t, http.StatusCreated, rec.Code, "a note is the case file's: no workflow needed: %s", rec.Body.String())
		rec = e.call("POST", "/api/v1/cases/"+id+"/counselling", map[string]any{"outcome": "confirmed",
			"held_at": time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)})
		require.Equal(t, http.StatusServiceUnavailable, rec.Code, "a change the workflow decides waits for it: %s", rec.Body.String())
		require.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))

		rec = e.register(person("Camara"), "Idempotency-Key", "k1")
		require.Equal(t, http.StatusOK, rec.Code, "the retry gets the case: %s", rec.Body.String())
		require.Equal(t, id, idOf(t, rec))
		require.Equal(t, 1, e.rows())

		n, err := e.srv.StartPending(context.Background())
		require.NoError(t, err)
		require.Zero(t, n, "within its grace a registration starts its own workflow")
		e.later.Store(true)
		_, err = e.srv.StartPending(context.Background())
		require.ErrorIs(t, err, store.ErrStartPending, "Temporal is still down")

		e.tc.startErr = nil
		n, err = e.srv.StartPending(context.Background())
		require.NoError(t, err)
		require.Equal(t, 1, n)
		got, err := e.st.CaseByID(context.Background(), id)
		require.NoError(t, err)
		require.Equal(t, e.tc.started[contract.WorkflowID(id)], got.RunID)
		n, err = e.srv.StartPending(context.Background())
		require.NoError(t, err)
		require.Zero(t, n, "started once")
		require.Len(t, e.tc.started, 1)
	})
}

// Retries with the same key while the first registration is waiting for Temporal
// get its case at once: one row, one start.
func TestRetriesGetTheCaseOfTheRegistrationUnderWay(t *testing.T) {
	eachDriver(t, func(t *testing.T, e *regEnv) {
		e.tc.gate = make(chan struct{})
		first := make(chan *httptest.ResponseRecorder)
		go func() { first <- e.register(person("Camara"), "Idempotency-Key", "same") }()
		require.Eventually(t, func() bool { return e.tc.starts.Load() == 1 }, 5*time.Second, 5*time.Millisecond)
		var retries []*httptest.ResponseRecorder
		for range 3 {
			retries = append(retries, e.register(person("Camara"), "Idempotency-Key", "same"))
		}
		close(e.tc.gate)
		rec := <-first

		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
		id := idOf(t, rec)
		for _, r := range retries {
			require.Equal(t, http.StatusOK, r.Code, r.Body.String())
			require.Equal(t, id, idOf(t, r))
		}
		require.EqualValues(t, 1, e.tc.starts.Load(), "one workflow start")
		require.Equal(t, 1, e.rows())
	})
}

// stopBetweenTheSteps leaves what a process that died after committing the
// registration leaves: the case, without a run ID. With started, the workflow
// had started.
func (e *regEnv) stopBetweenTheSteps(family string, started bool) string {
	var id string
	done := make(chan struct{})
	go func() {
		defer close(done)
		now := time.Now().UTC()
		id = uuid.NewString()
		cs := &store.Case{ID: id, Status: "active", Stage: "Intake", StageEnteredAt: now, HostCountry: "DE",
			CountryOfReturn: "GN", SendingOffice: "DE-BER", ReceivingOffice: "GN-CKY", Programme: "REAG-GARP",
			Beneficiary: "{}", Household: "[]", Vulnerabilities: "[]", Consent: "{}", State: "{}", Currency: "EUR",
			BeneficiaryKey: e.st.IdentityKey(family, "aminata", "1990-04-01", "GN"),
			CreatedBy:      "caseworker-de", WorkflowID: contract.WorkflowID(id), CreatedAt: now, UpdatedAt: now}
		_ = e.st.CreateCase(context.Background(), cs, nil, func(context.Context, *store.Case) (string, error) {
			if started {
				e.tc.mu.Lock()
				e.tc.started[cs.WorkflowID] = "run-before-the-crash"
				e.tc.mu.Unlock()
			}
			runtime.Goexit() // the process dies here
			return "", nil
		})
	}()
	<-done
	got, err := e.st.CaseByID(context.Background(), id)
	require.NoError(e.t, err)
	require.Empty(e.t, got.RunID)
	return id
}

// A registration whose process stopped after the commit is a case: the same
// person is not registered twice, the case reads, and the sweeper starts its
// workflow, or finds the one that started and records its run ID. No row is
// deleted; no case gets a second workflow.
func TestARegistrationThatStoppedIsStartedByTheSweeper(t *testing.T) {
	eachDriver(t, func(t *testing.T, e *regEnv) {
		never := e.stopBetweenTheSteps("camara", false)
		rec := e.register(person("Camara"))
		require.Equal(t, http.StatusConflict, rec.Code, "the person has a case: %s", rec.Body.String())
		rec = e.call("GET", "/api/v1/cases/"+never, nil)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())

		began := e.stopBetweenTheSteps("bah", true)
		e.later.Store(true)
		n, err := e.srv.StartPending(context.Background())
		require.NoError(t, err)
		require.Equal(t, 2, n)
		for _, id := range []string{never, began} {
			got, err := e.st.CaseByID(context.Background(), id)
			require.NoError(t, err)
			require.Equal(t, e.tc.started[contract.WorkflowID(id)], got.RunID)
		}
		got, err := e.st.CaseByID(context.Background(), began)
		require.NoError(t, err)
		require.Equal(t, "run-before-the-crash", got.RunID, "the workflow that had started")
		require.Len(t, e.tc.started, 2, "one workflow per case")
	})
}

// A case whose workflow wrote its case file (which records the run ID) is not
// started again.
func TestTheSweeperLeavesACaseWhoseWorkflowWrote(t *testing.T) {
	eachDriver(t, func(t *testing.T, e *regEnv) {
		id := e.stopBetweenTheSteps("camara", false)
		require.NoError(t, e.st.RecordCase(context.Background(), contract.Record{CaseID: id, EventKey: id + "-registered",
			Type: "registered", Summary: "Case registered", At: time.Now().UTC(), RunID: "run-1",
			State: contract.CaseState{Seq: 1, Stage: contract.StageIntake, Status: contract.StatusActive}}))
		e.later.Store(true)
		n, err := e.srv.StartPending(context.Background())
		require.NoError(t, err)
		require.Zero(t, n)
		require.Zero(t, e.tc.starts.Load())
	})
}

// A case that cannot start (here, rules that no longer read) does not hold up
// the sweeper for the cases after it; and a case starts with the rules it was
// registered under, whatever the configuration says by then.
func TestTheSweeperGoesPastACaseThatCannotStart(t *testing.T) {
	eachDriver(t, func(t *testing.T, e *regEnv) {
		e.tc.startErr = serviceerror.NewUnavailable("temporal is down")
		broken := idOf(t, e.register(person("Camara")))
		fine := idOf(t, e.register(person("Diallo")))
		db, err := e.st.SQL()
		require.NoError(t, err)
		_, err = db.Exec("UPDATE cases SET start_rules = '{not json' WHERE id = $1", broken)
		require.NoError(t, err)
		e.tc.startErr = nil
		e.srv.cfg.Rules.Programmes = nil // the programme left the configuration since

		e.later.Store(true)
		n, err := e.srv.StartPending(context.Background())
		require.ErrorContains(t, err, broken)
		require.Equal(t, 1, n, "the case after it started")
		got, err := e.st.CaseByID(context.Background(), fine)
		require.NoError(t, err)
		require.NotEmpty(t, got.RunID)
		_, started := e.tc.started[contract.WorkflowID(broken)]
		require.False(t, started)

		// The manager sees it in /stuck, and only it, for what it is.
		rec := e.call("GET", "/api/v1/stuck", nil, "Authorization", "Bearer dev-manager")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var stuck struct {
			Items []StuckCase `json:"items"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &stuck))
		reasons := map[string]string{}
		for _, it := range stuck.Items {
			reasons[it.Case.ID] = it.Reason
		}
		require.Equal(t, map[string]string{broken: "not_started"}, reasons)
	})
}
