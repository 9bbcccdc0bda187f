package workflows_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/money"
)

// Version 6: the donor's approval of a plan and the sending office's validation
// of a payment (issue 21).

var apDE2 = contract.Actor{User: "approver-de-2", Role: contract.RoleApprover, Office: "DE-BER"}

func donorRules(mod func(*contract.DonorApproval)) func(*contract.CaseInput) {
	return func(in *contract.CaseInput) {
		in.Rules.SLA.DonorDecision = 20 * day
		mod(&in.Rules.Programme.DonorApproval)
	}
}

func paymentsAbove(amount string) func(*contract.CaseInput) {
	return func(in *contract.CaseInput) {
		c := money.MustParse(amount)
		in.Rules.Programme.PaymentValidationAbove = &c
	}
}

func donorDecision(label string, by contract.Actor, d contract.DonorDecision) func(*caseTest) {
	return func(c *caseTest) {
		c.act(label, contract.UpdateDonorDecision, contract.Action[contract.DonorDecision]{Actor: by, Body: d})
	}
}

func validatePayment(label string, by contract.Actor, itemID string, decision contract.Decision, reason string) func(*caseTest) {
	return func(c *caseTest) {
		c.act(label, contract.UpdatePaymentValidation, contract.Action[contract.PaymentValidation]{Actor: by,
			Body: contract.PaymentValidation{ItemID: itemID, Decision: decision, Reason: reason}})
	}
}

// A plan with an item of a kind the donor must approve waits, once the approvers
// approved it, for the donor's decision: recorded by an approver of the sending
// office only, with the donor's reference; a refusal sends it back to planning,
// and the next version, approved by the donor, is procured.
func TestAPlanTheDonorMustApproveWaitsForTheDonorsDecision(t *testing.T) {
	var waiting, replanning contract.CaseState
	refuse := contract.DonorDecision{Decision: contract.DecisionRefuse, DonorReference: "ECHO/2026/17", Reason: "the service is not eligible"}
	approve := contract.DonorDecision{Decision: contract.DecisionApprove, DonorReference: "ECHO/2026/18", DonorLetter: "doc-1"}
	c := newCase(t, donorRules(func(d *contract.DonorApproval) { d.Kinds = []string{"service"} })).toArrival().
		at(6*time.Hour, plan("plan", cwGN, item("cash", "400.00"), item("service", "600.00"))).
		at(7*time.Hour, decide("approve", apGN, contract.DecisionApprove)).
		at(8*time.Hour, func(c *caseTest) { waiting = c.state() }).
		at(8*time.Hour+time.Minute, donorDecision("receiving-office", apGN, approve)).
		at(8*time.Hour+2*time.Minute, donorDecision("caseworker", cwDE, approve)).
		at(8*time.Hour+3*time.Minute, donorDecision("no-reference", apDE, contract.DonorDecision{Decision: contract.DecisionApprove})).
		at(8*time.Hour+4*time.Minute, donorDecision("refuse-without-reason", apDE, contract.DonorDecision{Decision: contract.DecisionRefuse, DonorReference: "X"})).
		at(9*time.Hour, donorDecision("refuse", apDE, refuse)).
		at(9*time.Hour+time.Minute, func(c *caseTest) { replanning = c.state() }).
		at(9*time.Hour+2*time.Minute, donorDecision("after-refusal", apDE, approve)).
		at(10*time.Hour, plan("plan-v2", cwGN, item("cash", "400.00"), item("service", "500.00"))).
		at(11*time.Hour, decide("approve-v2", apGN, contract.DecisionApprove)).
		at(12*time.Hour, donorDecision("donor-approves", apDE, approve))
	st := c.run()

	require.Equal(t, contract.PlanDonorApproval, waiting.Plan.Status)
	require.Equal(t, "the plan has an item of kind service", waiting.Plan.DonorApprovalReason)
	require.Equal(t, contract.StagePlanApproval, waiting.Stage)
	require.Equal(t, contract.WaitingApprover, waiting.WaitingOn)
	require.Equal(t, start.Add(7*time.Hour+20*day), *waiting.StageDueAt, "the donor's own SLA")
	require.True(t, waiting.OpenTo(contract.UpdateDonorDecision, "", contract.RoleApprover, "DE-BER"))
	require.False(t, waiting.OpenTo(contract.UpdateDonorDecision, "", contract.RoleApprover, "GN-CKY"),
		"the sending office's approvers only")
	require.False(t, waiting.Open(contract.UpdatePlanDecision, "", contract.RoleApprover), "the approvers have decided")

	require.Equal(t, contract.RefusedForbidden, c.refusal("receiving-office"))
	require.Equal(t, contract.RefusedForbidden, c.refusal("caseworker"))
	require.Equal(t, contract.RefusedInvalid, c.refusal("no-reference"))
	require.Contains(t, c.refusals["no-reference"].Error(), "donor_reference")
	require.Equal(t, contract.RefusedInvalid, c.refusal("refuse-without-reason"))
	require.Empty(t, c.refusal("refuse"))
	require.Equal(t, contract.RefusedWrongStage, c.refusal("after-refusal"))

	require.Equal(t, contract.StageReintegrationPlanning, replanning.Stage)
	require.Equal(t, contract.PlanDonorRefused, replanning.Plan.Status)
	require.Equal(t, contract.DecisionRefuse, replanning.Plan.DonorDecision.Decision)
	require.Equal(t, "the service is not eligible", replanning.Plan.DonorDecision.Reason)
	require.Equal(t, apDE.User, replanning.Plan.DonorDecision.By)

	require.Empty(t, c.refusal("donor-approves"))
	require.Equal(t, 2, st.Plan.Version)
	require.Equal(t, contract.PlanApproved, st.Plan.Status)
	require.Equal(t, "ECHO/2026/18", st.Plan.DonorDecision.DonorReference)
	require.Equal(t, "doc-1", st.Plan.DonorDecision.DonorLetter)
	require.Equal(t, []string{"pay/p2-1=1", "pay/p2-2=1"}, c.p.keysWithPrefix("/pay/"), "only the plan the donor approved is paid")
	decisions := c.p.events("donor_decision")
	require.Len(t, decisions, 2)
	require.Contains(t, decisions[0].Summary, "the donor refused (reference ECHO/2026/17)")
	require.Equal(t, "the service is not eligible", decisions[0].Text, "the reason, kept with the timeline line")
	require.Equal(t, contract.ClosedCompleted, st.ClosureReason)
}

