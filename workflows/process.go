package workflows

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/money"
	"github.com/homeward/homeward/partners"
)

// process is the return, stage by stage, as DOMAIN.md tells it. A stage returns a
// closure to end the case early. The follow-up year runs in a fresh history
// (continue-as-new), so a case that lives a year keeps a small history.
func (w *caseRun) process(ctx workflow.Context) error {
	if w.in.Resumed != nil { // the follow-up year, after continue-as-new
		return w.monitor(ctx)
	}
	for _, stage := range []func(workflow.Context) error{
		w.intake, w.counsel, w.screen, w.clearMedically, w.travel, w.arrive, w.planUntilApproved, w.procure,
	} {
		if err := stage(ctx); err != nil {
			return err
		}
	}
	return w.continueIntoMonitoring(ctx)
}

// 0. Intake: the API registered the case (data-quality checks passed); the
// registry gets its record and counselling can be planned.
func (w *caseRun) intake(ctx workflow.Context) error {
	w.record(ctx, "registered", w.in.RegisteredBy, "Case registered")
	return w.tellRegistry(ctx)
}

// 1. Counselling: the migrant confirms the return is voluntary and informed, or withdraws.
func (w *caseRun) counsel(ctx workflow.Context) error {
	w.enter(ctx, contract.StageCounselling, contract.WaitingCaseworker, w.dueIn(ctx, w.rules.SLA.Counselling),
		"Hold pre-departure counselling and record its outcome (confirmed or withdrawn).")
	if err := w.wait(ctx, "counselling", func() bool { return w.st.Counselling != nil }); err != nil {
		return err
	}
	if w.st.Counselling.Outcome == "withdrawn" {
		return closure{contract.ClosedWithdrawn, contract.Actor{User: w.st.Counselling.By, Role: contract.RoleCaseworker},
			"The migrant withdrew at counselling"}
	}
	return nil
}

// 2. Screening: rapid vulnerability screening; high risk waits for a supervisor's
// clearance; then the receiving office confirms eligibility and the assistance level.
func (w *caseRun) screen(ctx workflow.Context) error {
	w.enter(ctx, contract.StageScreening, contract.WaitingCaseworker, w.dueIn(ctx, w.rules.SLA.Screening),
		"Carry out the rapid vulnerability screening: risk, flags and mitigating measures.")
	if err := w.wait(ctx, "screening", func() bool { return w.st.Screening != nil }); err != nil {
		return err
	}
	sc := w.st.Screening
	if sc.Risk == "high" {
		w.notify(ctx, "supervisor", "severe_screening", "A high-risk screening needs a supervisor's clearance.")
		w.enter(ctx, contract.StageScreening, contract.WaitingApprover, w.dueIn(ctx, w.rules.SLA.Clearance),
			"High risk: a supervisor (approver, not the screener) clears the return or stops it.")
		if err := w.wait(ctx, "clearance", func() bool { return sc.Clearance != "" }); err != nil {
			return err
		}
		if sc.Clearance == contract.DecisionNotCleared {
			return closure{contract.ClosedIneligible, contract.Actor{User: sc.ClearedBy, Role: contract.RoleApprover},
				"High-risk return not cleared"}
		}
	}
	var elig partners.Eligibility
	if err := w.call(ctx, "Confirm eligibility with the receiving office", acts.ConfirmEligibility, &elig, w.key("eligibility"),
		partners.EligibilityRequest{CaseID: w.in.CaseID, Reference: w.in.Reference, Programme: w.rules.Programme.Name,
			CountryOfReturn: w.in.CountryOfReturn, ReceivingOffice: w.in.ReceivingOffice, Adults: w.in.Adults,
			Minors: w.in.Minors, Vulnerable: w.in.Vulnerable}); err != nil {
		return err
	}
	sc.Eligible, sc.AssistanceLevel = &elig.Eligible, elig.AssistanceLevel
	if !elig.Eligible {
		return closure{contract.ClosedIneligible, systemActor, "Not eligible: " + elig.Reason}
	}
	w.record(ctx, "eligibility", systemActor, "Eligibility confirmed by the receiving office, level "+elig.AssistanceLevel)
	return nil
}

