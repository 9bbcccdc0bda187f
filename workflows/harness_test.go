package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/homeward/homeward/activities"
	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/money"
	"github.com/homeward/homeward/partners"
	"github.com/homeward/homeward/workflows"
)

var (
	start     = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	cwDE      = contract.Actor{User: "caseworker-de", Role: contract.RoleCaseworker, Office: "DE-BER"}
	cwGN      = contract.Actor{User: "caseworker-gn", Role: contract.RoleCaseworker, Office: "GN-CKY"}
	apDE      = contract.Actor{User: "approver-de", Role: contract.RoleApprover, Office: "DE-BER"}
	apGN      = contract.Actor{User: "approver-gn", Role: contract.RoleApprover, Office: "GN-CKY"}
	apGN2     = contract.Actor{User: "approver-gn-2", Role: contract.RoleApprover, Office: "GN-CKY"}
	proc      = contract.Actor{User: "procurement-gn", Role: contract.RoleProcurement, Office: "GN-CKY"}
	clinic    = contract.Actor{User: "medical-provider", Role: contract.RoleService, Office: "*", Partner: contract.PartnerMedical}
	reception = contract.Actor{User: "receiving-office", Role: contract.RoleService, Office: "*", Partner: contract.PartnerReceiving}
)

const day = 24 * time.Hour

func testRules() contract.Rules {
	return contract.Rules{
		SLA: contract.SLA{Counselling: 14 * day, Screening: 7 * day, Clearance: 3 * day, MedicalClearance: 14 * day,
			Travel: 21 * day, Arrival: 2 * day, ReintegrationPlanning: 30 * day, PlanApproval: 7 * day,
			Procurement: 60 * day, MonitoringVisit: 30 * day},
		MaxRebookings: 2, SystemStuckAfterAttempts: 3,
		MonitoringOffsets: []time.Duration{90 * day, 180 * day, 365 * day},
		Programme: contract.Programme{Name: "REAG-GARP", Currency: "EUR", PerAdult: money.MustParse("1000"),
			PerMinor: money.MustParse("500"), FamilyCap: money.MustParse("4000"), SecondApprovalAbove: money.MustParse("2000"),
			QuotesThreshold: money.MustParse("2500"), QuotesAbove: 3, QuotesBelow: 1, ServiceCharge: money.MustParse("150")},
	}
}

// fakePartners plays every activity: it counts calls and effects per idempotency key
// like a partner that honours keys, and keeps the case file records.
type fakePartners struct {
	mu      sync.Mutex
	calls   map[string]int // activity name -> calls
	effects map[string]int // idempotency key -> calls
	fail    map[string][]error
	writes  []contract.Changes // case-file writes, in order
	// writeFails, when set, refuses a case-file write (the database down).
	writeFails func(contract.Changes) bool
	// down, when set, says whether a partner's activity fails now (503).
	down   func(name string) bool
	notes  []partners.Message
	quotes func(partners.QuoteRequest) []contract.Quote
	// departIn is how long after the hold request the held flight leaves.
	departIn time.Duration
	// canceller is the identity on the cancel request in the workflow's history.
	canceller string
	// fees are the fees the partners' answers carry, by activity (none: no fee).
	fees map[string]money.Money
	// refund is the travel agency's answer to a refund.
	refund partners.Refund
	// withdrawnNotices are the notices the receiving office was told no longer stand.
	withdrawnNotices []partners.NoticeWithdrawal
}

// fee is the fee the answer of that activity carries, if any.
func (p *fakePartners) fee(name string) *money.Money {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, ok := p.fees[name]
	if !ok {
		return nil
	}
	return &f
}

func (p *fakePartners) hit(name, key string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls[name]++
	if p.down != nil && p.down(name) {
		return temporal.NewApplicationError(name+": 503", activities.ErrPartnerUnavailable)
	}
	if errs := p.fail[name]; len(errs) > 0 {
		p.fail[name] = errs[1:]
		return errs[0]
	}
	p.effects[key]++
	return nil
}

