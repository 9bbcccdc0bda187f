package workflows

import "go.temporal.io/sdk/workflow"

// Changes of the workflow's behaviour, each behind workflow.GetVersion: a case
// started on older code replays the way it ran (its history has no marker and gets
// workflow.DefaultVersion), while new cases take the new behaviour. A change needs
// a version when it changes the commands a case's history records (activities,
// timers, local activities, markers, their order) on any path; a change that only
// changes what the workflow computes from them does not. The histories under
// testdata/histories prove it: each directory holds the cases of one version.
const (
	// The ID under which the case workflow's behaviour is versioned. It is named
	// after its first change; later ones raise the version (one marker per case).
	changeCaseBehaviour = "finish-in-flight-calls"

	// Version 1: calls under way when a case is withdrawn run to their end and the
	// case waits for them (ActivityOptions.WaitForCancellation); the case file is
	// written on a context the withdrawal does not cancel; a compensating call the
	// partner refuses is recorded instead of blocking the closure; a withdrawal that
	// comes while the case moves into monitoring closes it instead of being lost.
	versionFinishInFlightCalls workflow.Version = 1

	// Version 2: the case file is written once per workflow task (one local activity
	// with every event the task recorded and the state after them) by a coroutine of
	// its own, instead of once per event with the step waiting for it. A case had 37
	// case-file writes; each held its workflow task open while it ran.
	versionOneWritePerTask workflow.Version = 2

	// Version 3: a stage's SLA timer (and a monitoring visit's window) is started
	// only while its event has not come yet, and cancelled when it comes. Before,
	// SDK 1.50's AwaitWithOptions started one even for an event already there, and
	// left it pending when the event came: every timer of a stage done in time
	// fired days later and woke the case for a workflow task that did nothing.
	versionQuietTimers workflow.Version = 3

	// Version 4: what a case takes is tied to what it awaits. A partner's fact sent
	// as a signal (the API sent them so before) is held to the same rules as the
	// update that replaces it (the assessment request it answers, the ticketed
	// booking, the dates, the sender's partner kind) and dropped if they refuse it;
	// quotes in another currency than the programme's are refused, and a chosen
	// quote above the item's approved cost waits for an approver's decision before
	// the order; a cancellation from Temporal (an operator, not Homeward) reads who
	// asked for it from the history (an activity) and closes the case as
	// operator_cancelled in that person's name, not as a withdrawal.
	versionTiedFacts workflow.Version = 4

	// Version 5: fewer billed actions and history events per case (issue 19).
	//  - The case registry hears of each change through the case file's outbox: the
	//    write that records a change queues it in the same transaction, and the
	//    worker's relay sends it (package relay); no activity per change.
	//  - A monitoring visit has one timer, its window's end: the visit may be
	//    reported from its due date on (the validator reads the workflow's clock,
	//    and the case publishes when the action opens), and the case waits on the
	//    caseworker through monitoring; before, a timer woke the case at the due
	//    date only to say so.
	//  - Search attributes are upserted by the case file's writer, once per
	//    workflow task and only when one that managers search on changed;
	//    StageEnteredAt is when the current stage and wait began (entering the same
	//    stage again, waiting on the same party, keeps it); StageDueAt is no longer
	//    kept (the case file has it).
	//  - A case-file write that keeps failing (the database down) retries at most
	//    every 10 minutes, each attempt at most 5 s (see caseFileOptions).
	versionFewerActions workflow.Version = 5

	// Version 6: the programme's money checked by the sending office (issue 21).
	//  - A plan the programme's rules send to the donor (contract.DonorApproval:
	//    above the household's cap, above an amount, items of given kinds) waits,
	//    once the approvers approved it, for the donor's decision (its own SLA
	//    timer), which an approver of the sending office records; refused, the
	//    plan goes back to planning.
	//  - A payment above the programme's payment_validation_above waits for an
	//    approver of the sending office (not who recorded the delivery) to
	//    validate it; refused, it waits for a new validation.
	// A case whose plan and payments need neither records the same commands as
	// in version 5.
	versionDonorAndPayments workflow.Version = 6

	// Version 7: the money of the partners (issue 21, points 3 and 6).
	//  - Each fee a partner's answer carries (the travel agency's ticketing and
	//    escort, the medical provider's assessment) is recorded as charged: in the
	//    state (Fees, with the programme's agreed rate), and a timeline line that
	//    goes with the case file's next write (no write of its own: no command).
	//  - A withdrawal (consent withdrawal, operator cancellation) after the flight
	//    was ticketed asks the agency to refund the ticket (a new activity) and
	//    records the refund and the fee kept; a paid escort's cancellation records
	//    them too; the receiving office is told the pre-arrival notice no longer
	//    stands (a new activity). Before, a ticket stayed bought.
	versionFeesAndRefunds workflow.Version = 7

	latestVersion = versionFeesAndRefunds
)

func (w *caseRun) finishesInFlightCalls() bool { return w.version >= versionFinishInFlightCalls }

func (w *caseRun) writesOncePerTask() bool { return w.version >= versionOneWritePerTask }

func (w *caseRun) cancelsIdleTimers() bool { return w.version >= versionQuietTimers }

func (w *caseRun) tiesFacts() bool { return w.version >= versionTiedFacts }

func (w *caseRun) fewerActions() bool { return w.version >= versionFewerActions }

func (w *caseRun) checksMoney() bool { return w.version >= versionDonorAndPayments }

func (w *caseRun) recordsFees() bool { return w.version >= versionFeesAndRefunds }

// disconnected is a context that a withdrawal does not cancel.
func disconnected(ctx workflow.Context) workflow.Context {
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	return ctx
}
