// Package workflows holds the return case workflow: one long-running workflow per
// case that follows the process in DOMAIN.md stage by stage. process.go reads top to
// bottom like the process; actions.go says which person may do what when; the
// Temporal mechanics (SLA timers, search attributes, partner calls) are in steps.go.
package workflows

import (
	"errors"

	"github.com/homeward/homeward/activities"
	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/store"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// acts is only used for its method values: the workflow names activities by method.
var acts *activities.Activities

// caseRun is one run of a case's workflow: its input, its rules and its live state.
type caseRun struct {
	in     contract.CaseInput
	rules  contract.Rules
	st     contract.CaseState
	logger log.Logger

	// Partner facts that arrived and are not yet used, and what has been seen, so
	// that a fact sent twice counts once.
	pendingMedical []contract.MedicalResult
	pendingArrival []contract.Arrival
	seen           []string

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
	unwritten []store.Event
	written   int64
	// applying counts the actions whose handlers are applying them.
	applying int

	// From version 5: the registry's changes waiting for the writer (they go into
	// the case file's outbox with the events), the search attributes as last
	// upserted and whether they may have changed since, and the root context, whose
	// clock the validators read (a monitoring visit opens at its due date).
	registry      []store.RegistryChange
	searched      searched
	searchPending bool
	root          workflow.Context
}

// ReturnCase is the workflow of one return case, from registration to closure.
func ReturnCase(ctx workflow.Context, in contract.CaseInput) (contract.CaseState, error) {
	w := &caseRun{in: in, rules: in.Rules}
	w.logger = log.With(workflow.GetLogger(ctx), "case_id", in.CaseID)
	if in.Resumed != nil {
		w.st = in.Resumed.State
		w.pendingMedical = in.Resumed.PendingMedical
		w.pendingArrival = in.Resumed.PendingArrival
		w.seen = in.Resumed.SeenRequests
	} else {
		w.st = contract.CaseState{Stage: contract.StageIntake, Status: contract.StatusActive,
			WaitingOn: contract.WaitingCaseworker, StageEnteredAt: workflow.Now(ctx)}
	}
	if err := w.setup(ctx); err != nil {
		return w.st, err
	}

	processCtx, cancel := workflow.WithCancel(ctx)
	w.cancelProcess = cancel
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
		// The workflow itself was cancelled (by an operator): compensate even so.
		dctx := disconnected(ctx)
		w.undoBookings(dctx)
		_ = w.close(dctx, contract.ClosedWithdrawn, systemActor, "Case cancelled by an operator")
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
				w.takeMedical(a)
			})
			sel.AddReceive(arrival, func(c workflow.ReceiveChannel, _ bool) {
				var a contract.Action[contract.Arrival]
				c.Receive(ctx, &a)
				w.takeArrival(a)
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
		w.takeMedical(m)
	}
	for {
		var a contract.Action[contract.Arrival]
		if !workflow.GetSignalChannel(ctx, contract.SignalArrival).ReceiveAsync(&a) {
			break
		}
		w.takeArrival(a)
	}
}

func (w *caseRun) takeMedical(a contract.Action[contract.MedicalResult]) {
	key := "medical/" + a.Body.Result + "/" + a.Body.AssessedAt.UTC().Format("2006-01-02T15:04:05Z07:00")
	if w.sawBefore(key) {
		return
	}
	w.pendingMedical = append(w.pendingMedical, a.Body)
}

func (w *caseRun) takeArrival(a contract.Action[contract.Arrival]) {
	if w.sawBefore("arrival") {
		return
	}
	w.pendingArrival = append(w.pendingArrival, a.Body)
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

// expectsMedical says whether the case waits for a fit-to-travel result that a
// caseworker may enter by hand (the provider's answer on paper). Partners post
// through the API, which buffers a result whenever it comes; a result sent twice
// counts once.
func (w *caseRun) expectsMedical(a contract.Actor) error {
	if err := w.must(a, contract.RoleCaseworker); err != nil {
		return err
	}
	// From the state alone (not from the facts buffered meanwhile): what the case file
	// shows at a change is what the workflow answers at that change.
	if w.st.Stage != contract.StageMedicalClearance || w.st.WaitingOn != contract.WaitingMedicalProvider {
		return refuse(contract.RefusedWrongStage, "no medical assessment is awaited")
	}
	return nil
}

// expectsArrival says whether the case waits for the reception to be confirmed:
// from the ticketed flight on, until the arrival is known.
func (w *caseRun) expectsArrival(a contract.Actor) error {
	if err := w.must(a, contract.RoleCaseworker); err != nil {
		return err
	}
	ticketed := w.st.Stage == contract.StageTravel && w.st.Travel != nil && w.st.Travel.BookingStatus == "ticketed"
	if (!ticketed && w.st.Stage != contract.StageArrival) || w.st.Arrival != nil {
		return refuse(contract.RefusedWrongStage, "no arrival is awaited")
	}
	return nil
}