func (p *fakePartners) count(name string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[name]
}

func (p *fakePartners) keysWithPrefix(prefix string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ks []string
	for k, n := range p.effects {
		if strings.Contains(k, prefix) {
			ks = append(ks, fmt.Sprintf("%s=%d", k[strings.Index(k, "/")+1:], n))
		}
	}
	sort.Strings(ks)
	return ks
}

func (p *fakePartners) eventTypes() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ts []string
	for _, w := range p.writes {
		for _, e := range w.Events {
			ts = append(ts, e.Type)
		}
	}
	return ts
}

// registryStages is what the case file's writes queued for the registry, in order:
// each change under the sequence number of the event it follows, growing.
func (p *fakePartners) registryStages(t *testing.T) []contract.Stage {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []contract.Stage
	last := int64(0)
	for _, w := range p.writes {
		for _, r := range w.Registry {
			require.Greater(t, r.Seq, last, "the registry's changes in the case's order")
			require.LessOrEqual(t, r.Seq, w.State.Seq, "a change goes with the write of its event")
			last = r.Seq
			out = append(out, r.Record.Stage)
		}
	}
	return out
}

// requireWrittenOncePerTask checks the case file's writes (version 2): every event
// once, in order, with the state after the last event of its write; an action and
// the stage that follows from it in one write, so fewer writes than events
// (a complete case: 37 events in 29 writes).
func (p *fakePartners) requireWrittenOncePerTask(t *testing.T, final contract.CaseState) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	n := int64(0)
	for _, w := range p.writes {
		require.NotEmpty(t, w.Events, "a write with nothing in it")
		for _, e := range w.Events {
			n++
			require.True(t, strings.HasSuffix(e.Key, "/"+strconv.FormatInt(n, 10)), "event %d is %s", n, e.Key)
		}
		require.Equal(t, n, w.State.Seq, "a write carries the state after its last event")
	}
	require.Equal(t, final.Seq, n, "every event written")
	require.Equal(t, final.Status, p.writes[len(p.writes)-1].State.Status, "the last write has the final state")
	require.Less(t, len(p.writes), int(n), "events of one workflow task share a write")
	for _, w := range p.writes {
		if w.Events[0].Type == "plan_decision" {
			require.Len(t, w.Events, 2, "the decision and the stage it leads to, in one write")
			require.Equal(t, "stage", w.Events[1].Type)
		}
	}
}

func (p *fakePartners) notified(kind string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var to []string
	for _, n := range p.notes {
		if n.Kind == kind {
			to = append(to, n.To)
		}
	}
	return to
}

// caseTest runs one case's workflow with time skipping and a script of what
// people and partners do, at offsets from the case's start.
type caseTest struct {
	t        *testing.T
	in       contract.CaseInput
	p        *fakePartners
	script   []scripted
	refusals map[string]error // label -> refusal
	accepted map[string]bool
	env      *testsuite.TestWorkflowEnvironment
	elapsed  time.Duration
	runs     int
	// timers is what each run's timers came to: started, fired, cancelled.
	timers []timerCount
	// writes is when each case-file write (a local activity's attempt) started.
	writes []time.Time
}

type timerCount struct{ started, fired, cancelled int }

// open is the timers a run left pending when it ended.
func (t timerCount) open() int { return t.started - t.fired - t.cancelled }

type scripted struct {
	at time.Duration
	do func(c *caseTest)
}

