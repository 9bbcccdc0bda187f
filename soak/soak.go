// Package soak drives cases through Homeward's HTTP API along random paths drawn
// from a seed (withdrawals at random stages, no-shows, rejected and changed plans,
// high risks cleared or not, unfit returnees, undelivered items, skipped visits),
// lets them settle, and checks the invariants every case must keep: no case lost,
// no effect doubled, the case file agreeing with its workflow. e2e's TestSoak runs
// it against the dev server with a worker restarted under it; prodcheck runs it
// against a real Temporal server on Postgres with several api and worker processes.
package soak

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/partners"
	"github.com/homeward/homeward/simulator"
	"github.com/homeward/homeward/store"
)

// Response is what the API answered.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// API sends one request to Homeward's API as the holder of token, with headers in
// pairs; body is a value sent as JSON. An error is a failed exchange (or an
// answer the caller refuses, such as one outside the contract); any status is
// not an error.
type API interface {
	Attempt(method, path, token string, body any, headers ...string) (Response, error)
}

// Partners scripts what the simulated partners will answer for a case: the
// simulator in this process, or one over HTTP (simulator.Remote).
type Partners interface {
	ScriptMedical(caseID string, m simulator.MedicalScript) error
	ScriptEligibility(caseID string, e partners.Eligibility) error
}

// Tokens are the bearer tokens of the people the driver acts as: caseworkers and
// approvers of the sending office (DE-BER) and the receiving one (GN-CKY), a
// procurement officer of GN-CKY, and a manager of every office.
type Tokens struct {
	Caseworker, CaseworkerGN, Approver, ApproverGN, Procurement, Manager string
}

// DevTokens are the tokens of `homeward dev` (config.DevTokens) for those people.
func DevTokens() Tokens {
	return Tokens{Caseworker: "dev-caseworker", CaseworkerGN: "dev-caseworker-gn", Approver: "dev-approver",
		ApproverGN: "dev-approver-gn", Procurement: "dev-procurement", Manager: "dev-manager"}
}

var people atomic.Int64

// Registration is a valid registration body, each time of another person (one
// person has at most one active case): vulnerable (health needs), from DE-BER to
// GN-CKY, under REAG-GARP.
func Registration() map[string]any {
	return map[string]any{
		"beneficiary": map[string]any{"given_name": "Aminata", "family_name": fmt.Sprintf("Camara %d", people.Add(1)), "date_of_birth": "1990-04-01",
			"sex": "female", "nationality": "GN", "languages": []string{"fr"}, "phone": "+224621234567"},
		"household":       []any{map[string]any{"given_name": "Mariama", "relationship": "child", "date_of_birth": "2016-02-11"}},
		"vulnerabilities": []string{"health_needs"},
		"host_country":    "DE", "country_of_return": "GN",
		"area_of_return": map[string]any{"region": "Kankan", "district": "Siguiri"},
		"sending_office": "DE-BER", "receiving_office": "GN-CKY", "programme": "REAG-GARP",
		"consent": map[string]any{"data_processing": true, "given_at": "2026-11-20T10:00:00Z"},
	}
}

// PlanItem is one item of a reintegration plan, of the economic dimension.
func PlanItem(kind, amount string) map[string]any {
	return map[string]any{"dimension": "economic", "kind": kind, "description": kind + " support",
		"cost": map[string]any{"amount": amount, "currency": "EUR"}}
}

func now() string { return time.Now().UTC().Format(time.RFC3339) }

// caseView is the part of GET /cases/{id} the driver reads.
type caseView struct {
	contract.CaseState
}

// ---- each case's path ----

// Case is one case of the soak: its path, drawn from the seed and its number,
// and what happened to it.
type Case struct {
	N   int // its number: with the seed, it fixes the path
	rng *rand.Rand

	withdrawAt  contract.Stage // "" for none
	withdrawWhy string
	counselling string // confirmed or withdrawn
	risk        string
	clearance   contract.Decision // for a high risk: cleared or not_cleared
	medical     []string
	eligible    bool
	noShows     int
	plans       [][]map[string]any  // the plan versions submitted
	decisions   []contract.Decision // the decision on each version
	deliver     bool                // record every delivery
	visits      int                 // visits reported

	ID         string   // once registered
	Outcome    string   // where the driver left it
	expect     string   // the closure reason its path ends in, if it ran to its end
	decided    int      // plan decisions accepted
	Unexpected []string // answers a valid action should not get
	Log        []string // what the driver saw, for the report of a violation
}

