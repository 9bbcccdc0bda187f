package workflows

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/money"
)

// registerActions declares what people can do to a case. Each action is an update
// with a validator: the validator refuses an action in the wrong stage, by the
// wrong person, or twice, so the caller learns at once and the history keeps
// nothing of it; the handler applies it and answers once the case file has it.
func (w *caseRun) registerActions(ctx workflow.Context) error {
	return firstErr(
		action(ctx, w, contract.UpdateCounselling, w.canCounsel, w.counselled),
		action(ctx, w, contract.UpdateScreening, w.canScreen, w.screened),
		action(ctx, w, contract.UpdateClearance, w.canClear, w.cleared),
		action(ctx, w, contract.UpdateDeparture, w.canDepart, w.departed),
		action(ctx, w, contract.UpdatePlan, w.canSubmitPlan, w.planSubmitted),
		action(ctx, w, contract.UpdatePlanDecision, w.canDecide, w.decided),
		action(ctx, w, contract.UpdateDelivery, w.canDeliver, w.delivered),
		action(ctx, w, contract.UpdateVisit, w.canReportVisit, w.visited),
		action(ctx, w, contract.UpdateWithdrawal, w.canWithdraw, w.withdrawn),
		action(ctx, w, contract.UpdateCorrection, w.canCorrect, w.corrected),
		action(ctx, w, contract.UpdateConsentWithdrawal, w.canWithdrawConsent, w.consentWithdrawn),
		action(ctx, w, contract.UpdateTransfer, w.canTransfer, w.transferred),
		action(ctx, w, contract.UpdateOwnerAssigned, w.canNotifyOwner, w.ownerAssigned),
		action(ctx, w, contract.UpdateMedicalResult, w.canReportMedical, w.medicalReported),
		action(ctx, w, contract.UpdateArrival, w.canReportArrival, w.arrivalReported),
		action(ctx, w, contract.UpdatePriceDecision, w.canDecidePrice, w.priceDecided),
		action(ctx, w, contract.UpdateDonorDecision, w.canRecordDonorDecision, w.donorDecided),
		action(ctx, w, contract.UpdatePaymentValidation, w.canValidatePayment, w.paymentValidation),
	)
}

func action[T any](ctx workflow.Context, w *caseRun, name string,
	validate func(contract.Action[T]) error, apply func(workflow.Context, contract.Action[T])) error {
	return workflow.SetUpdateHandlerWithOptions(ctx, name,
		func(ctx workflow.Context, a contract.Action[T]) (contract.Accepted, error) {
			w.applying++
			w.request = a.RequestID
			apply(ctx, a)
			w.applying--
			// The answer says the action is in the case file. A workflow task waits
			// for its local activities, except one that outlasts the task (the
			// database down): then the answer waits here for the write. The caller
			// reads the case from the case file (the answer changes no command:
			// no version).
			_ = w.writtenUpTo(disconnected(ctx), w.st.Seq)
			return contract.Accepted{Seq: w.st.Seq}, nil
		},
		workflow.UpdateHandlerOptions{Validator: func(a contract.Action[T]) error {
			if err := w.gate(name); err != nil {
				return err
			}
			return validate(a)
		}})
}

// gate refuses every action but a withdrawal once the case closes or is closing.
func (w *caseRun) gate(name string) error {
	if w.st.Status == contract.StatusClosed {
		return refuse(contract.RefusedWrongStage, "the case is closed")
	}
	if w.withdrawal != nil && name != contract.UpdateWithdrawal && name != contract.UpdateConsentWithdrawal {
		// Validators do not run on replay: refusing more is safe for cases in flight.
		return refuse(contract.RefusedWrongStage, "the case is being closed (%s)", w.withdrawal.Body.Reason)
	}
	return nil
}

// peopleRoles are the roles that act on cases through the API and the workspace.
var peopleRoles = []contract.Role{contract.RoleCaseworker, contract.RoleApprover, contract.RoleProcurement,
	contract.RoleManager}