// 3. Medical clearance: ask for a fit-to-travel assessment and wait for the result,
// reassessing after the period the provider gives for a temporary unfitness.
func (w *caseRun) clearMedically(ctx workflow.Context) error {
	if w.st.Medical == nil {
		w.st.Medical = &contract.MedicalState{}
	}
	m := w.st.Medical
	for {
		m.Requests++
		w.enter(ctx, contract.StageMedicalClearance, contract.WaitingMedicalProvider, w.dueIn(ctx, w.rules.SLA.MedicalClearance),
			"Waiting for the medical provider's fit-to-travel result.")
		var accepted partners.AssessmentAccepted
		step := fmt.Sprintf("medical/%d", m.Requests)
		if err := w.call(ctx, "Request fit-to-travel assessment", acts.RequestMedicalAssessment, &accepted,
			w.key(step), partners.AssessmentRequest{CaseID: w.in.CaseID,
				Reference: w.in.Reference, RequestNo: m.Requests, EscortConsidered: w.in.HealthNeeds}); err != nil {
			return err
		}
		w.charged(ctx, contract.FeeMedical, contract.ServiceAssessment, step, accepted.AssessmentID, accepted.Fee)
		if err := w.wait(ctx, "medical result", func() bool { return len(w.pendingMedical) > 0 }); err != nil {
			return err
		}
		fact := w.pendingMedical[0]
		w.pendingMedical = w.pendingMedical[1:]
		w.medicalAnswered = m.Requests
		r := fact.Body
		m.Result, m.AssessedAt, m.ValidUntil = r.Result, &r.AssessedAt, r.ValidUntil
		w.record(ctx, "medical", reporter(fact.Actor, "medical-provider"), "Medical result: "+r.Result)
		switch r.Result {
		case contract.MedicalFit:
			return nil
		case contract.MedicalFitWithEscort:
			m.Escort = true
			return nil
		case contract.MedicalUnfit:
			return closure{contract.ClosedNotFit, systemActor, "Not fit to travel"}
		case contract.MedicalUnfitTemporary:
			wait := time.Duration(r.ReassessAfterDays) * 24 * time.Hour
			w.enter(ctx, contract.StageMedicalClearance, contract.WaitingMedicalProvider, w.dueIn(ctx, wait+w.rules.SLA.MedicalClearance),
				fmt.Sprintf("Temporarily unfit: a new assessment is requested in %d days.", r.ReassessAfterDays))
			if err := w.sleep(ctx, wait, "Reassess fitness to travel"); err != nil {
				return err
			}
		}
	}
}

// 4. Travel: hold a flight, make sure the medical clearance still covers it, ticket,
// tell the receiving office, and wait for the departure; a no-show rebooks.
func (w *caseRun) travel(ctx workflow.Context) error {
	if w.st.Travel == nil {
		w.st.Travel = &contract.TravelState{}
	}
	t, m := w.st.Travel, w.st.Medical
	for {
		t.Attempt++
		// A departure can be reported as soon as the flight is ticketed, even while
		// the pre-arrival notice is still going out; a new attempt starts afresh.
		w.departure = nil
		w.enter(ctx, contract.StageTravel, contract.WaitingCaseworker, w.dueIn(ctx, w.rules.SLA.Travel),
			"Travel is being booked; then confirm the departure or report a no-show.")
		var b partners.Booking
		if err := w.call(ctx, "Hold a flight", acts.HoldFlight, &b, w.key(fmt.Sprintf("travel/%d/hold", t.Attempt)),
			partners.BookingRequest{CaseID: w.in.CaseID, Reference: w.in.Reference, Attempt: t.Attempt,
				FromCountry: w.in.HostCountry, ToCountry: w.in.CountryOfReturn, Passengers: w.in.Adults + w.in.Minors,
				Escort: m.Escort, NotBefore: workflow.Now(ctx).UTC()}); err != nil {
			return err
		}
		t.BookingRef, t.BookingStatus, t.Flight, t.DepartureAt = b.BookingRef, contract.BookingHeld, b.Flight, &b.DepartureAt
		w.record(ctx, "booking_held", systemActor, "Flight "+b.Flight+" held")

		// A clearance expires: an airline wants a certificate valid at departure.
		if m.ValidUntil != nil && m.ValidUntil.Before(b.DepartureAt) {
			w.record(ctx, "clearance_expires", systemActor, "Medical clearance expires before the flight: reassessing")
			if err := w.clearMedically(ctx); err != nil {
				return err
			}
			w.enter(ctx, contract.StageTravel, contract.WaitingCaseworker, w.dueIn(ctx, w.rules.SLA.Travel),
				"Travel is being ticketed; then confirm the departure or report a no-show.")
		}
		if m.Escort && t.EscortStatus != contract.EscortBooked {
			var e partners.Escort
			step := fmt.Sprintf("travel/%d/escort", t.Attempt)
			if err := w.call(ctx, "Book an escort", acts.BookEscort, &e, w.key(step),
				partners.EscortRequest{CaseID: w.in.CaseID, BookingRef: t.BookingRef}); err != nil {
				return err
			}
			t.EscortRef, t.EscortStatus = e.EscortRef, contract.EscortBooked
			w.record(ctx, "escort_booked", systemActor, "Escort booked")
			w.charged(ctx, contract.FeeEscort, contract.ServiceEscort, step, e.EscortRef, e.Fee)
		}
		step := fmt.Sprintf("travel/%d/ticket", t.Attempt)
		if err := w.call(ctx, "Ticket the flight", acts.TicketFlight, &b, w.key(step), t.BookingRef); err != nil {
			return err
		}
		t.BookingStatus = contract.BookingTicketed
		w.record(ctx, "ticketed", systemActor, "Flight "+t.Flight+" ticketed")
		w.charged(ctx, contract.FeeTravel, contract.ServiceTicketing, step, t.BookingRef, b.Fee)
		var notice partners.NoticeAccepted
		if err := w.call(ctx, "Send the pre-arrival notice", acts.SendPreArrivalNotice, &notice,
			w.key(fmt.Sprintf("travel/%d/notice", t.Attempt)), partners.PreArrivalNotice{CaseID: w.in.CaseID,
				Reference: w.in.Reference, ReceivingOffice: w.in.ReceivingOffice, BookingRef: t.BookingRef, Flight: t.Flight,
				DepartureAt: *t.DepartureAt, Escort: m.Escort, HealthNeeds: w.healthNeeds()}); err != nil {
			return err
		}
		t.PreArrivalSent = true
		if w.recordsFees() {
			t.NoticeID, t.NoticeWithdrawn = notice.NoticeID, false
		}
		w.record(ctx, "pre_arrival_notice", systemActor, "Pre-arrival notice sent to the receiving office")

		if err := w.wait(ctx, "departure", func() bool { return w.departure != nil }); err != nil {
			return err
		}
		if !w.departure.NoShow {
			return nil
		}
		t.NoShows++
		t.BookingStatus = contract.BookingNoShow // the ticket is forfeited, never cancelled
		if t.NoShows > w.rules.MaxRebookings {
			w.cancelEscort(ctx)
			return closure{contract.ClosedNoShow, systemActor, fmt.Sprintf("No-show %d times", t.NoShows)}
		}
		if t.EscortStatus == contract.EscortBooked {
			w.cancelEscort(ctx) // the escort goes with the flight: rebooked with the next one
		}
	}
}