func (c *Case) note(format string, args ...any) {
	c.Log = append(c.Log, time.Now().Format("15:04:05.000 ")+fmt.Sprintf(format, args...))
}

// NewCase draws case n's path from the seed.
func NewCase(seed int64, n int) *Case {
	r := rand.New(rand.NewPCG(uint64(seed), uint64(n)))
	c := &Case{N: n, rng: r, counselling: "confirmed", risk: "low", eligible: true, deliver: true, visits: 3}
	chance := func(p float64) bool { return r.Float64() < p }
	if chance(0.25) {
		stages := []contract.Stage{contract.StageCounselling, contract.StageScreening, contract.StageMedicalClearance,
			contract.StageTravel, contract.StageReintegrationPlanning, contract.StagePlanApproval,
			contract.StageProcurement, contract.StageMonitoring}
		c.withdrawAt = stages[r.IntN(len(stages))]
		c.withdrawWhy = []string{"withdrawn", "deceased", "absconded"}[r.IntN(3)]
	}
	if chance(0.05) {
		c.counselling = "withdrawn"
	}
	switch x := r.Float64(); {
	case x < 0.15:
		c.risk, c.clearance = "high", map[bool]contract.Decision{true: contract.DecisionCleared, false: contract.DecisionNotCleared}[chance(0.7)]
	case x < 0.45:
		c.risk = "medium"
	}
	switch x := r.Float64(); {
	case x < 0.06:
		c.medical = []string{"unfit"}
	case x < 0.09:
		c.medical = []string{"unfit_temporary"} // reassessed in a day: it waits on the provider
	case x < 0.2:
		c.medical = []string{"fit_with_escort"}
	}
	c.eligible = !chance(0.03)
	switch x := r.Float64(); {
	case x < 0.05:
		c.noShows = 3 // more than max_rebookings (2): closed as a no-show
	case x < 0.2:
		c.noShows = 1
	}
	for v := 0; ; v++ {
		c.plans = append(c.plans, randomPlan(r))
		switch x := r.Float64(); {
		case v < 2 && x < 0.12:
			c.decisions = append(c.decisions, contract.DecisionReject)
			continue
		case v < 2 && x < 0.25:
			c.decisions = append(c.decisions, contract.DecisionRequestChanges)
			continue
		}
		c.decisions = append(c.decisions, contract.DecisionApprove)
		break
	}
	c.deliver = !chance(0.08)
	if chance(0.1) {
		c.visits = r.IntN(3)
	}
	return c
}

// randomPlan is one to three items within the household's cap (EUR 1,500).
func randomPlan(r *rand.Rand) []map[string]any {
	kinds := []string{"cash", "in_kind", "service", "referral"}
	var items []map[string]any
	budget := 1500
	for range 1 + r.IntN(3) {
		kind := kinds[r.IntN(len(kinds))]
		amount := 0
		if kind != "referral" {
			amount = 50 + r.IntN(budget/3/50)*50
			budget -= amount
		}
		items = append(items, PlanItem(kind, fmt.Sprintf("%d.00", amount)))
	}
	return items
}

// ---- the driver ----

// Driver takes cases along their paths through API until Until.
type Driver struct {
	API      API
	Partners Partners
	Temporal client.Client
	Tokens   Tokens
	Until    time.Time

	Timeouts     atomic.Int64 // paths that gave up waiting
	StaleRetries atomic.Int64 // actions retried once after a stale view
}

var (
	ErrOver       = errors.New("the drive is over")
	ErrCaseClosed = errors.New("the case closed")
)

// Drive takes a case along its path, through the API, until the path ends or
// the drive is over.
func (d *Driver) Drive(c *Case) {
	err := d.path(c)
	switch {
	case err == nil:
		c.Outcome = "path done"
	case errors.Is(err, ErrOver):
		c.Outcome = "drive over"
	case errors.Is(err, ErrCaseClosed):
		c.Outcome = "closed early"
		c.Unexpected = append(c.Unexpected, err.Error())
	default:
		c.Outcome = "stopped: " + strings.SplitN(err.Error(), ":", 2)[0]
		if strings.Contains(err.Error(), "timed out") {
			d.Timeouts.Add(1)
		} else {
			c.Unexpected = append(c.Unexpected, err.Error())
		}
	}
}

