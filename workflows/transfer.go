package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/homeward/homeward/contract"
)

// Transfer to another receiving office, before departure (the area of return
// changed): a caseworker or approver of the sending office. The case's input
// names the new office from then on (eligibility, the pre-arrival notice, the
// registry, who may decide), its search attribute follows, both receiving
// offices are told. Registering the update changes no history of a case that
// never receives it, so it needs no version.

// transferStages are the stages a case may be transferred in: before departure.
var transferStages = []contract.Stage{contract.StageIntake, contract.StageCounselling, contract.StageScreening,
	contract.StageMedicalClearance, contract.StageTravel}

func (w *caseRun) canTransfer(a contract.Action[contract.Transfer]) error {
	if err := w.must(a.Actor, contract.RoleCaseworker, contract.RoleApprover); err != nil {
		return err
	}
	if a.Actor.Office != "*" && a.Actor.Office != w.in.SendingOffice {
		return refuse(contract.RefusedForbidden, "only the sending office transfers a case")
	}
	departed := w.st.Travel != nil && w.st.Travel.DepartedAt != nil
	stageOK := false
	for _, s := range transferStages {
		stageOK = stageOK || w.st.Stage == s
	}
	if departed || !stageOK {
		return refuse(contract.RefusedWrongStage, "a case is transferred only before departure")
	}
	switch a.Body.ReceivingOffice {
	case w.in.ReceivingOffice:
		return nil // already so (a retried transfer)
	case w.in.SendingOffice:
		return refuse(contract.RefusedInvalid, "receiving_office: must not be the sending office")
	}
	return nil
}

func (w *caseRun) transferred(ctx workflow.Context, a contract.Action[contract.Transfer]) {
	from, to := w.in.ReceivingOffice, a.Body.ReceivingOffice
	if to == from {
		return
	}
	w.in.ReceivingOffice = to
	if w.fewerActions() {
		w.show(ctx) // the writer upserts it with the task's other changes
	} else if err := workflow.UpsertTypedSearchAttributes(ctx, SAReceivingOffice.ValueSet(to)); err != nil {
		w.logger.Warn("search attribute ReceivingOffice not updated", "error", err)
	}
	w.recordText(ctx, "transferred", a.Actor, fmt.Sprintf("Transferred from receiving office %s to %s", from, to), a.Body.Reason)
	text := fmt.Sprintf("Case %s is transferred from receiving office %s to %s, in stage %s.", w.in.Reference, from, to, w.st.Stage)
	w.notifyOffice(ctx, from, "transferred", text)
	w.notifyOffice(ctx, to, "transferred", text)
}