// openActions asks the validators which actions the case accepts now, and from
// which role (and, when only one of the case's offices may, which office): each
// validator is run for a person of that role from any office, then from each of
// the case's two offices,
// with the action's target (a plan item, a visit). The workspace offers exactly
// these, so the rules stay here. It reads the state and changes nothing.
func (w *caseRun) openActions() []contract.OpenAction {
	var out []contract.OpenAction
	offer := func(name, target string, validate func(contract.Actor) error) {
		if w.gate(name) != nil {
			return
		}
		var roles []contract.Role
		for _, r := range peopleRoles {
			if validate(contract.Actor{Role: r, Office: "*"}) == nil {
				roles = append(roles, r)
			}
		}
		if len(roles) == 0 {
			return
		}
		// Which of the case's offices the validator admits (for these roles).
		var offices []string
		for _, o := range []string{w.in.SendingOffice, w.in.ReceivingOffice} {
			for _, r := range roles {
				if validate(contract.Actor{Role: r, Office: o}) == nil {
					offices = append(offices, o)
					break
				}
			}
		}
		a := contract.OpenAction{Name: name, Target: target, Roles: roles}
		switch {
		case len(offices) == 0:
			a.Offices = []string{"*"} // only people of every office (managers)
		case len(offices) == 1:
			a.Offices = offices
		}
		out = append(out, a)
	}
	probe := func(name string, validate func(contract.Actor) error) { offer(name, "", validate) }
	probe(contract.UpdateCounselling, func(a contract.Actor) error {
		return w.canCounsel(contract.Action[contract.Counselling]{Actor: a})
	})
	probe(contract.UpdateScreening, func(a contract.Actor) error {
		return w.canScreen(contract.Action[contract.Screening]{Actor: a})
	})
	probe(contract.UpdateClearance, func(a contract.Actor) error {
		return w.canClear(contract.Action[contract.Clearance]{Actor: a})
	})
	probe(contract.SignalMedicalResult, func(a contract.Actor) error { return w.expectsMedical(a) })
	probe(contract.UpdateDeparture, func(a contract.Actor) error {
		return w.canDepart(contract.Action[contract.Departure]{Actor: a})
	})
	probe(contract.SignalArrival, func(a contract.Actor) error { return w.expectsArrival(a) })
	probe(contract.UpdatePlan, func(a contract.Actor) error {
		return w.canSubmitPlan(contract.Action[contract.Plan]{Actor: a})
	})
	probe(contract.UpdatePlanDecision, func(a contract.Actor) error {
		return w.canDecide(contract.Action[contract.PlanDecision]{Actor: a})
	})
	probe(contract.UpdateDonorDecision, w.mayRecordDonorDecision)
	for _, p := range w.st.Procurement {
		offer(contract.UpdateDelivery, p.ItemID, func(a contract.Actor) error {
			return w.canDeliver(contract.Action[contract.Delivery]{Actor: a, Body: contract.Delivery{ItemID: p.ItemID}})
		})
	}
	for _, p := range w.st.Procurement {
		offer(contract.UpdatePriceDecision, p.ItemID, func(a contract.Actor) error {
			return w.canDecidePrice(contract.Action[contract.PriceDecision]{Actor: a,
				Body: contract.PriceDecision{ItemID: p.ItemID, Decision: contract.DecisionReject}})
		})
	}
	for _, p := range w.st.Procurement {
		offer(contract.UpdatePaymentValidation, p.ItemID, func(a contract.Actor) error {
			return w.mayValidatePayment(a, p.ItemID)
		})
	}
	for _, v := range w.st.Monitoring {
		// A scheduled visit is published as open from its due date (version 5 on),
		// asked of the validator as at that date if it is ahead: nothing wakes the
		// case then. Readers show it due from then on (contract.CaseState.AsOf).
		at, from := w.now(), (*time.Time)(nil)
		if w.fewerActions() && v.Status == contract.VisitScheduled {
			due := v.DueAt
			from = &due
			if due.After(at) {
				at = due
			}
		}
		n := len(out)
		offer(contract.UpdateVisit, strconv.Itoa(v.Visit), func(a contract.Actor) error {
			return w.canReportVisitAt(contract.Action[contract.Visit]{Actor: a, Body: contract.Visit{Visit: v.Visit}}, at)
		})
		if len(out) > n {
			out[n].From = from
		}
	}
	probe(contract.UpdateWithdrawal, func(a contract.Actor) error {
		return w.canWithdraw(contract.Action[contract.Withdrawal]{Actor: a})
	})
	probe(contract.UpdateConsentWithdrawal, func(a contract.Actor) error {
		return w.canWithdrawConsent(contract.Action[contract.ConsentWithdrawal]{Actor: a})
	})
	probe(contract.UpdateTransfer, func(a contract.Actor) error {
		return w.canTransfer(contract.Action[contract.Transfer]{Actor: a})
	})
	return out
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func refuse(kind, format string, args ...any) error {
	return temporal.NewApplicationError(fmt.Sprintf(format, args...), kind)
}

// wellFormed refuses a body whose shape is wrong (the same check the API makes
// first), for the validators that decide on what the body says.
func wellFormed(errs []contract.FieldError) error {
	if len(errs) > 0 {
		return refuse(contract.RefusedInvalid, "%s", errs[0].Error())
	}
	return nil
}

// ofSendingOffice: only a person of the sending office (or of every office) may.
func (w *caseRun) ofSendingOffice(a contract.Actor, what string) error {
	if a.Office == w.in.SendingOffice || a.Office == "*" {
		return nil
	}
	return refuse(contract.RefusedForbidden, "only the sending office (%s) %s", w.in.SendingOffice, what)
}

func (w *caseRun) must(a contract.Actor, roles ...contract.Role) error {
	if !slices.Contains(roles, a.Role) {
		return refuse(contract.RefusedForbidden, "a %s may not do this", a.Role)
	}
	return nil
}

func (w *caseRun) inStage(stage contract.Stage, what string) error {
	if w.st.Stage != stage {
		return refuse(contract.RefusedWrongStage, "%s is not possible in stage %s", what, w.st.Stage)
	}
	return nil
}

// ofThisCase says whether an approver's office is one of the case's two offices.
func (w *caseRun) ofThisCase(a contract.Actor) error {
	if a.Office == "*" || a.Office == w.in.SendingOffice || a.Office == w.in.ReceivingOffice {
		return nil
	}
	return refuse(contract.RefusedForbidden, "only the sending or receiving office decides on this case")
}

// Counselling.

func (w *caseRun) canCounsel(a contract.Action[contract.Counselling]) error {
	if err := w.must(a.Actor, contract.RoleCaseworker); err != nil {
		return err
	}
	if w.st.Counselling != nil {
		return refuse(contract.RefusedDuplicate, "the counselling outcome is already recorded")
	}
	return w.inStage(contract.StageCounselling, "recording counselling")
}

func (w *caseRun) counselled(ctx workflow.Context, a contract.Action[contract.Counselling]) {
	w.st.Counselling = &contract.CounsellingState{Outcome: a.Body.Outcome, HeldAt: a.Body.HeldAt, By: a.Actor.User}
	w.recordText(ctx, "counselling", a.Actor, "Counselling held: "+a.Body.Outcome, a.Body.Notes)
}

// Screening and its clearance.

func (w *caseRun) canScreen(a contract.Action[contract.Screening]) error {
	if err := w.must(a.Actor, contract.RoleCaseworker); err != nil {
		return err
	}
	if w.st.Screening != nil {
		return refuse(contract.RefusedDuplicate, "the screening is already recorded")
	}
	return w.inStage(contract.StageScreening, "recording a screening")
}

func (w *caseRun) screened(ctx workflow.Context, a contract.Action[contract.Screening]) {
	w.st.Screening = &contract.ScreeningState{Risk: a.Body.Risk, Flags: a.Body.Flags, Mitigations: a.Body.Mitigations,
		ScreenedBy: a.Actor.User}
	w.record(ctx, "screening", a.Actor, "Vulnerability screening: risk "+a.Body.Risk)
}

func (w *caseRun) canClear(a contract.Action[contract.Clearance]) error {
	if err := w.must(a.Actor, contract.RoleApprover); err != nil {
		return err
	}
	sc := w.st.Screening
	switch {
	case sc == nil || sc.Risk != "high" || w.st.Stage != contract.StageScreening:
		return refuse(contract.RefusedWrongStage, "only a high-risk screening waits for clearance")
	case sc.Clearance != "":
		return refuse(contract.RefusedDuplicate, "the screening is already %s", sc.Clearance)
	case sc.ScreenedBy == a.Actor.User:
		return refuse(contract.RefusedForbidden, "nobody clears a screening they carried out")
	}
	return w.ofThisCase(a.Actor)
}

func (w *caseRun) cleared(ctx workflow.Context, a contract.Action[contract.Clearance]) {
	w.st.Screening.Clearance, w.st.Screening.ClearedBy = a.Body.Decision, a.Actor.User
	w.recordText(ctx, "clearance", a.Actor, "High-risk screening "+string(a.Body.Decision), a.Body.Comment)
}

// Departure.

func (w *caseRun) canDepart(a contract.Action[contract.Departure]) error {
	if err := w.must(a.Actor, contract.RoleCaseworker); err != nil {
		return err
	}
	if err := w.inStage(contract.StageTravel, "reporting a departure"); err != nil {
		return err
	}
	switch {
	case w.st.Travel == nil || w.st.Travel.BookingStatus != contract.BookingTicketed:
		return refuse(contract.RefusedWrongStage, "no flight is ticketed yet")
	case w.departure != nil:
		return refuse(contract.RefusedDuplicate, "the departure of this flight is already reported")
	}
	return nil
}

func (w *caseRun) departed(ctx workflow.Context, a contract.Action[contract.Departure]) {
	w.departure = &a.Body
	t := w.st.Travel
	if a.Body.NoShow {
		w.record(ctx, "no_show", a.Actor, "No-show for flight "+t.Flight)
		return
	}
	t.DepartedAt, t.Flight = a.Body.DepartedAt, a.Body.Flight
	w.record(ctx, "departed", a.Actor, "Departed on flight "+a.Body.Flight)
}

// The reintegration plan and the decisions on it.

func (w *caseRun) canSubmitPlan(a contract.Action[contract.Plan]) error {
	if err := w.must(a.Actor, contract.RoleCaseworker); err != nil {
		return err
	}
	if err := w.inStage(contract.StageReintegrationPlanning, "submitting a plan"); err != nil {
		return err
	}
	prog := w.rules.Programme
	var total money.Cents
	for i, it := range a.Body.Items {
		if it.Cost.Currency != prog.Currency {
			return refuse(contract.RefusedInvalid, "items[%d].cost.currency: the programme pays in %s", i, prog.Currency)
		}
		c, err := money.Parse(it.Cost.Amount)
		if err != nil {
			return refuse(contract.RefusedInvalid, "items[%d].cost.amount: %v", i, err)
		}
		total += c
	}
	// Above the cap the donor may decide, where the programme says so (version 6 on).
	if limit := prog.Cap(w.in.Adults, w.in.Minors); total > limit && (!w.checksMoney() || !prog.DonorApproval.AboveCap) {
		return refuse(contract.RefusedInvalid, "the plan's total %s %s exceeds the household's cap of %s %s",
			total, prog.Currency, limit, prog.Currency)
	}
	return nil
}

func (w *caseRun) planSubmitted(ctx workflow.Context, a contract.Action[contract.Plan]) {
	version := 1
	if w.st.Plan != nil {
		version = w.st.Plan.Version + 1
	}
	p := &contract.PlanState{Version: version, Status: contract.PlanSubmitted, SubmittedBy: a.Actor.User,
		SubmittedAt: workflow.Now(ctx).UTC(), Decisions: []contract.DecisionLog{}}
	var total money.Cents
	for i, it := range a.Body.Items {
		c, _ := money.Parse(it.Cost.Amount) // checked by the validator
		total += c
		p.Items = append(p.Items, contract.PlanItem{ID: fmt.Sprintf("p%d-%d", version, i+1), Dimension: it.Dimension,
			Kind: it.Kind, Description: it.Description, Cost: it.Cost})
	}
	p.Total = money.Of(total, w.rules.Programme.Currency)
	if w.checksMoney() {
		prog := w.rules.Programme
		kinds := make([]string, len(p.Items))
		for i, it := range p.Items {
			kinds[i] = it.Kind
		}
		p.DonorApprovalReason = prog.DonorApproval.Why(total, prog.Cap(w.in.Adults, w.in.Minors), prog.Currency, kinds)
	}
	w.st.Plan = p
	w.record(ctx, "plan_submitted", a.Actor, fmt.Sprintf("Plan v%d submitted: %d items, total %s %s",
		version, len(p.Items), p.Total.Amount, p.Total.Currency))
}

func (w *caseRun) needsSecondApproval(p *contract.PlanState) bool {
	total, _ := p.Total.Cents()
	return total > w.rules.Programme.SecondApprovalAbove
}

func (w *caseRun) canDecide(a contract.Action[contract.PlanDecision]) error {
	if err := w.must(a.Actor, contract.RoleApprover); err != nil {
		return err
	}
	p := w.st.Plan
	if w.st.Stage != contract.StagePlanApproval || p == nil || p.Status != contract.PlanSubmitted {
		return refuse(contract.RefusedWrongStage, "no plan is waiting for a decision")
	}
	if p.SubmittedBy == a.Actor.User {
		return refuse(contract.RefusedForbidden, "nobody approves a plan they submitted")
	}
	if err := w.ofThisCase(a.Actor); err != nil {
		return err
	}
	for _, d := range p.Decisions {
		if d.By == a.Actor.User {
			return refuse(contract.RefusedDuplicate, "you already decided on plan v%d", p.Version)
		}
	}
	if a.Body.Decision == contract.DecisionApprove && w.needsSecondApproval(p) && len(p.Decisions) == 1 &&
		p.Decisions[0].Office != w.in.SendingOffice && a.Actor.Office != w.in.SendingOffice && a.Actor.Office != "*" {
		return refuse(contract.RefusedForbidden, "the second approval of a plan above %s must come from the sending office",
			w.rules.Programme.SecondApprovalAbove)
	}
	return nil
}

func (w *caseRun) decided(ctx workflow.Context, a contract.Action[contract.PlanDecision]) {
	p := w.st.Plan
	p.Decisions = append(p.Decisions, contract.DecisionLog{PlanVersion: p.Version, Decision: a.Body.Decision,
		Comment: a.Body.Comment, By: a.Actor.User, Office: a.Actor.Office, At: workflow.Now(ctx).UTC()})
	switch a.Body.Decision {
	case contract.DecisionReject:
		p.Status = contract.PlanRejected
	case contract.DecisionRequestChanges:
		p.Status = contract.PlanChangesRequested
	case contract.DecisionApprove:
		if !w.needsSecondApproval(p) || len(p.Decisions) >= 2 {
			p.Status = contract.PlanApproved
			if p.DonorApprovalReason != "" { // version 6 on: the donor decides next
				p.Status = contract.PlanDonorApproval
			}
		}
	}
	w.recordText(ctx, "plan_decision", a.Actor, fmt.Sprintf("Plan v%d: %s", p.Version, a.Body.Decision), a.Body.Comment)
}

// The donor's decision on a plan that needs it (version 6 on; see awaitDonor).

// mayRecordDonorDecision says whether this person may record the donor's
// decision now: an approver of the sending office, while the plan waits for it.
func (w *caseRun) mayRecordDonorDecision(a contract.Actor) error {
	if err := w.must(a, contract.RoleApprover); err != nil {
		return err
	}
	p := w.st.Plan
	if w.st.Stage != contract.StagePlanApproval || p == nil || p.Status != contract.PlanDonorApproval {
		return refuse(contract.RefusedWrongStage, "no plan is waiting for the donor's decision")
	}
	return w.ofSendingOffice(a, "records the donor's decision")
}

func (w *caseRun) canRecordDonorDecision(a contract.Action[contract.DonorDecision]) error {
	if err := w.mayRecordDonorDecision(a.Actor); err != nil {
		return err
	}
	return wellFormed(a.Body.Validate(w.now()))
}

func (w *caseRun) donorDecided(ctx workflow.Context, a contract.Action[contract.DonorDecision]) {
	p, d := w.st.Plan, a.Body
	p.DonorDecision = &contract.DonorDecisionLog{PlanVersion: p.Version, Decision: d.Decision, DonorReference: d.DonorReference,
		DonorLetter: d.DonorLetter, Reason: d.Reason, By: a.Actor.User, Office: a.Actor.Office, At: workflow.Now(ctx).UTC()}
	p.Status = contract.PlanApproved
	summary := fmt.Sprintf("Plan v%d: the donor approved (reference %s)", p.Version, d.DonorReference)
	if d.Decision != contract.DecisionApprove {
		p.Status = contract.PlanDonorRefused
		summary = fmt.Sprintf("Plan v%d: the donor refused (reference %s); back to planning", p.Version, d.DonorReference)
	}
	w.recordText(ctx, "donor_decision", a.Actor, summary, d.Reason)
}

// Deliveries.

func (w *caseRun) canDeliver(a contract.Action[contract.Delivery]) error {
	if err := w.must(a.Actor, contract.RoleProcurement, contract.RoleCaseworker); err != nil {
		return err
	}
	if err := w.inStage(contract.StageProcurement, "recording a delivery"); err != nil {
		return err
	}
	i := slices.IndexFunc(w.st.Procurement, func(p contract.ProcurementItem) bool { return p.ItemID == a.Body.ItemID })
	switch {
	case i < 0:
		return refuse(contract.RefusedWrongStage, "plan item %q is not being procured", a.Body.ItemID)
	case w.st.Procurement[i].Delivery != nil:
		return refuse(contract.RefusedDuplicate, "item %s is already delivered", a.Body.ItemID)
	case w.st.Procurement[i].Status != contract.ItemOrdered:
		return refuse(contract.RefusedWrongStage, "item %s is %s, not awaiting delivery", a.Body.ItemID, w.st.Procurement[i].Status)
	}
	return nil
}

func (w *caseRun) delivered(ctx workflow.Context, a contract.Action[contract.Delivery]) {
	i := slices.IndexFunc(w.st.Procurement, func(p contract.ProcurementItem) bool { return p.ItemID == a.Body.ItemID })
	p := &w.st.Procurement[i]
	p.Delivery = &contract.Delivered{DeliveredAt: a.Body.DeliveredAt, HandoverCertificate: a.Body.HandoverCertificate,
		HandoverDocument: a.Body.HandoverDocument, RecordedBy: a.Actor.User}
	p.Status = contract.ItemDelivered
	w.record(ctx, "delivered", a.Actor, "Item "+p.ItemID+" delivered, handover certificate "+a.Body.HandoverCertificate)
}

// A price above the approved cost (version 4 on; see priceApproved).

func (w *caseRun) canDecidePrice(a contract.Action[contract.PriceDecision]) error {
	if err := w.must(a.Actor, contract.RoleApprover); err != nil {
		return err
	}
	i := slices.IndexFunc(w.st.Procurement, func(p contract.ProcurementItem) bool { return p.ItemID == a.Body.ItemID })
	if w.st.Stage != contract.StageProcurement || i < 0 || w.st.Procurement[i].Status != contract.ItemPriceApproval {
		return refuse(contract.RefusedWrongStage, "plan item %q has no price waiting for a decision", a.Body.ItemID)
	}
	if err := w.ofThisCase(a.Actor); err != nil {
		return err
	}
	// Paying more than was approved is the sending office's decision (it validates
	// payments), and someone else's than the plan's: not who submitted or decided it.
	if a.Actor.Office != w.in.SendingOffice && a.Actor.Office != "*" {
		return refuse(contract.RefusedForbidden, "a price above the approved cost is decided by an approver of the sending office")
	}
	if w.st.Plan.SubmittedBy == a.Actor.User || slices.ContainsFunc(w.st.Plan.Decisions, func(d contract.DecisionLog) bool {
		return d.By == a.Actor.User
	}) {
		return refuse(contract.RefusedForbidden, "a price above the approved cost is decided by an approver who did not submit or decide the plan")
	}
	if a.Body.Decision != contract.DecisionApprove {
		return nil
	}
	// The plan's cap still holds: the total with the prices approved so far.
	var total money.Cents
	for j, it := range w.st.Plan.Items {
		c, _ := money.Parse(it.Cost.Amount)
		if p := w.st.Procurement[j]; j == i || (p.PriceDecision != nil && p.PriceDecision.Decision == contract.DecisionApprove) {
			c = w.chosenPrice(p)
		}
		total += c
	}
	if limit := w.rules.Programme.Cap(w.in.Adults, w.in.Minors); total > limit {
		return refuse(contract.RefusedInvalid, "at this price the plan's total %s %s exceeds the household's cap of %s %s",
			total, w.rules.Programme.Currency, limit, w.rules.Programme.Currency)
	}
	// At this price, the purchase needs as many quotes as any purchase of it.
	p := w.st.Procurement[i]
	if want, got := w.rules.Programme.QuotesRequired(w.chosenPrice(p)), compliantQuotes(p); got < want {
		return refuse(contract.RefusedInvalid, "at this price the purchase needs %d compliant quotes and has %d: reject it", want, got)
	}
	return nil
}

// compliantQuotes counts an item's compliant quotes.
func compliantQuotes(p contract.ProcurementItem) int {
	n := 0
	for _, q := range p.Quotes {
		if q.Compliant {
			n++
		}
	}
	return n
}

// chosenPrice is the price of an item's chosen quote.
func (w *caseRun) chosenPrice(p contract.ProcurementItem) money.Cents {
	for _, q := range p.Quotes {
		if q.Supplier == p.ChosenSupplier {
			c, _ := q.Price.Cents()
			return c
		}
	}
	return 0
}

func (w *caseRun) priceDecided(ctx workflow.Context, a contract.Action[contract.PriceDecision]) {
	i := slices.IndexFunc(w.st.Procurement, func(p contract.ProcurementItem) bool { return p.ItemID == a.Body.ItemID })
	p := &w.st.Procurement[i]
	p.PriceDecision = &contract.DecisionLog{PlanVersion: w.st.Plan.Version, Decision: a.Body.Decision, Comment: a.Body.Comment,
		By: a.Actor.User, Office: a.Actor.Office, At: workflow.Now(ctx).UTC()}
	w.recordText(ctx, "price_decision", a.Actor, fmt.Sprintf("Item %s: price above the approved cost: %s", p.ItemID, a.Body.Decision),
		a.Body.Comment)
}

// Payments validated by the sending office (version 6 on; see paymentValidated).

// mayValidatePayment says whether this person may decide on the item's payment
// now: an approver of the sending office, not who recorded its delivery, while
// the payment waits for a validation (or was refused and waits for a new one).
func (w *caseRun) mayValidatePayment(a contract.Actor, itemID string) error {
	if err := w.must(a, contract.RoleApprover); err != nil {
		return err
	}
	i := slices.IndexFunc(w.st.Procurement, func(p contract.ProcurementItem) bool { return p.ItemID == itemID })
	if w.st.Stage != contract.StageProcurement || i < 0 ||
		(w.st.Procurement[i].Status != contract.ItemPaymentValidation && w.st.Procurement[i].Status != contract.ItemPaymentRefused) {
		return refuse(contract.RefusedWrongStage, "plan item %q has no payment waiting for a validation", itemID)
	}
	if err := w.ofSendingOffice(a, "validates payments"); err != nil {
		return err
	}
	if d := w.st.Procurement[i].Delivery; d != nil && a.User != "" && d.RecordedBy == a.User {
		return refuse(contract.RefusedForbidden, "nobody validates the payment of a delivery they recorded")
	}
	return nil
}

func (w *caseRun) canValidatePayment(a contract.Action[contract.PaymentValidation]) error {
	if err := w.mayValidatePayment(a.Actor, a.Body.ItemID); err != nil {
		return err
	}
	return wellFormed(a.Body.Validate(w.now()))
}

func (w *caseRun) paymentValidation(ctx workflow.Context, a contract.Action[contract.PaymentValidation]) {
	i := slices.IndexFunc(w.st.Procurement, func(p contract.ProcurementItem) bool { return p.ItemID == a.Body.ItemID })
	p := &w.st.Procurement[i]
	p.PaymentValidation = &contract.DecisionLog{PlanVersion: w.st.Plan.Version, Decision: a.Body.Decision, Comment: a.Body.Reason,
		By: a.Actor.User, Office: a.Actor.Office, At: workflow.Now(ctx).UTC()}
	if a.Body.Decision == contract.DecisionValidate {
		p.Status = contract.ItemPaymentValidated
		w.record(ctx, "payment_validation", a.Actor, fmt.Sprintf("Item %s: payment validated by the sending office", p.ItemID))
		return
	}
	p.Status = contract.ItemPaymentRefused
	w.recordText(ctx, "payment_validation", a.Actor, fmt.Sprintf("Item %s: payment refused by the sending office; it waits for a new validation",
		p.ItemID), a.Body.Reason)
}

// Monitoring visits.

func (w *caseRun) canReportVisit(a contract.Action[contract.Visit]) error {
	return w.canReportVisitAt(a, w.now())
}

// canReportVisitAt says whether the visit may be reported at the time at. From
// version 5 a visit is not woken for at its due date: it may be reported from
// then on, while it is the visit the case waits for.
func (w *caseRun) canReportVisitAt(a contract.Action[contract.Visit], at time.Time) error {
	if err := w.must(a.Actor, contract.RoleCaseworker); err != nil {
		return err
	}
	if err := w.inStage(contract.StageMonitoring, "reporting a monitoring visit"); err != nil {
		return err
	}
	n := a.Body.Visit
	if n < 1 || n > len(w.st.Monitoring) {
		return refuse(contract.RefusedInvalid, "visit: this case has visits 1 to %d", len(w.st.Monitoring))
	}
	v := w.st.Monitoring[n-1]
	if w.fewerActions() && v.Status == contract.VisitScheduled {
		if current := w.currentVisit(); current != n {
			return refuse(contract.RefusedWrongStage, "visit %d comes after visit %d", n, current)
		}
		if at.Before(v.DueAt) {
			return refuse(contract.RefusedWrongStage, "visit %d is due from %s", n, v.DueAt.UTC().Format(time.RFC3339))
		}
		return nil
	}
	switch v.Status {
	case contract.VisitDue:
		return nil
	case contract.VisitDone:
		return refuse(contract.RefusedDuplicate, "visit %d is already reported", n)
	default:
		return refuse(contract.RefusedWrongStage, "visit %d is %s, not due", n, v.Status)
	}
}

func (w *caseRun) visited(ctx workflow.Context, a contract.Action[contract.Visit]) {
	v := &w.st.Monitoring[a.Body.Visit-1]
	composite := a.Body.Scores.Composite()
	v.Status, v.VisitedAt, v.Scores, v.Composite, v.Referrals = contract.VisitDone, &a.Body.VisitedAt, &a.Body.Scores, &composite, a.Body.Referrals
	w.recordText(ctx, "visit", a.Actor, fmt.Sprintf("Monitoring visit %d: composite %.2f", v.Visit, composite), a.Body.Notes)
}

// currentVisit is the number of the first visit neither done nor missed (0: none).
func (w *caseRun) currentVisit() int {
	for _, v := range w.st.Monitoring {
		if v.Status != contract.VisitDone && v.Status != contract.VisitMissed {
			return v.Visit
		}
	}
	return 0
}

// now is the workflow's clock, for validators that depend on time (version 5 on;
// a validator runs only when its update comes, never on replay).
func (w *caseRun) now() time.Time {
	if w.root == nil {
		return time.Time{}
	}
	return workflow.Now(w.root)
}

// Withdrawal (or death, or lost contact): always allowed before closure.

func (w *caseRun) canWithdraw(a contract.Action[contract.Withdrawal]) error {
	if err := w.must(a.Actor, contract.RoleCaseworker); err != nil {
		return err
	}
	if w.withdrawal != nil {
		return refuse(contract.RefusedDuplicate, "the case is already being closed")
	}
	return nil
}

func (w *caseRun) withdrawn(ctx workflow.Context, a contract.Action[contract.Withdrawal]) {
	w.withdrawal = &a
	w.cancelProcess()
	// Answer with the closed case: the compensation runs first.
	_ = workflow.Await(ctx, func() bool { return w.st.Status == contract.StatusClosed })
}

// Consent withdrawn: the case closes for processing as a withdrawal does (what was
// booked is released, nothing more is paid), with the reason recorded. It is
// taken while another withdrawal closes the case too: the consent still counts.
// Registering the update changes no history of a case that never receives it.

func (w *caseRun) canWithdrawConsent(a contract.Action[contract.ConsentWithdrawal]) error {
	if err := w.must(a.Actor, contract.RoleCaseworker); err != nil {
		return err
	}
	if err := w.ofThisCase(a.Actor); err != nil {
		return err
	}
	if w.st.ConsentWithdrawnAt != nil {
		return refuse(contract.RefusedDuplicate, "consent was already withdrawn")
	}
	return nil
}

func (w *caseRun) consentWithdrawn(ctx workflow.Context, a contract.Action[contract.ConsentWithdrawal]) {
	at := a.Body.WithdrawnAt.UTC()
	w.st.ConsentWithdrawnAt = &at
	if w.withdrawal == nil {
		w.withdrawal = &contract.Action[contract.Withdrawal]{Actor: a.Actor, RequestID: a.RequestID,
			Body: contract.Withdrawal{Reason: string(contract.ClosedWithdrawn), Comment: contract.ConsentClosure}}
		w.cancelProcess()
	}
	// Answer with the closed case: the compensation runs first.
	_ = workflow.Await(ctx, func() bool { return w.st.Status == contract.StatusClosed })
}