func (d *Driver) path(c *Case) error {
	r, err := d.send(c, "POST", "/api/v1/cases", d.Tokens.Caseworker, Registration(), fmt.Sprintf("soak-%d", c.N),
		http.StatusCreated, http.StatusOK)
	if err != nil {
		return err
	}
	var reg struct{ ID string }
	if err := json.Unmarshal(r.Body, &reg); err != nil {
		return err
	}
	c.ID = reg.ID
	sim := d.Partners
	if c.medical != nil {
		if err := sim.ScriptMedical(c.ID, simulator.MedicalScript{Results: c.medical, ReassessAfterDays: 1}); err != nil {
			return err
		}
	}
	if !c.eligible {
		if err := sim.ScriptEligibility(c.ID, partners.Eligibility{Eligible: false, Reason: "outside the programme's scope"}); err != nil {
			return err
		}
	}

	// withdraw ends the path at stage (or the first stage after it that the driver
	// sees: some pass in a moment) if the case is to be withdrawn there.
	withdraw := func(stage contract.Stage) (bool, error) {
		if c.withdrawAt != stage {
			return false, nil
		}
		_, err := d.waitFor(c, "stage "+string(stage)+" or later", func(v caseView) bool {
			return v.Status == contract.StatusActive && slices.Index(contract.Stages, v.Stage) >= slices.Index(contract.Stages, stage)
		})
		if errors.Is(err, ErrCaseClosed) {
			return true, nil // its path closed it first (not fit, say): no withdrawal
		}
		if err != nil {
			return true, err
		}
		err = d.act(c, "/withdrawal", d.Tokens.Caseworker, map[string]any{"reason": c.withdrawWhy}, "withdraw")
		if err == nil {
			c.expect = c.withdrawWhy
		}
		return true, err
	}
	step := func(stage contract.Stage, f func() error) (bool, error) {
		if end, err := withdraw(stage); end || err != nil {
			return true, err
		}
		return false, f()
	}

	if end, err := step(contract.StageCounselling, func() error {
		if _, err := d.waitStage(c, contract.StageCounselling); err != nil {
			return err
		}
		return d.act(c, "/counselling", d.Tokens.Caseworker, map[string]any{"outcome": c.counselling, "held_at": now()}, "counsel")
	}); end || err != nil {
		return err
	}
	if c.counselling == "withdrawn" {
		c.expect = "withdrawn"
		return nil
	}
	if end, err := step(contract.StageScreening, func() error {
		if _, err := d.waitStage(c, contract.StageScreening); err != nil {
			return err
		}
		return d.act(c, "/screening", d.Tokens.Caseworker, map[string]any{"risk": c.risk, "flags": []string{}}, "screen")
	}); end || err != nil {
		return err
	}
	if c.risk == "high" {
		if _, err := d.waitFor(c, "waiting for clearance", func(v caseView) bool { return v.WaitingOn == contract.WaitingApprover }); err != nil {
			return err
		}
		if err := d.act(c, "/screening/clearance", d.Tokens.Approver, map[string]any{"decision": c.clearance, "comment": "reviewed"}, "clear"); err != nil {
			return err
		}
		if c.clearance == contract.DecisionNotCleared {
			c.expect = "ineligible"
			return nil
		}
	}
	if !c.eligible {
		c.expect = "ineligible"
		return nil
	}
	if end, err := step(contract.StageMedicalClearance, func() error { return nil }); end || err != nil {
		return err
	}
	switch {
	case slices.Contains(c.medical, "unfit"):
		c.expect = "not_fit"
		return nil
	case slices.Contains(c.medical, "unfit_temporary"):
		_, err := d.waitFor(c, "a temporary unfitness", func(v caseView) bool {
			return v.Medical != nil && v.Medical.Result == contract.MedicalUnfitTemporary
		})
		return err
	}

	for attempt := 1; ; attempt++ {
		if end, err := withdraw(contract.StageTravel); end || err != nil {
			return err
		}
		if _, err := d.waitFor(c, fmt.Sprintf("flight %d ticketed", attempt), func(v caseView) bool {
			return v.Stage == contract.StageTravel && v.Travel != nil && v.Travel.Attempt == attempt && v.Travel.BookingStatus == contract.BookingTicketed
		}); err != nil {
			return err
		}
		if attempt <= c.noShows {
			if err := d.act(c, "/departure", d.Tokens.Caseworker, map[string]any{"no_show": true}, fmt.Sprintf("no-show-%d", attempt)); err != nil {
				return err
			}
			if attempt > 2 { // max_rebookings
				c.expect = "no_show"
				return nil
			}
			continue
		}
		if err := d.act(c, "/departure", d.Tokens.Caseworker, map[string]any{"departed_at": now(), "flight": "HW" + strconv.Itoa(attempt)}, "depart"); err != nil {
			return err
		}
		break
	}

	for v, items := range c.plans {
		if end, err := step(contract.StageReintegrationPlanning, func() error {
			if _, err := d.waitStage(c, contract.StageReintegrationPlanning); err != nil {
				return err
			}
			return d.act(c, "/plan", d.Tokens.CaseworkerGN, map[string]any{"items": items}, fmt.Sprintf("plan-%d", v))
		}); end || err != nil {
			return err
		}
		if end, err := step(contract.StagePlanApproval, func() error {
			if _, err := d.waitStage(c, contract.StagePlanApproval); err != nil {
				return err
			}
			approver := []string{d.Tokens.ApproverGN, d.Tokens.Approver}[c.rng.IntN(2)]
			if err := d.act(c, "/plan/decisions", approver, map[string]any{"decision": c.decisions[v], "comment": "reviewed"},
				fmt.Sprintf("decision-%d", v)); err != nil {
				return err
			}
			c.decided++
			return nil
		}); end || err != nil {
			return err
		}
	}

	if end, err := step(contract.StageProcurement, func() error {
		if !c.deliver {
			return nil
		}
		inKind := 0
		for _, it := range c.plans[len(c.plans)-1] {
			if it["kind"] == "in_kind" {
				inKind++
			}
		}
		if inKind == 0 {
			return nil
		}
		v, err := d.waitFor(c, "orders", func(v caseView) bool {
			n := 0
			for _, p := range v.Procurement {
				if p.Status == contract.ItemOrdered {
					n++
				}
			}
			return v.Stage == contract.StageProcurement && n == inKind
		})
		if err != nil {
			return err
		}
		for _, p := range v.Procurement {
			if p.Status == contract.ItemOrdered {
				if err := d.act(c, "/procurement/"+p.ItemID+"/delivery", d.Tokens.Procurement,
					map[string]any{"delivered_at": now(), "handover_certificate": "HC-" + p.ItemID}, "deliver-"+p.ItemID); err != nil {
					return err
				}
			}
		}
		return nil
	}); end || err != nil {
		return err
	}
	if !c.deliver && slices.ContainsFunc(c.plans[len(c.plans)-1], func(it map[string]any) bool { return it["kind"] == "in_kind" }) {
		return nil // it waits on procurement
	}

	for visit := 1; visit <= 3; visit++ {
		if end, err := withdraw(contract.StageMonitoring); end || err != nil {
			return err
		}
		if visit > c.visits {
			return nil // it waits on the caseworker
		}
		if _, err := d.waitFor(c, fmt.Sprintf("visit %d due", visit), func(v caseView) bool {
			return len(v.Monitoring) == 3 && v.Monitoring[visit-1].Status == contract.VisitDue
		}); err != nil {
			return err
		}
		if err := d.act(c, "/monitoring", d.Tokens.CaseworkerGN, map[string]any{"visit": visit, "visited_at": now(),
			"scores": map[string]any{"economic": c.rng.Float64(), "social": c.rng.Float64(), "psychosocial": c.rng.Float64()}},
			fmt.Sprintf("visit-%d", visit)); err != nil {
			return err
		}
	}
	c.expect = "completed"
	return nil
}

