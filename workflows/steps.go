package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/homeward/homeward/activities"
	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/money"
	"github.com/homeward/homeward/partners"
)

// enter puts the case in a stage, waiting on someone until a due date (nil: none).
// Everything that shows where a case is follows: search attributes, the UI's
// current details, the case file, and (on a change of stage) the case registry.
func (w *caseRun) enter(ctx workflow.Context, stage contract.Stage, waiting contract.WaitingOn, due *time.Time, next string) {
	changed := w.st.Stage != stage
	sameWait := !changed && w.st.WaitingOn == waiting
	w.st.Stage, w.st.WaitingOn, w.st.StageDueAt, w.st.Overdue = stage, waiting, due, false
	w.st.WaitingFrom = nil
	if !sameWait || !w.fewerActions() {
		w.st.StageEnteredAt = workflow.Now(ctx)
	}
	w.next = next
	w.show(ctx)
	w.record(ctx, "stage", systemActor, fmt.Sprintf("%s: waiting on %s", stage, orNobody(waiting)))
	if changed {
		// The registry is told of every change of stage; a failure there does not
		// stop the case.
		_ = w.tellRegistry(ctx)
	}
}

func orNobody(w contract.WaitingOn) string {
	if w == "" {
		return "nobody"
	}
	return string(w)
}

// dueIn is a due date that far from now.
func (w *caseRun) dueIn(ctx workflow.Context, d time.Duration) *time.Time {
	t := workflow.Now(ctx).Add(d).UTC()
	return &t
}

// wait blocks until cond holds, racing it against the stage's due date: when the
// date passes, the case is marked overdue (once) and goes on waiting.
func (w *caseRun) wait(ctx workflow.Context, what string, cond func() bool) error {
	if w.st.StageDueAt != nil && !w.st.Overdue {
		ok, err := w.awaitWithin(ctx, max(w.st.StageDueAt.Sub(workflow.Now(ctx)), time.Millisecond), "SLA: "+what+" due", cond)
		if err != nil {
			return err
		}
		if ok {
			return w.settled(ctx)
		}
		w.markOverdue(ctx, what)
	}
	if err := workflow.Await(ctx, cond); err != nil {
		return err
	}
	if err := w.settled(ctx); err != nil {
		return err
	}
	if w.st.Overdue {
		w.st.Overdue = false
		w.show(ctx)
	}
	return nil
}

// awaitWithin waits until cond holds (true) or d has passed (false), on a timer
// the history names with summary. From version 3 the timer is started only if cond
// does not hold yet, and cancelled as soon as it does (see versions.go).
func (w *caseRun) awaitWithin(ctx workflow.Context, d time.Duration, summary string, cond func() bool) (bool, error) {
	if !w.cancelsIdleTimers() {
		return workflow.AwaitWithOptions(ctx, workflow.AwaitOptions{Timeout: d, TimerOptions: workflow.TimerOptions{Summary: summary}}, cond)
	}
	if cond() {
		return true, nil
	}
	timerCtx, cancelTimer := workflow.WithCancel(ctx)
	defer cancelTimer() // a timer that fired is not cancelled: nothing is sent
	timer := workflow.NewTimerWithOptions(timerCtx, d, workflow.TimerOptions{Summary: summary})
	if err := workflow.Await(ctx, func() bool { return cond() || timer.IsReady() }); err != nil {
		return false, err
	}
	if cond() {
		return true, nil
	}
	// The timer is done: it fired (the due date passed), or it was cancelled with
	// ctx (a withdrawal), which is an error here as in AwaitWithOptions, never a
	// missed due date.
	return false, timer.Get(ctx, nil)
}

// settled waits until the actions being applied have been applied (before version
// 2, until their handlers finished, case-file writes included), so that the
// timeline shows an action before what follows from it.
func (w *caseRun) settled(ctx workflow.Context) error {
	if w.writesOncePerTask() {
		// From version 2 a handler waits for its write after applying the action;
		// the process goes on meanwhile, and what follows shares the write.
		return workflow.Await(ctx, func() bool { return w.applying == 0 })
	}
	return workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
}

