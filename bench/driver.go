package bench

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/store"
)

// apiClient calls Homeward's API (or the bare handler) over loopback.
type apiClient struct {
	base string
	c    *http.Client
}

func newAPIClient(base string) *apiClient {
	tr := &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: 90 * time.Second}
	return &apiClient{base: base, c: &http.Client{Transport: tr, Timeout: 60 * time.Second}}
}

// httpError is an answer that was not the one wanted.
type httpError struct {
	status int
	body   string
}

func (e *httpError) Error() string { return fmt.Sprintf("HTTP %d: %.300s", e.status, e.body) }

// do sends a request; body is a value sent as JSON. It returns the status and body.
func (a *apiClient) do(ctx context.Context, method, path, token string, body any, headers ...string) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := a.c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

// expect sends a request and wants one of the statuses.
func (a *apiClient) expect(ctx context.Context, method, path, token string, body any, want []int, headers ...string) ([]byte, error) {
	st, b, err := a.do(ctx, method, path, token, body, headers...)
	if err != nil {
		return nil, err
	}
	for _, w := range want {
		if st == w {
			return b, nil
		}
	}
	return b, &httpError{status: st, body: string(b)}
}

func stamp() string { return time.Now().UTC().Format(time.RFC3339) }

var beneficiaries atomic.Int64

// registration is the README's case: an adult and her child with health needs,
// Germany to Guinea, REAG-GARP. Each is another person (Homeward refuses a second
// active case for the same beneficiary).
func registration() map[string]any {
	family := fmt.Sprintf("Camara %d", beneficiaries.Add(1))
	return map[string]any{
		"beneficiary": map[string]any{"given_name": "Aminata", "family_name": family, "date_of_birth": "1990-04-01",
			"sex": "female", "nationality": "GN", "languages": []string{"fr"}, "phone": "+224621234567"},
		"household":       []any{map[string]any{"given_name": "Mariama", "relationship": "child", "date_of_birth": "2016-02-11"}},
		"vulnerabilities": []string{"health_needs"},
		"host_country":    "DE", "country_of_return": "GN",
		"area_of_return": map[string]any{"region": "Kankan", "district": "Siguiri"},
		"sending_office": "DE-BER", "receiving_office": "GN-CKY", "programme": "REAG-GARP",
		"consent": map[string]any{"data_processing": true, "given_at": "2026-11-20T10:00:00Z"},
	}
}

func planBody() map[string]any {
	item := func(kind, amount string) map[string]any {
		return map[string]any{"dimension": "economic", "kind": kind, "description": kind + " support",
			"cost": map[string]any{"amount": amount, "currency": "EUR"}}
	}
	return map[string]any{"items": []any{item("cash", "400.00"), item("in_kind", "900.00")}}
}

// register creates a case through the API and returns its ID.
func (a *apiClient) register(ctx context.Context) (string, error) {
	b, err := a.expect(ctx, "POST", "/api/v1/cases", "dev-caseworker", registration(), []int{http.StatusCreated})
	if err != nil {
		return "", err
	}
	var c struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &c); err != nil || c.ID == "" {
		return "", fmt.Errorf("registration answered %.200s", b)
	}
	return c.ID, nil
}

// stepLog records, for one case, when each wait ended and each action was answered.
type stepLog struct {
	start time.Time
	last  time.Time
	steps []stepTime
}

type stepTime struct {
	name string
	took time.Duration
}

type stepLogKey struct{}

func withStepLog(ctx context.Context) (context.Context, *stepLog) {
	l := &stepLog{start: time.Now(), last: time.Now()}
	return context.WithValue(ctx, stepLogKey{}, l), l
}

func mark(ctx context.Context, name string) {
	if l, ok := ctx.Value(stepLogKey{}).(*stepLog); ok {
		now := time.Now()
		l.steps = append(l.steps, stepTime{name, now.Sub(l.last)})
		l.last = now
	}
}

// The driver waits for a case's next step as a person's screen would refresh: it
// reads the case file (a second connection pool, not GET /cases/{id}, which queries
// the workflow and would load the server it measures) when the store says the case
// was written (store.OnWritten, in this process), and every pollEvery besides.
// The baseline's driver waits for free (its updates wait in the workflow), so the
// driver's own reads must cost next to nothing, or they would count as Homeward's.
const pollEvery = 250 * time.Millisecond