// act sends an action with an Idempotency-Key of the case and step.
func (d *Driver) act(c *Case, suffix, token string, body any, step string) error {
	_, err := d.send(c, "POST", "/api/v1/cases/"+c.ID+suffix, token, body, c.ID+"/"+step, http.StatusOK)
	return err
}

// send retries what a client retries (503, no connection) with the same key, and
// reports any other answer than want.
//
// A client also retries, once and a second later, an action refused because the
// case is not where the client saw it a moment ago. When a worker dies after a
// workflow task wrote its steps to the case file and before the task completed,
// the task's next attempt writes them again, in order: meanwhile the case file can
// show a step the workflow has not committed (the action is refused as not
// possible yet: 409), or an earlier step again (an approver no longer sees the
// case: 404). A person looking at the case sees the same thing and clicks again;
// refused twice is a violation.
func (d *Driver) send(c *Case, method, path, token string, body any, key string, want ...int) (Response, error) {
	giveUp := time.Now().Add(75 * time.Second) // the API gives up on Temporal after 30s: two tries and more
	staleRetried := false
	for {
		var headers []string
		if key != "" {
			headers = []string{"Idempotency-Key", key}
		}
		r, err := d.API.Attempt(method, path, token, body, headers...)
		c.note("%s %s -> %d %v", method, strings.TrimPrefix(path, "/api/v1/cases/"+c.ID), r.Status, err)
		switch {
		case err == nil && slices.Contains(want, r.Status):
			return r, nil
		case err == nil && !staleRetried && c.ID != "" && strings.HasPrefix(path, "/api/v1/cases/"+c.ID+"/") &&
			(r.Status == http.StatusConflict && wrongStage(r.Body) || r.Status == http.StatusNotFound):
			staleRetried = true
			d.StaleRetries.Add(1)
			<-time.After(time.Second)
			continue
		case err == nil && r.Status != http.StatusServiceUnavailable:
			return r, fmt.Errorf("%s %s answered %d: %s", method, strings.TrimPrefix(path, "/api/v1/cases/"+c.ID), r.Status, r.Body)
		case err != nil && !Transient(err) && !strings.Contains(err.Error(), "connection refused"):
			return r, err
		case time.Now().After(giveUp):
			return r, fmt.Errorf("%s %s: timed out retrying (%d, %v): %s", method, strings.TrimPrefix(path, "/api/v1/cases/"+c.ID),
				r.Status, err, r.Body)
		}
		<-time.After(250 * time.Millisecond)
	}
}