func (w *caseRun) markOverdue(ctx workflow.Context, what string) {
	w.st.Overdue = true
	w.show(ctx)
	w.record(ctx, "overdue", systemActor, fmt.Sprintf("Overdue: %s was due %s", what, w.st.StageDueAt.Format(time.RFC3339)))
	text := fmt.Sprintf("Case %s is overdue in %s: %s was due %s.", w.in.Reference, w.st.Stage, what, w.st.StageDueAt.Format(time.RFC3339))
	w.notify(ctx, "supervisor", "overdue", text)
	w.notify(ctx, "sending_office", "overdue", text)
}

// sleep waits on a durable timer that the event history names.
func (w *caseRun) sleep(ctx workflow.Context, d time.Duration, summary string) error {
	if d <= 0 {
		return nil
	}
	return workflow.NewTimerWithOptions(ctx, d, workflow.TimerOptions{Summary: summary}).Get(ctx, nil)
}

// key is the idempotency key of one side effect: the case and the step, so it is
// the same on every retry and replay, and a partner that honours it acts once.
func (w *caseRun) key(step string) string { return w.in.CaseID + "/" + step }

// record notes a change of the case for the case file: a timeline event and the
// state after it. The case file is Homeward's own database, written by a local
// activity idempotent by the event key.
//
// From version 2 on, the events wait for the case's writer (startWriter), which
// writes all a workflow task recorded at once; before, each record was a local
// activity of its own that the step waited for.
func (w *caseRun) record(ctx workflow.Context, typ string, by contract.Actor, summary string) {
	w.recordText(ctx, typ, by, summary, "")
}

// recordText records a change with what the person wrote with it (a note, a
// comment, a reason): the case file keeps it sealed, beside the timeline line.
// The text only changes the case file's input, not the commands: no version.
func (w *caseRun) recordText(ctx workflow.Context, typ string, by contract.Actor, summary, text string) {
	w.st.Seq++
	ev := contract.Event{Key: fmt.Sprintf("%s/%d", w.in.CaseID, w.st.Seq), Type: typ, Actor: by, Summary: summary,
		At: workflow.Now(ctx).UTC(), Text: text, RequestID: w.request}
	w.request = "" // the action's first line only
	if w.writesOncePerTask() {
		w.unwritten = append(w.unwritten, ev)
		return
	}
	if w.finishesInFlightCalls() {
		ctx = disconnected(ctx)
	}
	rec := contract.Record{CaseID: w.in.CaseID, EventKey: ev.Key, Type: typ, Actor: by, Summary: summary, Text: text, At: ev.At,
		State: w.snapshot(), WrittenIn: w.writtenIn(ctx)}
	if err := workflow.ExecuteLocalActivity(w.caseFileOptions(ctx), acts.RecordCase, rec).Get(ctx, nil); err != nil {
		// Retries are unlimited: only cancellation ends them, and then the next
		// record (the closure) carries the state.
		w.logger.Warn("case file not written", "event_type", typ, "error", err)
	}
}

// startWriter starts the coroutine that writes the case file. It wakes when events
// are waiting and writes them all with the state as it is then: the coroutines of a
// workflow task run until each is blocked before it takes its turn, so what one task
// records (an update's event and the next stage the process enters, say) is one
// local activity. The workflow task completes only once its local activities have,
// so an update's answer comes after its event is in the case file (and the handler
// waits for it besides, for a write that outlasts the task: see action).
//
// It runs on a context that is never cancelled: what happened before a withdrawal
// or an operator's cancellation is written before the closure.
func (w *caseRun) startWriter(ctx workflow.Context) {
	ctx = w.caseFileOptions(disconnected(ctx))
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			_ = workflow.Await(ctx, func() bool { return len(w.unwritten) > 0 || w.searchPending })
			if w.searchPending { // version 5 on: the task's search attributes, once
				w.searchPending = false
				w.upsertSearch(ctx)
			}
			if len(w.unwritten) == 0 {
				continue
			}
			// Quiet events (fees, version 7) recorded before go first: their Seq is lower.
			ch := contract.Changes{CaseID: w.in.CaseID, Events: append(w.quiet, w.unwritten...), State: w.snapshot(),
				WrittenIn: w.writtenIn(ctx), Registry: w.registry}
			w.quiet, w.unwritten, w.registry = nil, nil, nil
			if err := workflow.ExecuteLocalActivity(ctx, acts.RecordChanges, ch).Get(ctx, nil); err != nil {
				// Only after ten years of retries (ScheduleToClose).
				w.logger.Warn("case file not written", "events", len(ch.Events), "error", err)
			}
			w.written = ch.State.Seq
		}
	})
}