func newCase(t *testing.T, mods ...func(*contract.CaseInput)) *caseTest {
	in := contract.CaseInput{CaseID: "0b9e7d7e-6a35-4c56-9f0a-3c1f1d2e4a5b", Reference: "HW-2026-000001",
		HostCountry: "DE", CountryOfReturn: "GN", SendingOffice: "DE-BER", ReceivingOffice: "GN-CKY",
		Adults: 2, Minors: 1, RegisteredBy: cwDE, RegisteredAt: start, Rules: testRules()}
	for _, m := range mods {
		m(&in)
	}
	p := &fakePartners{calls: map[string]int{}, effects: map[string]int{}, fail: map[string][]error{}, departIn: 3 * day,
		quotes: func(q partners.QuoteRequest) []contract.Quote {
			var qs []contract.Quote
			budget := money.MustParse(q.Budget.Amount)
			for i := range q.QuotesWanted {
				qs = append(qs, contract.Quote{Supplier: fmt.Sprintf("supplier-%d", i+1),
					Price: money.Of(budget-money.Cents(100*(i+1)), "EUR"), Compliant: true})
			}
			return qs
		}}
	return &caseTest{t: t, in: in, p: p, refusals: map[string]error{}, accepted: map[string]bool{}}
}

func (c *caseTest) at(d time.Duration, do func(c *caseTest)) *caseTest {
	c.script = append(c.script, scripted{d, do})
	return c
}

// act sends an update; label names it for the assertions.
func (c *caseTest) act(label, update string, a any) {
	c.env.UpdateWorkflow(update, label, &testsuite.TestUpdateCallback{
		OnAccept: func() { c.accepted[label] = true },
		OnReject: func(err error) { c.refusals[label] = err },
		OnComplete: func(_ any, err error) {
			if err != nil {
				c.refusals[label] = err
			}
		},
	}, a)
}

func (c *caseTest) signal(name string, a any) { c.env.SignalWorkflow(name, a) }

func (c *caseTest) now() time.Time { return c.env.Now().UTC() }

func (c *caseTest) state() contract.CaseState {
	v, err := c.env.QueryWorkflow(contract.QueryState)
	require.NoError(c.t, err)
	var st contract.CaseState
	require.NoError(c.t, v.Get(&st))
	return st
}