// 5. Arrival: the receiving office confirms the reception; health cases get
// post-arrival medical assistance.
func (w *caseRun) arrive(ctx workflow.Context) error {
	w.enter(ctx, contract.StageArrival, contract.WaitingReceivingOffice, w.dueIn(ctx, w.rules.SLA.Arrival),
		"The receiving office confirms the reception at arrival.")
	if err := w.wait(ctx, "arrival", func() bool { return len(w.pendingArrival) > 0 }); err != nil {
		return err
	}
	fact := w.pendingArrival[0]
	w.pendingArrival = w.pendingArrival[1:]
	a := fact.Body
	w.st.Arrival = &contract.ArrivalState{ArrivedAt: a.ArrivedAt, ReceivedBy: a.ReceivedBy}
	w.record(ctx, "arrived", reporter(fact.Actor, "receiving-office"), "Arrival confirmed")
	if w.healthNeeds() {
		if err := w.call(ctx, "Open post-arrival medical assistance", acts.OpenPostArrivalMedical, nil, w.key("pama"),
			partners.PostArrivalAssistanceRequest{CaseID: w.in.CaseID, Reference: w.in.Reference,
				CountryOfReturn: w.in.CountryOfReturn, ArrivedAt: a.ArrivedAt}); err != nil {
			return err
		}
		w.st.Medical.PAMAOpened = true
		w.record(ctx, "pama_opened", systemActor, "Post-arrival medical assistance opened")
	}
	return nil
}