// writtenUpTo waits until the case file has the changes up to seq (version 2 on; before,
// each record waited for its own write).
func (w *caseRun) writtenUpTo(ctx workflow.Context, seq int64) error {
	if !w.writesOncePerTask() {
		return nil
	}
	if seq > w.written && len(w.quiet) > 0 {
		// Quiet events are waited for: they wake the writer now.
		w.unwritten = append(w.quiet, w.unwritten...)
		w.quiet = nil
	}
	return workflow.Await(ctx, func() bool { return w.written >= seq })
}

// charged records a fee a partner's answer carried (version 7 on): in the state,
// with the programme's agreed rate, and a timeline line that counts it in the
// statistics. The line waits for the case file's next write rather than waking
// the writer (a write is a local activity: a command and a billed action), so a
// fee costs the case nothing in Temporal. An answer without a fee records none;
// one that cannot be read (not an amount, no currency) is recorded as such.
func (w *caseRun) charged(ctx workflow.Context, partner, service, key, reference string, fee *money.Money) {
	if !w.recordsFees() || fee == nil {
		return
	}
	who := map[string]string{contract.FeeTravel: "the travel agency", contract.FeeEscort: "the travel agency (escort)",
		contract.FeeMedical: "the medical provider"}[partner]
	if _, err := fee.Cents(); err != nil || len(fee.Currency) != 3 {
		w.record(ctx, "fee_unreadable", systemActor, fmt.Sprintf("The fee %s charged for %s could not be read", who, service))
		return
	}
	f := contract.Fee{Key: key, Partner: partner, Service: service, Reference: reference, Amount: *fee,
		ChargedAt: workflow.Now(ctx).UTC()}
	summary := fmt.Sprintf("Fee charged by %s for %s: %s %s", who, strings.ReplaceAll(service, "_", " "), fee.Amount, fee.Currency)
	if service == contract.ServiceTicketing || service == contract.ServiceEscort || service == contract.ServiceAssessment {
		if agreed, ok := w.rules.Programme.Agreed(partner); ok {
			f.Agreed = &agreed
			summary += fmt.Sprintf(" (agreed %s %s)", agreed.Amount, agreed.Currency)
		}
	}
	w.st.Fees = append(w.st.Fees, f)
	w.st.Seq++
	amount := *fee
	ev := contract.Event{Key: fmt.Sprintf("%s/%d", w.in.CaseID, w.st.Seq), Type: "fee", Actor: systemActor, Summary: summary,
		At: f.ChargedAt, Amount: &amount}
	if len(w.unwritten) > 0 {
		w.unwritten = append(w.unwritten, ev) // the writer is about to write: it goes with it
		return
	}
	w.quiet = append(w.quiet, ev)
}

// flushed waits until the case file has every change recorded so far: a run must
// not end with events still waiting for the writer.
func (w *caseRun) flushed(ctx workflow.Context) {
	_ = w.writtenUpTo(disconnected(ctx), w.st.Seq)
}

// caseFileOptions: a case-file write retries until the database takes it. A local
// activity's retries end at its schedule-to-close timeout, which would otherwise
// default to the 10 s of one attempt, and a case file that misses a change while
// the database restarts would disagree with the case.
//
// Once the pause before a retry exceeds the workflow task's timeout (10 s), each
// retry is a marker, a timer and a workflow task in the history (6 events), plus
// the task's heartbeat (3) when an attempt holds the task open past 8 s. Before
// version 5: two minutes apart and 10 s per attempt, a day without the database
// cost a case about 4,000 events. From version 5: at most 10 minutes apart, 5 s
// per attempt (no heartbeat), at most 144 retries a day: under 900 events a day,
// and a case lives through a ten-day outage with about 9,000.
func (w *caseRun) caseFileOptions(ctx workflow.Context) workflow.Context {
	attempt, pause := 10*time.Second, 2*time.Minute
	if w.fewerActions() {
		attempt, pause = caseFileAttempt, caseFileMaxPause
	}
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: 10 * 365 * 24 * time.Hour,
		StartToCloseTimeout:    attempt,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: 200 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: pause},
	})
}