// Transient says whether a failed exchange is worth retrying: a timeout, or a
// connection closed or reset (an api process stopping, say).
func Transient(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || strings.Contains(err.Error(), "connection reset")
}

// wrongStage says whether a 409 refuses an action as not possible now (not a duplicate).
func wrongStage(body []byte) bool {
	return !bytes.Contains(body, []byte("already")) && !bytes.Contains(body, []byte("closed"))
}

// waitFor polls the case until cond holds. A closed case that cond does not
// accept ends the path early (ErrCaseClosed).
func (d *Driver) waitFor(c *Case, what string, cond func(caseView) bool) (caseView, error) {
	deadline := time.Now().Add(90 * time.Second)
	pause := 150*time.Millisecond + time.Duration(c.rng.IntN(100))*time.Millisecond
	for {
		var v caseView
		r, err := d.API.Attempt("GET", "/api/v1/cases/"+c.ID, d.Tokens.Manager, nil)
		if err == nil && r.Status == http.StatusOK {
			if err := json.Unmarshal(r.Body, &v); err != nil {
				return v, err
			}
			if cond(v) {
				c.note("GET: %s %s waiting on %q seq %d (%s)", v.Stage, v.Status, v.WaitingOn, v.Seq, what)
				return v, nil
			}
			if v.Status == contract.StatusClosed {
				return v, fmt.Errorf("%w (%s) while waiting for %s", ErrCaseClosed, v.ClosureReason, what)
			}
		} else if err == nil && r.Status != http.StatusServiceUnavailable {
			return v, fmt.Errorf("GET answered %d: %s", r.Status, r.Body)
		}
		switch now := time.Now(); {
		case now.After(d.Until):
			return v, ErrOver
		case now.After(deadline):
			return v, fmt.Errorf("timed out waiting for %s (stage %s, waiting on %q)", what, v.Stage, v.WaitingOn)
		}
		<-time.After(pause)
	}
}

func (d *Driver) waitStage(c *Case, stage contract.Stage) (caseView, error) {
	return d.waitFor(c, "stage "+string(stage), func(v caseView) bool { return v.Stage == stage })
}