// The donor's decision has its own due date: past it the case is overdue, and
// the supervisor and the sending office are told; the decision still counts.
func TestTheDonorsDecisionHasItsOwnDueDate(t *testing.T) {
	var overdue contract.CaseState
	c := newCase(t, donorRules(func(d *contract.DonorApproval) { a := money.MustParse("2000"); d.Above = &a })).toArrival().
		at(6*time.Hour, plan("plan", cwGN, item("cash", "2100.00"))).
		at(7*time.Hour, decide("approve", apGN, contract.DecisionApprove)).
		at(7*time.Hour+time.Minute, decide("second", apDE, contract.DecisionApprove)).
		at(7*time.Hour+21*day, func(c *caseTest) { overdue = c.state() }).
		at(7*time.Hour+22*day, donorDecision("donor-approves", apDE2, contract.DonorDecision{Decision: contract.DecisionApprove, DonorReference: "D-1"}))
	st := c.run()

	require.Equal(t, contract.PlanDonorApproval, overdue.Plan.Status)
	require.Equal(t, "the total is above 2000.00 EUR", overdue.Plan.DonorApprovalReason)
	require.True(t, overdue.Overdue)
	require.ElementsMatch(t, []string{"supervisor", "sending_office"}, c.p.notified("overdue"))
	require.Empty(t, c.refusal("donor-approves"))
	require.Equal(t, contract.PlanApproved, st.Plan.Status)
	require.Equal(t, contract.ClosedCompleted, st.ClosureReason)
}

// Where the programme lets the donor decide above the household's cap, such a
// plan is taken and goes to the donor; elsewhere it is refused as before.
func TestAPlanAboveTheCapGoesToTheDonorWhereTheProgrammeSaysSo(t *testing.T) {
	above := item("cash", "2600.00") // the cap of two adults and a minor: 2,500
	refused := newCase(t).toArrival().at(6*time.Hour, plan("plan", cwGN, above)).at(7*time.Hour, withdraw("withdrawn"))
	refused.run()
	require.Equal(t, contract.RefusedInvalid, refused.refusal("plan"))

	var waiting contract.CaseState
	c := newCase(t, donorRules(func(d *contract.DonorApproval) { d.AboveCap = true })).toArrival().
		at(6*time.Hour, plan("plan", cwGN, above)).
		at(7*time.Hour, decide("approve", apGN, contract.DecisionApprove)).
		at(7*time.Hour+time.Minute, decide("second", apDE, contract.DecisionApprove)).
		at(8*time.Hour, func(c *caseTest) { waiting = c.state() }).
		at(8*time.Hour+time.Minute, withdraw("withdrawn"))
	c.run()
	require.Empty(t, c.refusal("plan"))
	require.Equal(t, contract.PlanDonorApproval, waiting.Plan.Status)
	require.Equal(t, "the total is above the household's cap of 2500.00 EUR", waiting.Plan.DonorApprovalReason)
	require.Equal(t, 0, c.p.count("Pay"))
}