// From version 5, a case-file write's attempt and the longest pause between two.
const (
	caseFileAttempt  = 5 * time.Second
	caseFileMaxPause = 10 * time.Minute
)

// writtenIn orders this workflow task's writes among the case's (contract.Changes).
func (w *caseRun) writtenIn(ctx workflow.Context) int64 {
	return int64(w.generation())<<32 | int64(workflow.GetInfo(ctx).GetCurrentHistoryLength())
}

// published is the state as people read it: the facts, what should happen next
// and which actions the case accepts now.
func (w *caseRun) published() contract.CaseState {
	st := w.st
	st.Next, st.Actions = w.next, w.openActions()
	prog := w.rules.Programme
	st.PlanLimits = &contract.PlanLimits{Cap: money.Of(prog.Cap(w.in.Adults, w.in.Minors), prog.Currency),
		SecondApprovalAbove: money.Of(prog.SecondApprovalAbove, prog.Currency)}
	if st.Status == contract.StatusClosed {
		st.Next = ""
	}
	return st
}

// snapshot is a deep copy of the state: a local activity reads it on another
// goroutine while the workflow goes on changing its own.
func (w *caseRun) snapshot() contract.CaseState {
	b, err := json.Marshal(w.published())
	if err != nil {
		panic(err) // the state is plain data: marshalling cannot fail
	}
	var st contract.CaseState
	if err := json.Unmarshal(b, &st); err != nil {
		panic(err)
	}
	return st
}

// tellRegistry tells the case registry where the case is now, under the key of
// the change just recorded. From version 5 the change goes into the case file's
// outbox with the write that records it, and the worker's relay sends it (in order,
// under the same key: package relay); before, each was an activity the case waited for,
// flagged as a partner call when it kept failing.
func (w *caseRun) tellRegistry(ctx workflow.Context) error {
	if w.fewerActions() {
		w.registry = append(w.registry, contract.RegistryChange{Seq: w.st.Seq, Record: w.caseRecord(ctx)})
		return nil
	}
	return w.call(ctx, "Update the case registry", acts.UpsertRegistry, nil, w.key(fmt.Sprintf("registry/%d", w.st.Seq)),
		w.caseRecord(ctx))
}

func (w *caseRun) caseRecord(ctx workflow.Context) contract.CaseRecord {
	return contract.CaseRecord{CaseID: w.in.CaseID, Reference: w.in.Reference, Stage: w.st.Stage, Status: w.st.Status,
		ClosureReason: w.st.ClosureReason, WaitingOn: w.st.WaitingOn, CountryOfReturn: w.in.CountryOfReturn,
		SendingOffice: w.in.SendingOffice, ReceivingOffice: w.in.ReceivingOffice, Programme: w.rules.Programme.Name,
		UpdatedAt: workflow.Now(ctx).UTC()}
}

// notify tells a person without holding the case up: the notification retries on
// its own while the case goes on.
func (w *caseRun) notify(ctx workflow.Context, to, kind, text string) {
	w.notifyMessage(ctx, to, partners.Message{CaseID: w.in.CaseID, Reference: w.in.Reference, To: to, Kind: kind, Text: text})
}

// notifyOffice tells a receiving office, named (a transfer tells two).
func (w *caseRun) notifyOffice(ctx workflow.Context, office, kind, text string) {
	w.notifyMessage(ctx, partners.ToReceivingOffice+":"+office, partners.Message{CaseID: w.in.CaseID,
		Reference: w.in.Reference, To: partners.ToReceivingOffice, Office: office, Kind: kind, Text: text})
}

