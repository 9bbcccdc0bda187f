package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/homeward/homeward/contract"
)

// Corrections of what the case decides with: the household's adults and minors
// (the caps, the passengers), vulnerability (a search attribute) and health
// needs (the escort, post-arrival medical assistance). The API corrects the case
// file and sends the counts and flags that follow; the workflow's rules say
// whether they may change now. Registering the update changes no history of
// a case that never receives it, so it needs no version.

func (w *caseRun) canCorrect(a contract.Action[contract.Correction]) error {
	if err := w.must(a.Actor, contract.RoleCaseworker); err != nil {
		return err
	}
	if err := w.ofThisCase(a.Actor); err != nil {
		return err
	}
	c := a.Body
	if c.Adults < 1 || c.Minors < 0 || c.Adults+c.Minors > 21 {
		return refuse(contract.RefusedInvalid, "household: from 1 to 21 people, the applicant among the adults")
	}
	if c.Adults == w.in.Adults && c.Minors == w.in.Minors {
		return nil
	}
	if w.st.Plan != nil && (w.st.Plan.Status == contract.PlanApproved || w.st.Plan.Status == contract.PlanDonorApproval) {
		return refuse(contract.RefusedWrongStage, "the reintegration plan was approved within the household's caps; "+
			"its size cannot change now")
	}
	if t := w.st.Travel; t != nil && t.DepartedAt == nil && (t.BookingStatus == contract.BookingHeld || t.BookingStatus == contract.BookingTicketed) {
		return refuse(contract.RefusedWrongStage, "the flight is booked for the household as it is; "+
			"its size cannot change until the booking is released")
	}
	return nil
}

func (w *caseRun) corrected(ctx workflow.Context, a contract.Action[contract.Correction]) {
	c := a.Body
	if c.Adults == w.in.Adults && c.Minors == w.in.Minors && c.Vulnerable == w.in.Vulnerable &&
		c.HealthNeeds == w.in.HealthNeeds {
		return // already so (a retried correction)
	}
	if c.Vulnerable != w.in.Vulnerable {
		if err := workflow.UpsertTypedSearchAttributes(ctx, SAVulnerable.ValueSet(c.Vulnerable)); err != nil {
			w.logger.Warn("search attribute Vulnerable not updated", "error", err)
		}
	}
	w.in.Adults, w.in.Minors, w.in.Vulnerable, w.in.HealthNeeds = c.Adults, c.Minors, c.Vulnerable, c.HealthNeeds
	w.record(ctx, "process_corrected", a.Actor, "Household, vulnerability or health needs corrected for the process")
}