// A payment above the threshold waits for an approver of the sending office,
// who is not who recorded the delivery; a refusal keeps it waiting with the
// reason until a validation; each item is paid once, after its validation.
func TestAPaymentAboveTheThresholdWaitsForTheSendingOffice(t *testing.T) {
	var waiting, refusedState contract.CaseState
	deliverer := contract.Actor{User: apDE.User, Role: contract.RoleProcurement, Office: "DE-BER"} // the same person, another role
	c := newCase(t, paymentsAbove("1000.00")).toArrival().
		at(6*time.Hour, plan("plan", cwGN, item("cash", "1200.00"), item("in_kind", "1300.00"), item("cash", "0.00"))).
		at(7*time.Hour, decide("approve", apGN, contract.DecisionApprove)).
		at(7*time.Hour+time.Minute, decide("second", apDE, contract.DecisionApprove)).
		at(8*time.Hour, func(c *caseTest) { waiting = c.state() }).
		at(8*time.Hour+time.Minute, validatePayment("receiving-office", apGN, "p1-1", contract.DecisionValidate, "")).
		at(8*time.Hour+2*time.Minute, validatePayment("procurement", proc, "p1-1", contract.DecisionValidate, "")).
		at(8*time.Hour+3*time.Minute, validatePayment("no-reason", apDE, "p1-1", contract.DecisionRefuse, "")).
		at(8*time.Hour+4*time.Minute, validatePayment("not-waiting", apDE, "p1-3", contract.DecisionValidate, "")).
		at(9*time.Hour, validatePayment("refuse", apDE, "p1-1", contract.DecisionRefuse, "the bank account is not the returnee's")).
		at(9*time.Hour+time.Minute, func(c *caseTest) { refusedState = c.state() }).
		at(10*time.Hour, validatePayment("validate", apDE, "p1-1", contract.DecisionValidate, "")).
		at(11*time.Hour, func(c *caseTest) {
			c.act("delivery", contract.UpdateDelivery, contract.Action[contract.Delivery]{Actor: deliverer,
				Body: contract.Delivery{ItemID: "p1-2", DeliveredAt: c.now(), HandoverCertificate: "HC-p1-2"}})
		}).
		at(12*time.Hour, validatePayment("self", apDE, "p1-2", contract.DecisionValidate, "")).
		at(13*time.Hour, validatePayment("other", apDE2, "p1-2", contract.DecisionValidate, ""))
	st := c.run()

	p := waiting.Procurement[0]
	require.Equal(t, contract.ItemPaymentValidation, p.Status)
	require.Equal(t, contract.ItemPaid, waiting.Procurement[2].Status, "a payment within the threshold goes at once")
	require.Equal(t, contract.WaitingApprover, waiting.WaitingOn)
	require.True(t, waiting.OpenTo(contract.UpdatePaymentValidation, "p1-1", contract.RoleApprover, "DE-BER"))
	require.False(t, waiting.OpenTo(contract.UpdatePaymentValidation, "p1-1", contract.RoleApprover, "GN-CKY"))
	require.False(t, waiting.Open(contract.UpdatePaymentValidation, "p1-2", contract.RoleApprover), "not delivered yet")

	require.Equal(t, contract.RefusedForbidden, c.refusal("receiving-office"))
	require.Equal(t, contract.RefusedForbidden, c.refusal("procurement"))
	require.Equal(t, contract.RefusedInvalid, c.refusal("no-reason"))
	require.Equal(t, contract.RefusedWrongStage, c.refusal("not-waiting"))
	require.Empty(t, c.refusal("refuse"))
	require.Equal(t, contract.ItemPaymentRefused, refusedState.Procurement[0].Status)
	require.Equal(t, "the bank account is not the returnee's", refusedState.Procurement[0].PaymentValidation.Comment)
	require.Nil(t, refusedState.Procurement[0].Payment)
	require.True(t, refusedState.OpenTo(contract.UpdatePaymentValidation, "p1-1", contract.RoleApprover, "DE-BER"),
		"a refused payment waits for a new validation")
	require.Empty(t, c.refusal("validate"))
	require.Equal(t, contract.RefusedForbidden, c.refusal("self"))
	require.Contains(t, c.refusals["self"].Error(), "delivery they recorded")
	require.Empty(t, c.refusal("other"))

	require.Equal(t, []string{"pay/p1-1=1", "pay/p1-2=1", "pay/p1-3=1"}, c.p.keysWithPrefix("/pay/"))
	require.Equal(t, contract.DecisionValidate, st.Procurement[1].PaymentValidation.Decision)
	require.Equal(t, apDE2.User, st.Procurement[1].PaymentValidation.By)
	require.Equal(t, money.Money{Amount: "1299.00", Currency: "EUR"}, st.Procurement[1].Payment.Amount, "the chosen quote's price")
	require.Len(t, c.p.events("payment_held"), 2)
	require.Len(t, c.p.events("payment_validation"), 3)
	require.Equal(t, contract.ClosedCompleted, st.ClosureReason)
}

// A withdrawal while a payment waits for its validation pays nothing.
func TestAWithdrawalWhileAPaymentWaitsPaysNothing(t *testing.T) {
	c := newCase(t, paymentsAbove("1000.00")).toArrival().
		at(6*time.Hour, plan("plan", cwGN, item("cash", "1200.00"))).
		at(7*time.Hour, decide("approve", apGN, contract.DecisionApprove)).
		at(8*time.Hour, validatePayment("refuse", apDE, "p1-1", contract.DecisionRefuse, "documents missing")).
		at(9*time.Hour, withdraw("withdrawn"))
	st := c.run()
	require.Equal(t, contract.ClosedWithdrawn, st.ClosureReason)
	require.Equal(t, 0, c.p.count("Pay"))
	require.Equal(t, contract.ItemCancelled, st.Procurement[0].Status)
}
