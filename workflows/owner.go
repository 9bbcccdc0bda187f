package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/partners"
)

// A new owner is told that the case is theirs. The API decides who may assign
// (api.SetOwner) and keeps the owner in the case file; the workflow sends the
// notification, as it sends every other, from an activity. Registering the update
// changes no history of a case that never receives it, so it needs no version.

func (w *caseRun) canNotifyOwner(a contract.Action[contract.OwnerAssigned]) error {
	if err := w.must(a.Actor, contract.RoleCaseworker, contract.RoleApprover, contract.RoleManager); err != nil {
		return err
	}
	if a.Body.User == "" || (a.Body.Office != w.in.SendingOffice && a.Body.Office != w.in.ReceivingOffice) {
		return refuse(contract.RefusedInvalid, "office: a user of one of the case's offices is assigned")
	}
	return nil
}

func (w *caseRun) ownerAssigned(ctx workflow.Context, a contract.Action[contract.OwnerAssigned]) {
	w.notifyMessage(ctx, partners.ToCaseworker+":"+a.Body.User, partners.Message{CaseID: w.in.CaseID,
		Reference: w.in.Reference, To: partners.ToCaseworker, Office: a.Body.Office, User: a.Body.User,
		Kind: partners.NotifyAssigned, Text: fmt.Sprintf("Case %s (stage %s) is now yours at office %s, assigned by %s.",
			w.in.Reference, w.st.Stage, a.Body.Office, a.Actor.User)})
}