func (w *caseRun) notifyMessage(ctx workflow.Context, to string, m partners.Message) {
	kind := m.Kind
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		Summary:             "Notify " + to + ": " + kind,
		RetryPolicy:         &temporal.RetryPolicy{MaximumInterval: 10 * time.Minute, NonRetryableErrorTypes: []string{activities.ErrPartnerRejected}},
	})
	f := workflow.ExecuteActivity(ctx, acts.Notify, w.key(fmt.Sprintf("notify/%d/%s/%s", w.st.Seq, to, kind)), m)
	w.notifying++
	workflow.Go(ctx, func(ctx workflow.Context) {
		_ = f.Get(ctx, nil)
		w.notifying--
	})
}

// notificationsSent waits for notifications still under way: a run must not end
// (close, or continue as new) and lose them.
func (w *caseRun) notificationsSent(ctx workflow.Context) {
	_ = workflow.Await(ctx, func() bool { return w.notifying == 0 })
}

// call runs a partner call as an activity. After the configured number of failed
// attempts the case is flagged as waiting on the system (managers see it, a
// notification goes out) while retries go on, so it heals when the partner is
// back. A partner's refusal (4xx) is not retried: the case says it is blocked and
// tries again later, with a growing pause.
//
// A call under way when the case is withdrawn is asked to stop, and the case
// waits for its answer: a flight held or a payment made in that moment is known
// to the compensation, which releases the one and never pays the other again.
func (w *caseRun) call(ctx workflow.Context, summary string, activity, out any, args ...any) error {
	return w.callPartner(ctx, false, summary, activity, out, args...)
}

// undoCall is a call that compensates (cancel a hold, an escort). A partner's refusal
// ends it, recorded and told to a manager to settle by hand, instead of holding
// the closure up: a booking ticketed meanwhile cannot be cancelled.
func (w *caseRun) undoCall(ctx workflow.Context, summary string, activity, out any, args ...any) error {
	return w.callPartner(ctx, true, summary, activity, out, args...)
}

func (w *caseRun) callPartner(ctx workflow.Context, compensating bool, summary string, activity, out any, args ...any) error {
	opts := workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		Summary:             summary,
		WaitForCancellation: w.finishesInFlightCalls(),
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2,
			MaximumInterval: time.Minute, MaximumAttempts: int32(w.rules.SystemStuckAfterAttempts),
			NonRetryableErrorTypes: []string{activities.ErrPartnerRejected}},
	}
	exec := func() error {
		return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), activity, args...).Get(ctx, out)
	}
	err := exec()
	if err == nil || temporal.IsCanceledError(err) || ctx.Err() != nil {
		return err
	}
	waitingBefore := w.st.WaitingOn
	defer func() {
		if w.st.WaitingOn == contract.WaitingSystem || w.st.Blocked != "" {
			w.st.WaitingOn, w.st.Blocked = waitingBefore, ""
			w.show(ctx)
			outcome := ": succeeded again"
			if err != nil {
				outcome = ": given up"
			}
			w.record(ctx, "recovered", systemActor, summary+outcome)
		}
	}()
	for pause := 10 * time.Minute; ; pause = min(2*pause, 24*time.Hour) {
		if rejected(err) && compensating && w.finishesInFlightCalls() {
			w.record(ctx, "undo_refused", systemActor, summary+": refused: "+partnerMessage(err))
			w.notify(ctx, "manager", partners.NotifyUndoRefused, fmt.Sprintf("Case %s: %s was refused (%s); settle it with the partner.",
				w.in.Reference, summary, partnerMessage(err)))
			return err
		}
		if rejected(err) {
			w.st.WaitingOn, w.st.Blocked = contract.WaitingSystem, summary+": "+partnerMessage(err)
			w.show(ctx)
			w.record(ctx, "blocked", systemActor, "Blocked: "+w.st.Blocked)
			w.notify(ctx, "manager", "blocked", fmt.Sprintf("Case %s is blocked: %s", w.in.Reference, w.st.Blocked))
			if err = w.sleep(ctx, pause, "Try again: "+summary); err != nil {
				return err
			}
		} else if w.st.WaitingOn != contract.WaitingSystem {
			w.st.WaitingOn = contract.WaitingSystem
			w.show(ctx)
			w.record(ctx, "system_stuck", systemActor, summary+": the partner keeps failing; retrying")
			w.notify(ctx, "manager", "system_stuck", fmt.Sprintf("Case %s: %s keeps failing.", w.in.Reference, summary))
			opts.RetryPolicy.MaximumAttempts = 0 // from here on, retry until it works
		}
		if err = exec(); err == nil || temporal.IsCanceledError(err) || ctx.Err() != nil {
			return err
		}
	}
}

