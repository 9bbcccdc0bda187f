// Package workflows holds the return case workflow: one long-running workflow per
// case that follows the process in DOMAIN.md stage by stage. process.go reads top to
// bottom like the process; actions.go says which person may do what when; the
// Temporal mechanics (SLA timers, search attributes, partner calls) are in steps.go.
package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/homeward/homeward/activities"
	"github.com/homeward/homeward/contract"
)

// acts is only used for its method values: the workflow names activities by method.
var acts *activities.Activities

// caseRun is one run of a case's workflow: its input, its rules and its live state.
type caseRun struct {
	in     contract.CaseInput
	rules  contract.Rules
	st     contract.CaseState
	logger log.Logger

	// Partner facts that arrived and are not yet used, with who sent them, and what
	// has been seen, so that a fact sent twice counts once.
	pendingMedical []contract.Action[contract.MedicalResult]
	pendingArrival []contract.Action[contract.Arrival]
	seen           []string
	// medicalAnswered is the assessment request whose result the process took last.
	medicalAnswered int
	// awaitingApprover counts the items that wait for an approver: a price
	// (version 4 on), a payment to validate (version 6 on).
	awaitingApprover int
	// root is the workflow's context: validators read the workflow's clock with it
	// (a medical result's dates; a monitoring visit opens at its due date).
	root workflow.Context

	// Set by update handlers, read by the process.
	departure  *contract.Departure
	withdrawal *contract.Action[contract.Withdrawal]

	// cancelProcess stops the process when the case is withdrawn.
	cancelProcess workflow.CancelFunc
	// next says, for the UI, what a person should do next.
	next string
	// notifying counts notifications under way.
	notifying int
	// version is the behaviour this case started with (see versions.go).
	version workflow.Version

	// Events recorded and not yet handed to the case file's writer, and the Seq of
	// the last change the case file has (version 2 on; see startWriter).
	unwritten []contract.Event
	written   int64
	// quiet are events that wait for the next write instead of waking the writer
	// (a fee, version 7 on: see charged).
	quiet []contract.Event
	// applying counts the actions whose handlers are applying them.
	applying int
	// request is the request whose action was accepted and has recorded nothing
	// yet: its first line carries it (contract.Event.RequestID).
	request string

	// From version 5: the registry's changes waiting for the writer (they go into
	// the case file's outbox with the events), the search attributes as last
	// upserted and whether they may have changed since.
	registry      []contract.RegistryChange
	searched      searched
	searchPending bool
}

// ReturnCase is the workflow of one return case, from registration to closure.
func ReturnCase(ctx workflow.Context, in contract.CaseInput) (contract.CaseState, error) {
	w := &caseRun{in: in, rules: in.Rules, root: ctx}
	w.logger = log.With(workflow.GetLogger(ctx), "case_id", in.CaseID)
	if in.Resumed != nil {
		w.st = in.Resumed.State
		w.pendingMedical = carried(in.Resumed.PendingMedical)
		w.pendingArrival = carried(in.Resumed.PendingArrival)
		w.seen = in.Resumed.SeenRequests
	} else {
		w.st = contract.CaseState{Stage: contract.StageIntake, Status: contract.StatusActive,
			WaitingOn: contract.WaitingCaseworker, StageEnteredAt: workflow.Now(ctx)}
	}
	// The process's context exists before the handlers are registered: an action
	// sent with the case's first workflow task (a withdrawal right after the
	// registration) may run before the process starts, and cancel it.
	processCtx, cancel := workflow.WithCancel(ctx)
	w.cancelProcess = cancel
	if err := w.setup(ctx); err != nil {
		return w.st, err
	}

	err := w.process(processCtx)

	var closing closure
	switch {
	case workflow.IsContinueAsNewError(err):
		// The follow-up year goes on in the next run.
	case errors.As(err, &closing):
		if w.withdrawal != nil && w.finishesInFlightCalls() {
			// Withdrawn while the case was closing for another reason (a no-show, say):
			// what is still booked is released all the same.
			w.undoBookings(ctx)
		}
		err = w.close(ctx, closing.reason, closing.by, closing.why)
	case w.withdrawal != nil:
		// The process was cancelled by a withdrawal: undo what was booked, then close.
		w.undoBookings(ctx)
		wd := w.withdrawal
		why := "Case closed: " + wd.Body.Reason
		if wd.Body.Comment == contract.ConsentClosure && w.st.ConsentWithdrawnAt != nil {
			why = "Case closed: withdrawn, " + contract.ConsentClosure // the reason, recorded in the summary
		}
		err = w.closeWithText(ctx, contract.ClosureReason(wd.Body.Reason), wd.Actor, why, wd.Body.Comment)
	case temporal.IsCanceledError(err):
		// The workflow itself was cancelled, in Temporal (its UI or CLI): Homeward
		// never does that, so someone with access to Temporal did. Compensate as for
		// a withdrawal; from version 4 the record says who, and that it was no withdrawal.
		dctx := disconnected(ctx)
		w.undoBookings(dctx)
		if w.tiesFacts() {
			by := w.cancelledBy(dctx)
			_ = w.close(dctx, contract.ClosedByOperator, by,
				"Case cancelled in Temporal, outside Homeward, by a client calling itself "+strings.TrimPrefix(by.User, "temporal-client:")+" (not verified by Temporal): not a withdrawal")
		} else {
			_ = w.close(dctx, contract.ClosedWithdrawn, systemActor, "Case cancelled by an operator")
		}
	}
	// Whatever ends the run, the case file has all it recorded first.
	w.flushed(ctx)
	if w.writesOncePerTask() && w.st.Status == contract.StatusClosed {
		// And the actions that closed it (a withdrawal) have their answers.
		_ = workflow.Await(disconnected(ctx), func() bool { return workflow.AllHandlersFinished(ctx) })
	}
	return w.st, err
}