// 6-7. Reintegration planning and plan approval: the caseworker submits a plan,
// approvers decide; a rejection or a request for changes sends it back to planning.
func (w *caseRun) planUntilApproved(ctx workflow.Context) error {
	// The plan is due within the SLA after arrival (one month in the Handbook).
	due := w.st.Arrival.ArrivedAt.Add(w.rules.SLA.ReintegrationPlanning)
	for {
		w.enter(ctx, contract.StageReintegrationPlanning, contract.WaitingCaseworker, &due,
			"Counsel the returnee and submit the integrated reintegration plan.")
		if err := w.wait(ctx, "reintegration plan", func() bool {
			return w.st.Plan != nil && w.st.Plan.Status == contract.PlanSubmitted
		}); err != nil {
			return err
		}
		p := w.st.Plan
		w.enter(ctx, contract.StagePlanApproval, contract.WaitingApprover, w.dueIn(ctx, w.rules.SLA.PlanApproval),
			fmt.Sprintf("An approver who did not submit it decides on plan v%d (total %s %s)%s.", p.Version,
				p.Total.Amount, p.Total.Currency, w.secondApprovalNote(p)))
		if err := w.wait(ctx, "plan approval", func() bool { return p.Status != contract.PlanSubmitted }); err != nil {
			return err
		}
		if p.Status == contract.PlanDonorApproval { // version 6 on: the approvers approved, the donor decides
			if err := w.awaitDonor(ctx, p); err != nil {
				return err
			}
		}
		if p.Status == contract.PlanApproved {
			return nil
		}
		due = w.dueIn(ctx, w.rules.SLA.ReintegrationPlanning).UTC()
	}
}

// awaitDonor waits for the donor's decision on an approved plan that the
// programme's rules send to the donor, within its own SLA (version 6 on): an
// approver of the sending office records it with the donor's reference.
func (w *caseRun) awaitDonor(ctx workflow.Context, p *contract.PlanState) error {
	w.enter(ctx, contract.StagePlanApproval, contract.WaitingApprover, w.dueIn(ctx, w.rules.SLA.DonorDecision),
		fmt.Sprintf("The donor decides on plan v%d (%s): an approver of the sending office (%s) records the donor's decision with its reference.",
			p.Version, p.DonorApprovalReason, w.in.SendingOffice))
	return w.wait(ctx, "donor decision", func() bool { return p.Status != contract.PlanDonorApproval })
}

func (w *caseRun) secondApprovalNote(p *contract.PlanState) string {
	if !w.needsSecondApproval(p) {
		return ""
	}
	return "; above " + w.rules.Programme.SecondApprovalAbove.String() + " a second approver from the sending office too"
}