// Settle waits until no case has anything under way in Temporal: no pending
// activity, no workflow task to run.
func (d *Driver) Settle(ids []string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for _, id := range ids {
		for {
			desc, err := d.Temporal.DescribeWorkflowExecution(context.Background(), contract.WorkflowID(id), "")
			if err == nil && (desc.WorkflowExecutionInfo.Status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING ||
				len(desc.PendingActivities) == 0 && desc.PendingWorkflowTask == nil) {
				break
			}
			if time.Now().After(deadline) {
				what := "?"
				if err == nil {
					what = fmt.Sprintf("%d pending activities, workflow task %v", len(desc.PendingActivities), desc.PendingWorkflowTask != nil)
					for _, a := range desc.PendingActivities {
						what += fmt.Sprintf("; %s attempt %d: %s", a.ActivityType.GetName(), a.Attempt, a.LastFailure.GetMessage())
					}
				}
				return fmt.Errorf("case %s has not settled after %s: %s (%v)", id, within, what, err)
			}
			<-time.After(100 * time.Millisecond)
		}
	}
	return nil
}

// ---- the invariants ----

// Invariants checks the cases once they have settled, against the workflows
// (Temporal), the case file (Store) and what the partners did (Counts); the
// cases' workflows run on TaskQueue.
type Invariants struct {
	Temporal  client.Client
	Store     *store.Store
	Counts    simulator.Counts
	TaskQueue string

	Checked    int
	Violations []string
	Bad        map[string]bool // cases with a violation
}

// Check counts one invariant, and a violation when it does not hold; a case's ID
// in brackets in the message marks the case as bad.
func (iv *Invariants) Check(what string, ok bool, format string, args ...any) {
	iv.Checked++
	if !ok {
		msg := fmt.Sprintf(format, args...)
		iv.Violations = append(iv.Violations, what+": "+msg)
		if iv.Bad == nil {
			iv.Bad = map[string]bool{}
		}
		if _, id, found := strings.Cut(msg, "("); found {
			iv.Bad[strings.SplitN(id, ")", 2)[0]] = true
		}
	}
}

// CheckDriven checks the cases a driver drove once they settled (settled is
// what Settle said): each was registered and settled, the API accepted each of
// their valid actions, and each case holds (CheckCase). ids are the registered ones.
func (iv *Invariants) CheckDriven(cases []*Case, ids []string, settled error) {
	iv.Check("every case driven was registered", len(ids) == len(cases), "%d of %d cases registered", len(ids), len(cases))
	iv.Check("every case settled", settled == nil, "%v", settled)
	for _, c := range cases {
		for _, e := range c.Unexpected {
			iv.Check("the API accepts each valid action", false, "case %d (%s): %s", c.N, c.ID, e)
		}
		if c.ID != "" {
			iv.CheckCase(c)
		}
	}
}

// HistoryOf summarises the events of a case's last run.
func (iv *Invariants) HistoryOf(id string) []string {
	it := iv.Temporal.GetWorkflowHistory(context.Background(), contract.WorkflowID(id), "", false,
		enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var out []string
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return append(out, err.Error())
		}
		line := e.EventTime.AsTime().Format("15:04:05.000 ") + strings.TrimPrefix(e.EventType.String(), "EVENT_TYPE_")
		switch {
		case e.GetWorkflowExecutionUpdateAcceptedEventAttributes() != nil:
			line += " " + e.GetWorkflowExecutionUpdateAcceptedEventAttributes().GetAcceptedRequest().GetInput().GetName()
		case e.GetMarkerRecordedEventAttributes() != nil:
			line += " " + e.GetMarkerRecordedEventAttributes().GetMarkerName()
		case e.GetActivityTaskScheduledEventAttributes() != nil:
			line += " " + e.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()
		}
		out = append(out, line)
	}
	return out
}

// people a case can wait on.
var namedWaiters = []contract.WaitingOn{contract.WaitingCaseworker, contract.WaitingApprover, contract.WaitingProcurement,
	contract.WaitingMedicalProvider, contract.WaitingReceivingOffice}