func (c *caseTest) newEnv() *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	s.SetLogger(tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(start.Add(c.elapsed))
	env.RegisterWorkflowWithOptions(workflows.ReturnCase, workflow.RegisterOptions{Name: contract.WorkflowType})
	c.timers = append(c.timers, timerCount{})
	timers := &c.timers[len(c.timers)-1]
	env.SetOnTimerScheduledListener(func(string, time.Duration) { timers.started++ })
	env.SetOnTimerFiredListener(func(string) { timers.fired++ })
	env.SetOnTimerCanceledListener(func(string) { timers.cancelled++ })
	env.SetOnLocalActivityStartedListener(func(*activity.Info, context.Context, []any) { c.writes = append(c.writes, env.Now()) })
	var a *activities.Activities
	env.RegisterActivity(a)
	p := c.p
	env.OnActivity(a.RecordChanges, mock.Anything, mock.Anything).Return(func(_ context.Context, ch contract.Changes) error {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.writeFails != nil && p.writeFails(ch) {
			return errors.New("database unavailable")
		}
		p.writes = append(p.writes, ch)
		return nil
	})
	env.OnActivity(a.UpsertRegistry, mock.Anything, mock.Anything, mock.Anything).Return(func(_ context.Context, key string, _ contract.CaseRecord) error {
		return p.hit("UpsertRegistry", key)
	})
	env.OnActivity(a.ConfirmEligibility, mock.Anything, mock.Anything, mock.Anything).Return(func(_ context.Context, key string, _ partners.EligibilityRequest) (partners.Eligibility, error) {
		return partners.Eligibility{Eligible: true, AssistanceLevel: "standard"}, p.hit("ConfirmEligibility", key)
	})
	env.OnActivity(a.RequestMedicalAssessment, mock.Anything, mock.Anything, mock.Anything).Return(func(_ context.Context, key string, in partners.AssessmentRequest) (partners.AssessmentAccepted, error) {
		return partners.AssessmentAccepted{AssessmentID: fmt.Sprintf("AS-%d", in.RequestNo), Fee: p.fee("RequestMedicalAssessment")},
			p.hit("RequestMedicalAssessment", key)
	})
	env.OnActivity(a.OpenPostArrivalMedical, mock.Anything, mock.Anything, mock.Anything).Return(func(_ context.Context, key string, _ partners.PostArrivalAssistanceRequest) error {
		return p.hit("OpenPostArrivalMedical", key)
	})
	env.OnActivity(a.HoldFlight, mock.Anything, mock.Anything, mock.Anything).Return(func(_ context.Context, key string, in partners.BookingRequest) (partners.Booking, error) {
		return partners.Booking{BookingRef: fmt.Sprintf("BK-%d", in.Attempt), Status: contract.BookingHeld, Flight: fmt.Sprintf("HW%d", 100+in.Attempt),
			DepartureAt: in.NotBefore.Add(p.departIn)}, p.hit("HoldFlight", key)
	})
	env.OnActivity(a.TicketFlight, mock.Anything, mock.Anything, mock.Anything).Return(func(_ context.Context, key, ref string) (partners.Booking, error) {
		return partners.Booking{BookingRef: ref, Status: contract.BookingTicketed, Fee: p.fee("TicketFlight")}, p.hit("TicketFlight", key)
	})
	env.OnActivity(a.RefundFlight, mock.Anything, mock.Anything, mock.Anything).Return(func(_ context.Context, key, ref string) (partners.Refund, error) {
		p.mu.Lock()
		r := p.refund
		p.mu.Unlock()
		r.BookingRef, r.Status = ref, "refunded"
		return r, p.hit("RefundFlight", key)
	})
	env.OnActivity(a.WithdrawPreArrivalNotice, mock.Anything, mock.Anything, mock.Anything, mock.Anything).Return(func(_ context.Context, key, id string, in partners.NoticeWithdrawal) (partners.NoticeWithdrawn, error) {
		if err := p.hit("WithdrawPreArrivalNotice", key); err != nil {
			return partners.NoticeWithdrawn{}, err
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		p.withdrawnNotices = append(p.withdrawnNotices, in)
		return partners.NoticeWithdrawn{NoticeID: id, Status: "withdrawn"}, nil
	})
	env.OnActivity(a.CancelFlight, mock.Anything, mock.Anything, mock.Anything).Return(func(_ context.Context, key, _ string) error {
		return p.hit("CancelFlight", key)
	})
	env.OnActivity(a.BookEscort, mock.Anything, mock.Anything, mock.Anything).Return(func(_ context.Context, key string, in partners.EscortRequest) (partners.Escort, error) {
		return partners.Escort{EscortRef: "ESC-" + in.BookingRef, Status: contract.EscortBooked, Fee: p.fee("BookEscort")}, p.hit("BookEscort", key)
	})
	env.OnActivity(a.CancelEscort, mock.Anything, mock.Anything, mock.Anything).Return(func(_ context.Context, key, ref string) (partners.Escort, error) {
		return partners.Escort{EscortRef: ref, Status: contract.EscortCancelled}, p.hit("CancelEscort", key)
	})
	env.OnActivity(a.SendPreArrivalNotice, mock.Anything, mock.Anything, mock.Anything).Return(func(_ context.Context, key string, n partners.PreArrivalNotice) (partners.NoticeAccepted, error) {
		return partners.NoticeAccepted{NoticeID: "PAN-" + n.BookingRef}, p.hit("SendPreArrivalNotice", key)
	})
	env.OnActivity(a.RequestQuotes, mock.Anything, mock.Anything, mock.Anything).Return(func(_ context.Context, key string, in partners.QuoteRequest) (partners.Quotes, error) {
		return partners.Quotes{Quotes: p.quotes(in)}, p.hit("RequestQuotes", key)
	})
	env.OnActivity(a.IssuePurchaseOrder, mock.Anything, mock.Anything, mock.Anything).Return(func(_ context.Context, key string, in partners.PurchaseOrderRequest) (partners.PurchaseOrder, error) {
		return partners.PurchaseOrder{PurchaseOrder: "PO-" + in.ItemID}, p.hit("IssuePurchaseOrder", key)
	})
	env.OnActivity(a.Pay, mock.Anything, mock.Anything, mock.Anything).Return(func(_ context.Context, key string, in partners.PaymentRequest) (partners.Payment, error) {
		return partners.Payment{PaymentID: "PAY-" + in.ItemID, PaidAt: start}, p.hit("Pay", key)
	})
	env.OnActivity(a.Refer, mock.Anything, mock.Anything, mock.Anything).Return(func(_ context.Context, key string, _ partners.ReferralRequest) (partners.Referral, error) {
		return partners.Referral{ReferralID: "REF-1"}, p.hit("Refer", key)
	})
	env.OnActivity(a.CancelRequester, mock.Anything).Return(func(context.Context) (string, error) {
		return p.canceller, p.hit("CancelRequester", "cancel-requester")
	})
	env.OnActivity(a.Notify, mock.Anything, mock.Anything, mock.Anything).Return(func(_ context.Context, key string, m partners.Message) error {
		if err := p.hit("Notify", key); err != nil {
			return err
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		p.notes = append(p.notes, m)
		return nil
	})
	return env
}

// run executes the case to its end (following continue-as-new into the next run)
// and returns its final state.
func (c *caseTest) run() contract.CaseState {
	c.t.Helper()
	in := c.in
	for {
		c.runs++
		c.env = c.newEnv()
		for _, s := range c.script {
			if s.at > c.elapsed {
				c.env.RegisterDelayedCallback(func() { s.do(c) }, s.at-c.elapsed)
			}
		}
		c.env.ExecuteWorkflow(contract.WorkflowType, in)
		require.True(c.t, c.env.IsWorkflowCompleted())
		err := c.env.GetWorkflowError()
		var can *workflow.ContinueAsNewError
		if errors.As(err, &can) {
			require.NoError(c.t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &in))
			c.elapsed = c.env.Now().Sub(start)
			continue
		}
		if err != nil && temporal.IsCanceledError(err) {
			return c.state()
		}
		require.NoError(c.t, err, "run %d ended at %s in stage %s, events %v", c.runs, c.env.Now().Sub(start), c.state().Stage, c.p.eventTypes())
		var st contract.CaseState
		require.NoError(c.t, c.env.GetWorkflowResult(&st))
		return st
	}
}

// The script's steps, written the way people act.

func counselling(outcome string) func(*caseTest) {
	return func(c *caseTest) {
		c.act("counselling", contract.UpdateCounselling, contract.Action[contract.Counselling]{Actor: cwDE,
			Body: contract.Counselling{Outcome: outcome, HeldAt: c.now()}})
	}
}

func screening(risk string, flags ...string) func(*caseTest) {
	return func(c *caseTest) {
		c.act("screening", contract.UpdateScreening, contract.Action[contract.Screening]{Actor: cwDE,
			Body: contract.Screening{Risk: risk, Flags: flags}})
	}
}

// medical is the provider's result for the assessment request the case has open,
// posted as the API posts it.
func medical(result string, validFor time.Duration, reassessDays int) func(*caseTest) {
	return func(c *caseTest) {
		c.reportMedical("medical@"+c.now().Format(time.RFC3339), clinic, 0, result, validFor, reassessDays)
	}
}

// reportMedical posts a medical result for request n (0: the one the case has open).
func (c *caseTest) reportMedical(label string, by contract.Actor, n int, result string, validFor time.Duration, reassessDays int) {
	if n == 0 {
		if m := c.state().Medical; m != nil {
			n = m.Requests
		}
	}
	m := contract.MedicalResult{RequestNo: n, Result: result, AssessedAt: c.now(), ReassessAfterDays: reassessDays}
	if validFor > 0 {
		v := c.now().Add(validFor)
		m.ValidUntil = &v
	}
	c.act(label, contract.UpdateMedicalResult, contract.Action[contract.MedicalResult]{Actor: by, Body: m})
}

func departed(c *caseTest) {
	now := c.now()
	c.act(fmt.Sprintf("departure@%s", now.Format(time.RFC3339)), contract.UpdateDeparture,
		contract.Action[contract.Departure]{Actor: cwDE, Body: contract.Departure{DepartedAt: &now, Flight: "HW101"}})
}

func noShow(c *caseTest) {
	c.act(fmt.Sprintf("no-show@%s", c.now().Format(time.RFC3339)), contract.UpdateDeparture,
		contract.Action[contract.Departure]{Actor: cwDE, Body: contract.Departure{NoShow: true}})
}

// arrived is the receiving office's confirmation for the case's booking.
func arrived(c *caseTest) {
	ref := ""
	if t := c.state().Travel; t != nil {
		ref = t.BookingRef
	}
	c.reportArrival("arrival@"+c.now().Format(time.RFC3339), reception, ref)
}

func (c *caseTest) reportArrival(label string, by contract.Actor, bookingRef string) {
	c.act(label, contract.UpdateArrival, contract.Action[contract.Arrival]{Actor: by,
		Body: contract.Arrival{BookingRef: bookingRef, ArrivedAt: c.now(), ReceivedBy: "GN-CKY reception"}})
}

func item(kind, amount string) contract.PlanItemInput {
	return contract.PlanItemInput{Dimension: "economic", Kind: kind, Description: kind + " support",
		Cost: money.Money{Amount: amount, Currency: "EUR"}}
}

func plan(label string, by contract.Actor, items ...contract.PlanItemInput) func(*caseTest) {
	return func(c *caseTest) {
		c.act(label, contract.UpdatePlan, contract.Action[contract.Plan]{Actor: by, Body: contract.Plan{Items: items}})
	}
}

func decide(label string, by contract.Actor, decision contract.Decision) func(*caseTest) {
	return func(c *caseTest) {
		c.act(label, contract.UpdatePlanDecision, contract.Action[contract.PlanDecision]{Actor: by,
			Body: contract.PlanDecision{Decision: decision, Comment: "reviewed"}})
	}
}

func deliver(label, itemID string) func(*caseTest) {
	return func(c *caseTest) {
		c.act(label, contract.UpdateDelivery, contract.Action[contract.Delivery]{Actor: proc,
			Body: contract.Delivery{ItemID: itemID, DeliveredAt: c.now(), HandoverCertificate: "HC-" + itemID}})
	}
}

func visit(n int, referrals ...string) func(*caseTest) {
	return func(c *caseTest) {
		c.act(fmt.Sprintf("visit-%d", n), contract.UpdateVisit, contract.Action[contract.Visit]{Actor: cwGN,
			Body: contract.Visit{Visit: n, VisitedAt: c.now(), Scores: contract.Scores{Economic: 0.6, Social: 0.9, Psychosocial: 0.9},
				Referrals: referrals}})
	}
}

func withdraw(reason string) func(*caseTest) {
	return func(c *caseTest) {
		c.act("withdrawal", contract.UpdateWithdrawal, contract.Action[contract.Withdrawal]{Actor: cwDE,
			Body: contract.Withdrawal{Reason: reason}})
	}
}

// toArrival scripts a low-risk case up to its arrival at 5h.
func (c *caseTest) toArrival() *caseTest {
	return c.at(time.Hour, counselling("confirmed")).
		at(2*time.Hour, screening("low")).
		at(3*time.Hour, medical("fit", 30*day, 0)).
		at(4*time.Hour, departed).
		at(5*time.Hour, arrived)
}

// refusal returns the kind of refusal of an action, or "" if it was accepted.
func (c *caseTest) refusal(label string) string {
	err, ok := c.refusals[label]
	if !ok {
		require.True(c.t, c.accepted[label], "action %q was never sent", label)
		return ""
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Type()
	}
	return err.Error()
}