func rejected(err error) bool {
	var app *temporal.ApplicationError
	return errors.As(err, &app) && app.Type() == activities.ErrPartnerRejected
}

func partnerMessage(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Message()
	}
	return "failed"
}

// close ends the case with one closure reason.
func (w *caseRun) close(ctx workflow.Context, reason contract.ClosureReason, by contract.Actor, why string) error {
	return w.closeWithText(ctx, reason, by, why, "")
}

// closeWithText closes the case, keeping what the person who closed it wrote.
func (w *caseRun) closeWithText(ctx workflow.Context, reason contract.ClosureReason, by contract.Actor, why, text string) error {
	ctx = disconnected(ctx)
	w.st.Stage, w.st.Status, w.st.ClosureReason = contract.StageClosed, contract.StatusClosed, reason
	w.st.WaitingOn, w.st.StageDueAt, w.st.Overdue = contract.WaitingNobody, nil, false
	w.st.StageEnteredAt = workflow.Now(ctx)
	for i := range w.st.Procurement {
		if p := &w.st.Procurement[i]; p.Payment == nil && p.Status != contract.ItemReferred {
			p.Status = contract.ItemCancelled
		}
	}
	w.next = ""
	w.show(ctx)
	w.recordText(ctx, "closed", by, why, text)
	err := w.tellRegistry(ctx)
	w.notificationsSent(ctx)
	return err
}

// show publishes where the case is: search attributes for the UI's queries, and
// current details (markdown) that tell a manager what is happening and what next.
func (w *caseRun) show(ctx workflow.Context) {
	workflow.SetCurrentDetails(ctx, w.details())
	if w.fewerActions() {
		w.searchPending = true // the writer upserts what changed, once per task
		return
	}
	due := SAStageDueAt.ValueUnset()
	if w.st.StageDueAt != nil {
		due = SAStageDueAt.ValueSet(*w.st.StageDueAt)
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx,
		SACaseStage.ValueSet(string(w.st.Stage)), SACaseStatus.ValueSet(string(w.st.Status)),
		SAWaitingOn.ValueSet(string(w.st.WaitingOn)), SAStageEnteredAt.ValueSet(w.st.StageEnteredAt),
		due, SAOverdue.ValueSet(w.st.Overdue),
	); err != nil {
		w.logger.Warn("search attributes not updated", "error", err)
	}
}

func (w *caseRun) details() string {
	var b strings.Builder
	const stamp = "2 Jan 2006 15:04 UTC"
	fmt.Fprintf(&b, "**%s** · stage **%s** · waiting on **%s**\n\n", w.in.Reference, w.st.Stage, orNobody(w.st.WaitingOn))
	if w.st.Status == contract.StatusClosed {
		fmt.Fprintf(&b, "Closed (%s) on %s.\n", w.st.ClosureReason, w.st.StageEnteredAt.UTC().Format(stamp))
		return b.String()
	}
	fmt.Fprintf(&b, "- Since: %s\n", w.st.StageEnteredAt.UTC().Format(stamp))
	if w.st.StageDueAt != nil {
		overdue := ""
		if w.st.Overdue {
			overdue = " — **OVERDUE**"
		}
		fmt.Fprintf(&b, "- Due: %s%s\n", w.st.StageDueAt.UTC().Format(stamp), overdue)
	}
	if w.st.Blocked != "" {
		fmt.Fprintf(&b, "- **Blocked:** %s\n", w.st.Blocked)
	} else if w.st.WaitingOn == contract.WaitingSystem {
		b.WriteString("- **An external service keeps failing**; Homeward retries until it answers.\n")
	}
	if w.next != "" {
		fmt.Fprintf(&b, "- Next: %s\n", w.next)
	}
	// An empty last paragraph (a no-break space): the UI (2.42) sizes the details
	// frame a few pixels short and would clip the last line.
	b.WriteString("\n\u00a0\n")
	return b.String()
}