func (w *caseRun) setup(ctx workflow.Context) error {
	w.version = workflow.GetVersion(ctx, changeCaseBehaviour, workflow.DefaultVersion, latestVersion)
	if w.recordsFees() {
		w.st.FeesAsCharged = true
	}
	if w.fewerActions() {
		w.root = ctx
		w.searched = searchedNow(ctx)
	}
	if w.writesOncePerTask() {
		w.written = w.st.Seq // a resumed run's state was written by the run before
		w.startWriter(ctx)
	}
	if err := workflow.SetQueryHandler(ctx, contract.QueryState, func() (contract.CaseState, error) {
		return w.published(), nil
	}); err != nil {
		return err
	}
	w.receiveFacts(ctx)
	return w.registerActions(ctx)
}

// generation counts the runs before this one (continue-as-new): the case file
// orders writes by it first, as a new run's history starts short again.
func (w *caseRun) generation() int {
	if w.in.Resumed == nil {
		return 0
	}
	return max(w.in.Resumed.Generation, 1) // a run continued before generations were counted
}

// closure ends the process early with a closure reason.
type closure struct {
	reason contract.ClosureReason
	by     contract.Actor
	why    string
}

func (c closure) Error() string { return "case closes: " + string(c.reason) }

var systemActor = contract.Actor{User: "homeward", Role: "system"}

// cancelledBy is who asked Temporal to cancel the case's workflow, as the
// cancel request in its history names them: the SDK does not tell workflow code,
// so an activity reads it. Unknown if the history cannot be read.
func (w *caseRun) cancelledBy(ctx workflow.Context) contract.Actor {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second,
		Summary: "Read who cancelled the case in Temporal", RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 5}})
	var identity string
	if err := workflow.ExecuteActivity(ctx, acts.CancelRequester).Get(ctx, &identity); err != nil || identity == "" {
		return contract.Actor{User: "unknown", Role: contract.RoleOperator}
	}
	// The identity is what the cancelling client said it was: Temporal's frontend
	// does not verify it without mTLS and an authorizer. Marked so, it can never
	// pass for one of Homeward's own accounts (a client calling itself caseworker-de).
	return contract.Actor{User: "temporal-client:" + identity, Role: contract.RoleOperator}
}