// CheckCase checks one driven case.
func (iv *Invariants) CheckCase(c *Case) {
	id := c.ID
	st, row, err := iv.agreeingStates(id)
	iv.Check("the case file agrees with its workflow", err == nil, "case %d (%s): %v", c.N, id, err)
	if err != nil {
		return
	}

	// Closed, or waiting on someone named, or in monitoring between visits.
	between := st.Stage == contract.StageMonitoring && st.WaitingOn == contract.WaitingNobody &&
		slices.ContainsFunc(st.Monitoring, func(v contract.VisitState) bool { return v.Status == contract.VisitScheduled })
	iv.Check("every case is closed or waiting on someone named",
		st.Status == contract.StatusClosed || slices.Contains(namedWaiters, st.WaitingOn) || between,
		"case %d (%s) is %s in %s waiting on %q (blocked: %q)", c.N, id, st.Status, st.Stage, st.WaitingOn, st.Blocked)
	if c.Outcome == "path done" && c.expect != "" {
		iv.Check("a path that ends in a closure closes so", st.Status == contract.StatusClosed && string(st.ClosureReason) == c.expect,
			"case %d (%s): expected closed %s, is %s %s in %s", c.N, id, c.expect, st.Status, st.ClosureReason, st.Stage)
	}

	// Every plan item paid at most once, exactly once if delivered, and the case
	// file knows every payment the partner made.
	paidInFile := map[string]int{}
	payments, err := iv.Store.Payments(context.Background(), id)
	iv.Check("the case file's payments can be read", err == nil, "%v", err)
	for _, p := range payments {
		paidInFile[p.ItemID]++
	}
	for _, p := range st.Procurement {
		partner := iv.Counts.PaymentsByItem[id+"/"+p.ItemID]
		iv.Check("every plan item is paid at most once", partner <= 1 && paidInFile[p.ItemID] <= 1,
			"case %d (%s) item %s: the partner paid %d times, the case file has %d payments", c.N, id, p.ItemID, partner, paidInFile[p.ItemID])
		if p.Delivery != nil {
			iv.Check("every delivered item is paid exactly once", partner == 1 && p.Payment != nil,
				"case %d (%s) item %s delivered: the partner paid %d times, the case says %s", c.N, id, p.ItemID, partner, p.Status)
		}
		iv.Check("the case file knows every payment", (partner == 1) == (p.Payment != nil) && (partner == 1) == (paidInFile[p.ItemID] == 1),
			"case %d (%s) item %s: the partner paid %d times; the case says %s, the case file has %d payments",
			c.N, id, p.ItemID, partner, p.Status, paidInFile[p.ItemID])
	}
	for item, n := range iv.Counts.PaymentsByItem {
		if strings.HasPrefix(item, id+"/") {
			iv.Check("nothing is paid outside the plan", slices.ContainsFunc(st.Procurement, func(p contract.ProcurementItem) bool {
				return id+"/"+p.ItemID == item
			}), "case %d (%s): the partner paid %s %d times, which the case does not procure", c.N, id, item, n)
		}
	}

	// No booking both ticketed and cancelled; a closed case holds no seat.
	b := iv.Counts.BookingsByCase[id]
	iv.Check("no booking both ticketed and cancelled", b.Ticketed+b.Cancelled <= b.Held,
		"case %d (%s): held %d, ticketed %d, cancelled %d", c.N, id, b.Held, b.Ticketed, b.Cancelled)
	if st.Status == contract.StatusClosed && (st.Travel == nil || st.Travel.DepartedAt == nil) {
		iv.Check("a case closed before departure holds no seat", b.Ticketed+b.Cancelled == b.Held,
			"case %d (%s) closed %s in %s: held %d, ticketed %d, cancelled %d (its booking: %s)", c.N, id,
			st.ClosureReason, row.Stage, b.Held, b.Ticketed, b.Cancelled, bookingStatus(st))
	}

	// Every decision in the timeline has one actor, and each accepted decision is there once.
	evs, err := iv.Store.Timeline(context.Background(), id)
	iv.Check("the timeline can be read", err == nil, "%v", err)
	decisions := 0
	for _, e := range evs {
		switch e.Type {
		case "plan_decision", "clearance", "counselling", "screening", "departed", "no_show", "delivered", "visit":
			iv.Check("every decision has one actor", e.ActorUser != "" && e.ActorRole != "" && !strings.Contains(e.ActorUser, ","),
				"case %d (%s): %s event by %q (%q)", c.N, id, e.Type, e.ActorUser, e.ActorRole)
		}
		if e.Type == "plan_decision" {
			decisions++
		}
	}
	iv.Check("each accepted plan decision is in the timeline once", decisions == c.decided,
		"case %d (%s): %d decisions accepted, %d in the timeline", c.N, id, c.decided, decisions)
}