// 8. Procurement: every plan item is procured at once, each in its own coroutine:
// quotes, purchase order, delivery with handover certificate, then one payment.
func (w *caseRun) procure(ctx workflow.Context) error {
	items := w.st.Plan.Items
	w.st.Procurement = make([]contract.ProcurementItem, len(items))
	for i, it := range items {
		w.st.Procurement[i] = contract.ProcurementItem{ItemID: it.ID, Kind: it.Kind, Status: contract.ItemPending}
	}
	w.enter(ctx, contract.StageProcurement, contract.WaitingProcurement, w.dueIn(ctx, w.rules.SLA.Procurement),
		"Procurement: quotes and purchase orders go out; record each delivery with the signed handover certificate.")
	errs := make([]error, len(items))
	done := 0
	for i := range items {
		workflow.Go(ctx, func(ctx workflow.Context) {
			errs[i] = w.procureItem(ctx, i)
			done++
		})
	}
	if err := w.wait(ctx, "procurement", func() bool { return done == len(items) }); err != nil {
		if w.finishesInFlightCalls() {
			// Withdrawn: the items' calls under way end first, so the closure
			// sees every payment made.
			_ = workflow.Await(disconnected(ctx), func() bool { return done == len(items) })
		}
		return err
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (w *caseRun) procureItem(ctx workflow.Context, i int) error {
	it, p := w.st.Plan.Items[i], &w.st.Procurement[i]
	cost, _ := money.Parse(it.Cost.Amount) // validated when the plan was accepted
	switch it.Kind {
	case contract.KindCash:
		return w.pay(ctx, p, "beneficiary", "beneficiary", it.Cost, "Cash grant: "+it.Dimension)
	case contract.KindService:
		return w.pay(ctx, p, "supplier", "service-provider", it.Cost, "Service: "+it.Dimension)
	case contract.KindReferral:
		if err := w.call(ctx, "Refer to a specialised service", acts.Refer, nil, w.key("referral/"+it.ID),
			partners.ReferralRequest{CaseID: w.in.CaseID, Service: it.Description}); err != nil {
			return err
		}
		p.Status = contract.ItemReferred
		w.record(ctx, "referred", systemActor, "Item "+it.ID+" referred")
		return nil
	}

	// In kind: enough compliant quotes, the lowest chosen, an order, a delivery.
	want := w.rules.Programme.QuotesRequired(cost)
	p.Status = contract.ItemQuoting
	for round := 1; ; round++ {
		var q partners.Quotes
		if err := w.call(ctx, "Request quotes for "+it.ID, acts.RequestQuotes, &q, w.key(fmt.Sprintf("quotes/%s/%d", it.ID, round)),
			partners.QuoteRequest{CaseID: w.in.CaseID, ItemID: it.ID, Description: it.Description, Budget: it.Cost,
				QuotesWanted: want}); err != nil {
			return err
		}
		p.Quotes = q.Quotes
		currency := "" // before version 4, any
		if w.tiesFacts() {
			currency = w.rules.Programme.Currency
			w.refuseForeignQuotes(ctx, it.ID, q.Quotes)
		}
		if best, ok := lowestCompliant(q.Quotes, want, currency); ok {
			p.ChosenSupplier = best.Supplier
			break
		}
		w.record(ctx, "quotes_short", systemActor, fmt.Sprintf("Item %s: fewer than %d compliant quotes; asking again", it.ID, want))
		if err := w.sleep(ctx, 24*time.Hour, "Ask suppliers again for "+it.ID); err != nil {
			return err
		}
	}
	chosen := p.Quotes[slices.IndexFunc(p.Quotes, func(q contract.Quote) bool { return q.Supplier == p.ChosenSupplier })]
	if w.tiesFacts() {
		if approved, err := w.priceApproved(ctx, i, chosen); err != nil || !approved {
			return err
		}
	}
	var order partners.PurchaseOrder
	if err := w.call(ctx, "Issue the purchase order for "+it.ID, acts.IssuePurchaseOrder, &order, w.key("po/"+it.ID),
		partners.PurchaseOrderRequest{CaseID: w.in.CaseID, ItemID: it.ID, Supplier: chosen.Supplier, Price: chosen.Price}); err != nil {
		return err
	}
	po := order.PurchaseOrder
	p.PurchaseOrder, p.Status = po, contract.ItemOrdered
	w.record(ctx, "ordered", systemActor, fmt.Sprintf("Item %s ordered from %s", it.ID, chosen.Supplier))
	if err := workflow.Await(ctx, func() bool { return p.Delivery != nil }); err != nil {
		return err
	}
	if err := w.settled(ctx); err != nil {
		return err
	}
	return w.pay(ctx, p, "supplier", chosen.Supplier, chosen.Price, "Purchase order "+po)
}

// refuseForeignQuotes records the quotes in another currency than the programme
// pays in: they are not compared, whatever their amount (version 4 on).
func (w *caseRun) refuseForeignQuotes(ctx workflow.Context, itemID string, quotes []contract.Quote) {
	n := 0
	for _, q := range quotes {
		if q.Price.Currency != w.rules.Programme.Currency {
			n++
		}
	}
	if n > 0 {
		w.record(ctx, "quotes_refused", systemActor, fmt.Sprintf("Item %s: %d quotes refused: not in %s, the programme's currency",
			itemID, n, w.rules.Programme.Currency))
	}
}

// priceApproved holds the order of an in-kind item whose chosen quote is above
// the approved cost until an approver decides (version 4 on): approved, the item
// is ordered at that price; rejected, it is not bought (false). A quote at or
// below the approved cost goes on at once.
func (w *caseRun) priceApproved(ctx workflow.Context, i int, chosen contract.Quote) (bool, error) {
	it, p := w.st.Plan.Items[i], &w.st.Procurement[i]
	price, _ := chosen.Price.Cents()
	approved, _ := money.Parse(it.Cost.Amount)
	if price <= approved {
		return true, nil
	}
	p.Status = contract.ItemPriceApproval
	w.approverAwaited(ctx)
	w.record(ctx, "quote_above_cost", systemActor, fmt.Sprintf("Item %s: the lowest compliant quote (%s %s) is above the approved cost (%s %s): an approver decides",
		it.ID, chosen.Price.Amount, chosen.Price.Currency, it.Cost.Amount, it.Cost.Currency))
	w.notify(ctx, "supervisor", partners.NotifyPriceApproval, fmt.Sprintf("Case %s: item %s is quoted above its approved cost; approve the price or reject it.",
		w.in.Reference, it.ID))
	err := workflow.Await(ctx, func() bool { return p.PriceDecision != nil })
	w.approverAnswered(ctx)
	if err != nil {
		return false, err
	}
	if err := w.settled(ctx); err != nil {
		return false, err
	}
	if p.PriceDecision.Decision != contract.DecisionApprove {
		p.Status = contract.ItemCancelled
		return false, nil
	}
	p.Status = contract.ItemQuoting
	return true, nil
}

// approverAwaited: an item of the procurement waits for an approver (a price,
// a payment to validate); the case waits on the approvers while one does.
func (w *caseRun) approverAwaited(ctx workflow.Context) {
	w.awaitingApprover++
	if w.st.WaitingOn == contract.WaitingProcurement {
		w.st.WaitingOn = contract.WaitingApprover
		w.show(ctx)
	}
}

// approverAnswered: the item no longer waits for an approver; when none does,
// the case waits on procurement again.
func (w *caseRun) approverAnswered(ctx workflow.Context) {
	w.awaitingApprover--
	if w.awaitingApprover == 0 && w.st.WaitingOn == contract.WaitingApprover {
		w.st.WaitingOn = contract.WaitingProcurement
		w.show(ctx)
	}
}

// paymentValidated holds a payment above the programme's threshold until an
// approver of the sending office validates it (version 6 on). A refusal leaves
// the item payment_refused with the reason, waiting for a new validation once
// the reason is addressed; a withdrawal meanwhile pays nothing.
func (w *caseRun) paymentValidated(ctx workflow.Context, p *contract.ProcurementItem, amount money.Money) error {
	cents, _ := amount.Cents()
	if !w.checksMoney() || !w.rules.Programme.PaymentNeedsValidation(cents) {
		return nil
	}
	p.Status = contract.ItemPaymentValidation
	w.approverAwaited(ctx)
	w.record(ctx, "payment_held", systemActor, fmt.Sprintf("Item %s: the payment of %s %s waits for the sending office's validation (above %s %s)",
		p.ItemID, amount.Amount, amount.Currency, *w.rules.Programme.PaymentValidationAbove, w.rules.Programme.Currency))
	err := workflow.Await(ctx, func() bool {
		return p.PaymentValidation != nil && p.PaymentValidation.Decision == contract.DecisionValidate
	})
	w.approverAnswered(ctx)
	if err != nil {
		return err
	}
	return w.settled(ctx)
}

// lowestCompliant picks the cheapest compliant quote, if there are enough of them;
// with a currency, quotes in another are not compliant.
func lowestCompliant(quotes []contract.Quote, want int, currency string) (contract.Quote, bool) {
	var best contract.Quote
	var bestCents money.Cents
	n := 0
	for _, q := range quotes {
		c, err := q.Price.Cents()
		if !q.Compliant || err != nil || (currency != "" && q.Price.Currency != currency) {
			continue
		}
		if n == 0 || c < bestCents {
			best, bestCents = q, c
		}
		n++
	}
	return best, n >= want
}

// pay pays once: the key is the item's, so a retried or replayed payment is the same payment.
func (w *caseRun) pay(ctx workflow.Context, p *contract.ProcurementItem, kind, payee string, amount money.Money, purpose string) error {
	if err := w.paymentValidated(ctx, p, amount); err != nil {
		return err
	}
	var paid partners.Payment
	if err := w.call(ctx, "Pay "+p.ItemID, acts.Pay, &paid, w.key("pay/"+p.ItemID), partners.PaymentRequest{
		CaseID: w.in.CaseID, ItemID: p.ItemID, PayeeKind: kind, Payee: payee, Amount: amount, Purpose: purpose,
	}); err != nil {
		return err
	}
	p.Payment = &contract.PaymentInfo{PaymentID: paid.PaymentID, Amount: amount, Payee: payee, PaidAt: paid.PaidAt}
	p.Status = contract.ItemPaid
	w.record(ctx, "paid", systemActor, fmt.Sprintf("Item %s paid: %s %s", p.ItemID, amount.Amount, amount.Currency))
	return nil
}

// continueIntoMonitoring starts the follow-up year in a fresh history, carrying the
// state and any partner fact not yet used.
func (w *caseRun) continueIntoMonitoring(ctx workflow.Context) error {
	if err := w.settled(ctx); err != nil {
		return err
	}
	w.notificationsSent(ctx)
	// The case file has the first run's last step before the check below: a
	// withdrawal that comes while a slow write holds this run open closes the case.
	_ = w.writtenUpTo(ctx, w.st.Seq)
	if w.finishesInFlightCalls() && ctx.Err() != nil {
		return ctx.Err() // withdrawn meanwhile: the case closes here
	}
	w.drainFacts(ctx)
	next := w.in
	next.Resumed = &contract.Resume{State: w.st, PendingMedical: bodies(w.pendingMedical), PendingArrival: bodies(w.pendingArrival),
		SeenRequests: w.seen, Generation: w.generation() + 1}
	return workflow.NewContinueAsNewError(ctx, contract.WorkflowType, next)
}

// 9. Monitoring: follow-up visits at the configured offsets after arrival; each is
// due, then done with scores, or missed (the manager is told). Then the case closes.
func (w *caseRun) monitor(ctx workflow.Context) error {
	arrived := w.st.Arrival.ArrivedAt
	if w.st.Monitoring == nil {
		for i, off := range w.rules.MonitoringOffsets {
			w.st.Monitoring = append(w.st.Monitoring, contract.VisitState{Visit: i + 1, DueAt: arrived.Add(off), Status: contract.VisitScheduled})
		}
	}
	for i := range w.st.Monitoring {
		v := &w.st.Monitoring[i]
		if v.Status == contract.VisitDone || v.Status == contract.VisitMissed {
			continue
		}
		done, err := w.visit(ctx, v)
		if err != nil {
			return err
		}
		if err := w.settled(ctx); err != nil {
			return err
		}
		if !done {
			v.Status = contract.VisitMissed
			w.record(ctx, "visit_missed", systemActor, fmt.Sprintf("Monitoring visit %d missed", v.Visit))
			w.notify(ctx, "manager", "missed_visit", fmt.Sprintf("Monitoring visit %d was missed.", v.Visit))
			continue
		}
		for j, service := range v.Referrals {
			if err := w.call(ctx, "Refer to "+service, acts.Refer, nil, w.key(fmt.Sprintf("visit/%d/referral/%d", v.Visit, j)),
				partners.ReferralRequest{CaseID: w.in.CaseID, Visit: v.Visit, Service: service}); err != nil {
				return err
			}
		}
	}
	return closure{contract.ClosedCompleted, systemActor, "Monitoring completed"}
}

// visit waits for one follow-up visit until its window closes, and says whether
// it was reported. From version 5 one timer does it: the visit may be reported
// from its due date on (canReportVisit reads the clock), and the case waits on the
// caseworker from the start of monitoring until the window's end. Before, a timer
// woke the case at the due date (status "due"), then the window's timer ran.
func (w *caseRun) visit(ctx workflow.Context, v *contract.VisitState) (bool, error) {
	summary := fmt.Sprintf("SLA: monitoring visit %d window closes", v.Visit)
	if w.fewerActions() {
		window := v.DueAt.Add(w.rules.SLA.MonitoringVisit).UTC()
		w.enter(ctx, contract.StageMonitoring, contract.WaitingCaseworker, &window,
			fmt.Sprintf("Visit the returnee (visit %d) from %s and record the scores per dimension by %s.", v.Visit,
				v.DueAt.Format("2 Jan 2006"), window.Format("2 Jan 2006")))
		if due := v.DueAt.UTC(); due.After(workflow.Now(ctx)) {
			w.st.WaitingFrom = &due // in the caseworker's inbox from the due date, not all year
		}
		return w.awaitWithin(ctx, max(window.Sub(workflow.Now(ctx)), time.Millisecond), summary,
			func() bool { return v.Status == contract.VisitDone })
	}
	due := v.DueAt
	w.enter(ctx, contract.StageMonitoring, contract.WaitingNobody, &due,
		fmt.Sprintf("Follow-up visit %d is scheduled for %s.", v.Visit, due.Format("2 Jan 2006")))
	if err := w.sleep(ctx, due.Sub(workflow.Now(ctx)), fmt.Sprintf("Monitoring visit %d due", v.Visit)); err != nil {
		return false, err
	}
	v.Status = contract.VisitDue
	window := w.dueIn(ctx, w.rules.SLA.MonitoringVisit)
	w.enter(ctx, contract.StageMonitoring, contract.WaitingCaseworker, window,
		fmt.Sprintf("Visit the returnee (visit %d) and record the scores per dimension.", v.Visit))
	return w.awaitWithin(ctx, window.Sub(workflow.Now(ctx)), summary, func() bool { return v.Status == contract.VisitDone })
}

// undoBookings is the compensation of a withdrawal: release what was booked and not
// used, and pay nothing more. It runs on a context that is not cancelled. From
// version 7 a ticket bought is refunded too, and the receiving office told its
// pre-arrival notice no longer stands; each step once (the state says what was
// done, and each call's key is the case's), so it never runs twice.
func (w *caseRun) undoBookings(ctx workflow.Context) {
	ctx = disconnected(ctx)
	t := w.st.Travel
	if t == nil || t.DepartedAt != nil {
		return
	}
	if t.BookingStatus == contract.BookingHeld {
		if err := w.undoCall(ctx, "Cancel the flight hold", acts.CancelFlight, nil, w.key(fmt.Sprintf("travel/%d/cancel", t.Attempt)),
			t.BookingRef); err == nil {
			t.BookingStatus = contract.BookingCancelled
			w.record(ctx, "booking_cancelled", systemActor, "Flight hold cancelled")
		}
	}
	if w.recordsFees() && t.BookingStatus == contract.BookingTicketed {
		w.refundTicket(ctx)
	}
	w.cancelEscort(ctx)
	if w.recordsFees() {
		w.withdrawNotice(ctx)
	}
}

// refundTicket asks the travel agency to cancel a ticketed booking and refund
// what can be refunded (version 7 on), and records the refund and the fee kept.
// A refusal is recorded and a manager told (undoCall); the ticket stays bought.
func (w *caseRun) refundTicket(ctx workflow.Context) {
	t := w.st.Travel
	var r partners.Refund
	step := fmt.Sprintf("travel/%d/refund", t.Attempt)
	if err := w.undoCall(ctx, "Refund the ticket", acts.RefundFlight, &r, w.key(step), t.BookingRef); err != nil {
		return
	}
	t.BookingStatus = contract.BookingRefunded
	t.Refund = &contract.Refunded{Refund: r.Refund, FeeKept: r.FeeKept, At: workflow.Now(ctx).UTC()}
	w.record(ctx, "ticket_refunded", systemActor, fmt.Sprintf("Ticket of flight %s cancelled: %s %s refunded, %s %s kept by the agency",
		t.Flight, r.Refund.Amount, r.Refund.Currency, r.FeeKept.Amount, r.FeeKept.Currency))
	w.chargedIfAny(ctx, contract.FeeTravel, contract.ServiceCancellation, step, t.BookingRef, r.FeeKept)
}

// withdrawNotice tells the receiving office that the pre-arrival notice no longer
// stands (version 7 on): nobody is coming on that flight.
func (w *caseRun) withdrawNotice(ctx workflow.Context) {
	t := w.st.Travel
	if t.NoticeID == "" || t.NoticeWithdrawn {
		return
	}
	reason := string(contract.ClosedWithdrawn)
	if w.withdrawal != nil {
		reason = w.withdrawal.Body.Reason
	} else if w.tiesFacts() {
		reason = string(contract.ClosedByOperator)
	}
	if err := w.undoCall(ctx, "Withdraw the pre-arrival notice", acts.WithdrawPreArrivalNotice, nil,
		w.key(fmt.Sprintf("travel/%d/notice-withdrawal", t.Attempt)), t.NoticeID, partners.NoticeWithdrawal{
			CaseID: w.in.CaseID, Reference: w.in.Reference, BookingRef: t.BookingRef, Reason: reason}); err != nil {
		return
	}
	t.NoticeWithdrawn = true
	w.record(ctx, "notice_withdrawn", systemActor, "The receiving office was told the pre-arrival notice no longer stands")
}

func (w *caseRun) cancelEscort(ctx workflow.Context) {
	t := w.st.Travel
	if t == nil || t.EscortStatus != contract.EscortBooked {
		return
	}
	var e partners.Escort
	step := fmt.Sprintf("travel/%d/escort-cancel", t.Attempt)
	if err := w.undoCall(ctx, "Cancel the escort", acts.CancelEscort, &e, w.key(step), t.EscortRef); err != nil {
		return
	}
	t.EscortStatus = contract.EscortCancelled
	w.record(ctx, "escort_cancelled", systemActor, "Escort cancelled")
	if w.recordsFees() && e.Refund != nil {
		// A paid escort (its flight ticketed): what comes back, and what is kept.
		kept := money.Of(0, e.Refund.Currency)
		if e.FeeKept != nil {
			kept = *e.FeeKept
		}
		t.EscortRefund = &contract.Refunded{Refund: *e.Refund, FeeKept: kept, At: workflow.Now(ctx).UTC()}
		w.record(ctx, "escort_refunded", systemActor, fmt.Sprintf("Escort refunded: %s %s, %s %s kept by the agency",
			e.Refund.Amount, e.Refund.Currency, kept.Amount, kept.Currency))
		w.chargedIfAny(ctx, contract.FeeEscort, contract.ServiceEscortCancellation, step, t.EscortRef, kept)
	}
}

// chargedIfAny records a fee kept on a cancellation, unless nothing was kept.
func (w *caseRun) chargedIfAny(ctx workflow.Context, partner, service, key, reference string, fee money.Money) {
	if c, err := fee.Cents(); err == nil && c == 0 {
		return
	}
	w.charged(ctx, partner, service, key, reference, &fee)
}

func (w *caseRun) healthNeeds() bool {
	return w.in.HealthNeeds || (w.st.Medical != nil && w.st.Medical.Escort) ||
		(w.st.Screening != nil && slices.Contains(w.st.Screening.Flags, "health_needs"))
}