// receiveFacts buffers the partners' signals: a fact may arrive before the case
// waits for it, or twice; it is kept until used and counted once.
func (w *caseRun) receiveFacts(ctx workflow.Context) {
	medical := workflow.GetSignalChannel(ctx, contract.SignalMedicalResult)
	arrival := workflow.GetSignalChannel(ctx, contract.SignalArrival)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			sel := workflow.NewSelector(ctx)
			sel.AddReceive(medical, func(c workflow.ReceiveChannel, _ bool) {
				var a contract.Action[contract.MedicalResult]
				c.Receive(ctx, &a)
				w.signalledMedical(a)
			})
			sel.AddReceive(arrival, func(c workflow.ReceiveChannel, _ bool) {
				var a contract.Action[contract.Arrival]
				c.Receive(ctx, &a)
				w.signalledArrival(a)
			})
			sel.Select(ctx)
		}
	})
}

// drainFacts takes the signals still buffered in the channels, before continue-as-new.
func (w *caseRun) drainFacts(ctx workflow.Context) {
	for {
		var m contract.Action[contract.MedicalResult]
		if !workflow.GetSignalChannel(ctx, contract.SignalMedicalResult).ReceiveAsync(&m) {
			break
		}
		w.signalledMedical(m)
	}
	for {
		var a contract.Action[contract.Arrival]
		if !workflow.GetSignalChannel(ctx, contract.SignalArrival).ReceiveAsync(&a) {
			break
		}
		w.signalledArrival(a)
	}
}

// signalledMedical takes a medical result sent as a signal (before version 4 the
// only way; from version 4 only an API from before sends one): from version 4 the
// update's validator decides, and a result it refuses is dropped.
func (w *caseRun) signalledMedical(a contract.Action[contract.MedicalResult]) {
	if w.tiesFacts() {
		if err := w.canReportMedical(a); err != nil {
			w.logger.Warn("medical result signal refused", "error", err)
			return
		}
	}
	w.takeMedical(a)
}

// signalledArrival takes an arrival sent as a signal, as signalledMedical does.
func (w *caseRun) signalledArrival(a contract.Action[contract.Arrival]) {
	if w.tiesFacts() {
		if err := w.canReportArrival(a); err != nil {
			w.logger.Warn("arrival signal refused", "error", err)
			return
		}
	}
	w.takeArrival(a)
}

func (w *caseRun) takeMedical(a contract.Action[contract.MedicalResult]) {
	key := "medical/" + a.Body.Result + "/" + a.Body.AssessedAt.UTC().Format("2006-01-02T15:04:05Z07:00")
	if a.Body.RequestNo > 0 {
		key = fmt.Sprintf("medical/%d/%s", a.Body.RequestNo, key[len("medical/"):])
	}
	if w.sawBefore(key) {
		return
	}
	w.pendingMedical = append(w.pendingMedical, a)
}

func (w *caseRun) takeArrival(a contract.Action[contract.Arrival]) {
	if w.sawBefore("arrival") {
		return
	}
	w.pendingArrival = append(w.pendingArrival, a)
}

// The facts' updates: the validator ties the fact to the case, the handler keeps
// it until the process uses it.

func (w *caseRun) medicalReported(_ workflow.Context, a contract.Action[contract.MedicalResult]) {
	w.takeMedical(a)
}

func (w *caseRun) arrivalReported(_ workflow.Context, a contract.Action[contract.Arrival]) {
	w.takeArrival(a)
}

// carried are the facts a run before this one kept (continue-as-new carries the
// facts, not their senders).
func carried[T any](bodies []T) []contract.Action[T] {
	var out []contract.Action[T]
	for _, b := range bodies {
		out = append(out, contract.Action[T]{Body: b})
	}
	return out
}

func bodies[T any](as []contract.Action[T]) []T {
	var out []T
	for _, a := range as {
		out = append(out, a.Body)
	}
	return out
}

// reporter is who sent a fact, as the timeline credits it: the sender the API
// authenticated (a caseworker entering a result by hand is that caseworker), or
// the partner for a fact carried from a run before, whose sender is not known.
func reporter(a contract.Actor, partner string) contract.Actor {
	if a.User != "" {
		return a
	}
	return contract.Actor{User: partner, Role: contract.RoleService}
}

func (w *caseRun) sawBefore(key string) bool {
	for _, k := range w.seen {
		if k == key {
			return true
		}
	}
	w.seen = append(w.seen, key)
	return false
}