// watchers wakes the driver's waits when the case file of their case is written.
type watchers struct {
	mu   sync.Mutex
	byID map[string]chan struct{}
}

func newWatchers() *watchers { return &watchers{byID: map[string]chan struct{}{}} }

// watch returns a channel that has a value after each write of the case, and a
// func that stops the watch. One wait per case at a time (the driver's): a second
// watch of the same case takes the notices, and the first falls back to pollEvery.
func (w *watchers) watch(id string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	w.byID[id] = ch
	w.mu.Unlock()
	return ch, func() {
		w.mu.Lock()
		if w.byID[id] == ch {
			delete(w.byID, id)
		}
		w.mu.Unlock()
	}
}

// written is the store's hook: it never blocks the writer.
func (w *watchers) written(id string) {
	w.mu.Lock()
	ch := w.byID[id]
	w.mu.Unlock()
	if ch != nil {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// caseRow is what the driver sees of a case: its stage and status, and its state
// (read and unsealed only when a condition asks for it).
type caseRow struct {
	Stage, Status string
	load          func() (contract.CaseState, error)
	st            *contract.CaseState
}

// State is the case's projected state (zero if it cannot be read).
func (r *caseRow) State() contract.CaseState {
	if r.st == nil {
		st, err := r.load()
		if err != nil {
			return contract.CaseState{}
		}
		r.st = &st
	}
	return *r.st
}

// waitCase reads the case file until cond holds, after each write of the case (and
// every pollEvery). Each read takes three columns; cond runs only when the
// projection changed (its state_seq).
func (e *env) waitCase(ctx context.Context, id, what string, within time.Duration, cond func(*caseRow) bool) (contract.CaseState, error) {
	db, err := e.reader.SQL()
	if err != nil {
		return contract.CaseState{}, err
	}
	wrote, unwatch := e.watchers.watch(id)
	defer unwatch()
	deadline := time.Now().Add(within)
	lastSeq, stage := int64(-1), "?"
	for {
		var row caseRow
		var seq int64
		err := db.QueryRowContext(ctx, store.Rebind(e.reader.Driver(), `SELECT stage, status, state_seq FROM cases WHERE id = ?`), id).Scan(&row.Stage, &row.Status, &seq)
		switch {
		case err == nil && seq != lastSeq:
			lastSeq, stage = seq, row.Stage
			row.load = func() (contract.CaseState, error) {
				c, err := e.reader.CaseByID(ctx, id)
				if err != nil {
					return contract.CaseState{}, err
				}
				st, err := c.LiveState()
				// As the API shows it: a visit published to open at its due date is
				// due once that has passed (the bench's visits fall due within ms of arrival).
				return st.AsOf(time.Now()), err
			}
			if cond(&row) {
				mark(ctx, "wait: "+what)
				if row.st != nil {
					return *row.st, nil
				}
				return contract.CaseState{}, nil
			}
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			return contract.CaseState{}, err
		}
		if time.Now().After(deadline) {
			return contract.CaseState{}, fmt.Errorf("case %s: no %s after %s (stage %s)", id, what, within, stage)
		}
		select {
		case <-ctx.Done():
			return contract.CaseState{}, ctx.Err()
		case <-wrote:
		case <-time.After(pollEvery):
		}
	}
}

func atStage(stage contract.Stage) func(*caseRow) bool {
	return func(r *caseRow) bool { return r.Stage == string(stage) }
}

// act sends a person's action; a 409 (the projection ran ahead of the workflow,
// which cannot happen by design, or a retried step) is retried a few times.
func (e *env) act(ctx context.Context, path, token string, body any, headers ...string) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		_, err = e.http.expect(ctx, "POST", path, token, body, []int{http.StatusOK, http.StatusAccepted}, headers...)
		var he *httpError
		if err == nil || !errors.As(err, &he) || he.status != http.StatusConflict {
			mark(ctx, "POST "+path[strings.LastIndex(path, "/")+1:])
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
	return err
}

// stepTimeout bounds each wait of a case under load.
const stepTimeout = 2 * time.Minute

// driveToPlanApproval takes a registered case to PlanApproval: counselling,
// screening, (the medical provider calls back), departure, (the receiving office
// calls back), the plan.
func (e *env) driveToPlanApproval(ctx context.Context, id string) error {
	p := "/api/v1/cases/" + id
	if _, err := e.waitCase(ctx, id, "counselling", stepTimeout, atStage(contract.StageCounselling)); err != nil {
		return err
	}
	if err := e.act(ctx, p+"/counselling", "dev-caseworker", map[string]any{"outcome": "confirmed", "held_at": stamp()}); err != nil {
		return err
	}
	if _, err := e.waitCase(ctx, id, "screening", stepTimeout, atStage(contract.StageScreening)); err != nil {
		return err
	}
	if err := e.act(ctx, p+"/screening", "dev-caseworker", map[string]any{"risk": "medium", "flags": []string{"health_needs"},
		"mitigations": []string{"medical escort assessed"}}); err != nil {
		return err
	}
	if _, err := e.waitCase(ctx, id, "a ticketed flight", stepTimeout, func(r *caseRow) bool {
		if r.Stage != string(contract.StageTravel) {
			return false
		}
		st := r.State()
		return st.Travel != nil && st.Travel.BookingStatus == contract.BookingTicketed
	}); err != nil {
		return err
	}
	if err := e.act(ctx, p+"/departure", "dev-caseworker", map[string]any{"departed_at": stamp(), "flight": "HW101"}); err != nil {
		return err
	}
	if _, err := e.waitCase(ctx, id, "planning", stepTimeout, atStage(contract.StageReintegrationPlanning)); err != nil {
		return err
	}
	return e.submitPlan(ctx, id)
}

func (e *env) submitPlan(ctx context.Context, id string) error {
	if err := e.act(ctx, "/api/v1/cases/"+id+"/plan", "dev-caseworker-gn", planBody()); err != nil {
		return err
	}
	_, err := e.waitCase(ctx, id, "plan approval", stepTimeout, atStage(contract.StagePlanApproval))
	return err
}

// driveFromPlanApproval approves the plan, records the delivery of the in-kind
// item, reports the three visits and waits for the closure.
func (e *env) driveFromPlanApproval(ctx context.Context, id string) error {
	p := "/api/v1/cases/" + id
	if err := e.act(ctx, p+"/plan/decisions", "dev-approver-gn", map[string]any{"decision": "approve", "comment": "within the cap"},
		"Idempotency-Key", uuid.NewString()); err != nil {
		return err
	}
	st, err := e.waitCase(ctx, id, "an order", stepTimeout, func(r *caseRow) bool {
		if r.Stage != string(contract.StageProcurement) {
			return false
		}
		for _, it := range r.State().Procurement {
			if it.Status == contract.ItemOrdered {
				return true
			}
		}
		return false
	})
	if err != nil {
		return err
	}
	for _, it := range st.Procurement {
		if it.Status == contract.ItemOrdered {
			if err := e.act(ctx, p+"/procurement/"+it.ItemID+"/delivery", "dev-procurement",
				map[string]any{"delivered_at": stamp(), "handover_certificate": "HC-" + it.ItemID}); err != nil {
				return err
			}
		}
	}
	for visit := 1; visit <= 3; visit++ {
		if _, err := e.waitCase(ctx, id, fmt.Sprintf("visit %d due", visit), stepTimeout, func(r *caseRow) bool {
			if r.Stage != string(contract.StageMonitoring) {
				return false
			}
			st := r.State()
			return len(st.Monitoring) >= visit && st.Monitoring[visit-1].Status == contract.VisitDue
		}); err != nil {
			return err
		}
		if err := e.act(ctx, p+"/monitoring", "dev-caseworker-gn", map[string]any{"visit": visit, "visited_at": stamp(),
			"scores": map[string]any{"economic": 0.5, "social": 0.75, "psychosocial": 1}}); err != nil {
			return err
		}
	}
	_, err = e.waitCase(ctx, id, "closure", stepTimeout, func(r *caseRow) bool {
		return r.Status == string(contract.StatusClosed)
	})
	return err
}

// runCase drives one case through its whole lifecycle and returns its ID.
func (e *env) runCase(ctx context.Context) (string, error) {
	id, err := e.http.register(ctx)
	if err != nil {
		return "", err
	}
	mark(ctx, "POST /cases")
	if err := e.driveToPlanApproval(ctx, id); err != nil {
		return id, err
	}
	return id, e.driveFromPlanApproval(ctx, id)
}