func bookingStatus(st contract.CaseState) contract.BookingStatus {
	if st.Travel == nil {
		return "none"
	}
	return st.Travel.BookingStatus
}

// agreeingStates reads the workflow's state (its query while it runs, its result
// once closed) and the case's row, and says how they differ. A timer may fire
// between the two reads, so they are read again a few times before it counts.
func (iv *Invariants) agreeingStates(id string) (contract.CaseState, *store.Case, error) {
	var err error
	for range 5 {
		var st contract.CaseState
		var row *store.Case
		if st, err = iv.workflowState(id); err != nil {
			continue
		}
		if row, err = iv.Store.CaseByID(context.Background(), id); err != nil {
			continue
		}
		var fromRow contract.CaseState
		if err = json.Unmarshal([]byte(row.State), &fromRow); err != nil {
			continue
		}
		want, _ := json.Marshal(st)
		got, _ := json.Marshal(fromRow)
		switch {
		case string(st.Stage) != row.Stage || string(st.Status) != row.Status || string(st.ClosureReason) != row.ClosureReason ||
			string(st.WaitingOn) != row.WaitingOn || st.Seq != row.StateSeq:
			err = fmt.Errorf("the workflow says %s/%s/%s waiting on %q at seq %d; the row %s/%s/%s waiting on %q at seq %d",
				st.Stage, st.Status, st.ClosureReason, st.WaitingOn, st.Seq, row.Stage, row.Status, row.ClosureReason, row.WaitingOn, row.StateSeq)
		case string(want) != string(got):
			err = fmt.Errorf("the states differ at seq %d (%s):\n workflow  %s\n case file %s", st.Seq, iv.lostTasks(id), want, got)
		default:
			return st, row, nil
		}
		<-time.After(300 * time.Millisecond)
	}
	return contract.CaseState{}, nil, err
}

// lostTasks tells, for a disagreement, how many workflow tasks of the case's run
// were lost (timed out or failed): a task's local activities may have written the
// case file before it was lost.
func (iv *Invariants) lostTasks(id string) string {
	it := iv.Temporal.GetWorkflowHistory(context.Background(), contract.WorkflowID(id), "", false,
		enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var lost []string
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return err.Error()
		}
		switch e.EventType {
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT, enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED:
			lost = append(lost, fmt.Sprintf("%s at %s", strings.TrimPrefix(e.EventType.String(), "WorkflowTask"),
				e.EventTime.AsTime().Format("15:04:05.000")))
		}
	}
	return fmt.Sprintf("lost workflow tasks of its last run: %v", lost)
}

func (iv *Invariants) workflowState(id string) (contract.CaseState, error) {
	var st contract.CaseState
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := iv.Temporal.QueryWorkflow(ctx, contract.WorkflowID(id), "", contract.QueryState)
	if err != nil {
		// A closed workflow's state is its result.
		if err := iv.Temporal.GetWorkflow(ctx, contract.WorkflowID(id), "").Get(ctx, &st); err != nil {
			return st, fmt.Errorf("neither query nor result: %w", err)
		}
		return st, nil
	}
	return st, v.Get(&st)
}

// NoOrphans checks that the case file and Temporal know the same cases.
func (iv *Invariants) NoOrphans(ids []string) {
	listed, err := iv.workflowIDsOnQueue()
	iv.Check("the workflows can be listed", err == nil, "%v", err)
	for _, wid := range listed {
		_, err := iv.Store.CaseByID(context.Background(), strings.TrimPrefix(wid, "case-"))
		iv.Check("every workflow has its case", err == nil, "workflow %s: %v", wid, err)
	}
	iv.Check("every case has its workflow", len(listed) == len(ids), "%d workflows for %d cases", len(listed), len(ids))
}

func (iv *Invariants) workflowIDsOnQueue() ([]string, error) {
	var ids []string
	seen := map[string]bool{}
	var token []byte
	for {
		res, err := iv.Temporal.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
			Query: fmt.Sprintf("TaskQueue = %q", iv.TaskQueue), NextPageToken: token})
		if err != nil {
			return ids, err
		}
		for _, e := range res.Executions {
			if id := e.Execution.WorkflowId; !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
		if token = res.NextPageToken; len(token) == 0 {
			return ids, nil
		}
	}
}