// How old an assessment may be when its result comes, and how long a clearance may
// be valid. A result travels in days, not weeks: one assessed over a week before
// it is posted is a stale or re-posted one, not the answer to the request now
// open. Airlines want a certificate at most 14 days old at the flight (DOMAIN.md),
// and the case reassesses when the clearance lapses before the flight: a clearance
// valid for months or years would skip that check for good, so 30 days at most.
const (
	maxAssessmentAge     = 7 * 24 * time.Hour
	maxClearanceValidity = 30 * 24 * time.Hour
)

// mayReport says whether a sender may post a partner's fact of that kind: the
// partner service of that kind, or a caseworker (the partner's answer on paper).
func (w *caseRun) mayReport(a contract.Actor, partner string) error {
	if a.Role == contract.RoleService {
		if a.Partner != partner {
			return refuse(contract.RefusedForbidden, "only a %s partner's credential may post this", partner)
		}
		return nil
	}
	return w.must(a, contract.RoleCaseworker)
}

// expectsMedical says whether the case waits for a fit-to-travel result from this
// sender: an assessment request is open (in medical clearance). It reads the
// published state only, as the actions the case offers are computed from it (the
// case file must show what the workflow would): whether the result is in already,
// the request's number and the dates are checked by canReportMedical.
func (w *caseRun) expectsMedical(a contract.Actor) error {
	if err := w.mayReport(a, contract.PartnerMedical); err != nil {
		return err
	}
	m := w.st.Medical
	if w.st.Stage != contract.StageMedicalClearance || m == nil || m.Requests == 0 {
		return refuse(contract.RefusedWrongStage, "no medical assessment is awaited")
	}
	return nil
}

// canReportMedical: a result is taken while its assessment request is open, for
// that request, with dates that can belong to it.
func (w *caseRun) canReportMedical(a contract.Action[contract.MedicalResult]) error {
	if err := w.expectsMedical(a.Actor); err != nil {
		return err
	}
	r, open := a.Body, w.st.Medical.Requests
	if len(w.pendingMedical) > 0 || w.medicalAnswered >= open {
		return refuse(contract.RefusedDuplicate, "the result of assessment request %d is already in", open)
	}
	if r.RequestNo != open {
		return refuse(contract.RefusedWrongStage, "request_no: the case awaits the result of assessment request %d", open)
	}
	if r.AssessedAt.Before(workflow.Now(w.root).Add(-maxAssessmentAge)) {
		return refuse(contract.RefusedInvalid, "assessed_at: an assessment more than %d days old does not answer this request",
			int(maxAssessmentAge.Hours()/24))
	}
	if r.ValidUntil != nil && r.ValidUntil.After(r.AssessedAt.Add(maxClearanceValidity)) {
		return refuse(contract.RefusedInvalid, "valid_until: a clearance is valid for at most %d days after the assessment",
			int(maxClearanceValidity.Hours()/24))
	}
	return nil
}

// expectsArrival says whether the case waits for the reception to be confirmed
// by this sender: from the ticketed flight on (before the departure is recorded
// too), until the arrival is known. From the published state only (see
// expectsMedical); an arrival held until the departure is refused by canReportArrival.
func (w *caseRun) expectsArrival(a contract.Actor) error {
	if err := w.mayReport(a, contract.PartnerReceiving); err != nil {
		return err
	}
	ticketed := w.st.Stage == contract.StageTravel && w.st.Travel != nil && w.st.Travel.BookingStatus == contract.BookingTicketed
	if !ticketed && w.st.Stage != contract.StageArrival {
		return refuse(contract.RefusedWrongStage, "no arrival is awaited")
	}
	if w.st.Arrival != nil {
		return refuse(contract.RefusedDuplicate, "the arrival is already in")
	}
	return nil
}

// canReportArrival: an arrival is taken for this case's ticketed flight only.
func (w *caseRun) canReportArrival(a contract.Action[contract.Arrival]) error {
	if err := w.expectsArrival(a.Actor); err != nil {
		return err
	}
	if len(w.pendingArrival) > 0 { // held until the departure: not in the published state
		return refuse(contract.RefusedDuplicate, "the arrival is already in")
	}
	if a.Body.BookingRef != w.st.Travel.BookingRef {
		return refuse(contract.RefusedWrongStage, "booking_ref: not the booking of this case's ticketed flight")
	}
	return nil
}
