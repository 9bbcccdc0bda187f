package contract_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/contract"
)

// The office a wait is for comes from the open actions of the awaited role,
// leaving out those open at any time (a withdrawal, a transfer).
func TestTheWaitingOfficeIsTheOneOfficeThatMayAnswer(t *testing.T) {
	approver, caseworker := []contract.Role{contract.RoleApprover}, []contract.Role{contract.RoleCaseworker, contract.RoleApprover}
	st := func(w contract.WaitingOn, actions ...contract.OpenAction) contract.CaseState {
		return contract.CaseState{WaitingOn: w, Actions: actions}
	}
	transfer := contract.OpenAction{Name: contract.UpdateTransfer, Roles: caseworker, Offices: []string{"GN-CKY"}}
	withdrawal := contract.OpenAction{Name: contract.UpdateWithdrawal, Roles: caseworker}
	for _, tc := range []struct {
		name  string
		state contract.CaseState
		want  string
	}{
		{"donor decision", st(contract.WaitingApprover, contract.OpenAction{Name: contract.UpdateDonorDecision, Roles: approver,
			Offices: []string{"DE-BER"}}, withdrawal, transfer), "DE-BER"},
		{"two payments, both the sending office's", st(contract.WaitingApprover,
			contract.OpenAction{Name: contract.UpdatePaymentValidation, Target: "p1-1", Roles: approver, Offices: []string{"DE-BER"}},
			contract.OpenAction{Name: contract.UpdatePriceDecision, Target: "p1-2", Roles: approver, Offices: []string{"DE-BER"}}), "DE-BER"},
		{"a plan either office decides", st(contract.WaitingApprover, contract.OpenAction{Name: contract.UpdatePlanDecision, Roles: approver},
			withdrawal), ""},
		{"one office's and either's", st(contract.WaitingApprover,
			contract.OpenAction{Name: contract.UpdatePaymentValidation, Target: "p1-1", Roles: approver, Offices: []string{"DE-BER"}},
			contract.OpenAction{Name: contract.UpdatePlanDecision, Roles: approver}), ""},
		{"managers only", st(contract.WaitingApprover, contract.OpenAction{Name: contract.UpdateDonorDecision, Roles: approver,
			Offices: []string{"*"}}), ""},
		{"another role's action", st(contract.WaitingCaseworker, contract.OpenAction{Name: contract.UpdateDonorDecision, Roles: approver,
			Offices: []string{"DE-BER"}}), ""},
		{"only actions open at any time", st(contract.WaitingCaseworker, transfer, withdrawal), ""},
		{"nothing open", st(contract.WaitingNobody), ""},
	} {
		require.Equal(t, tc.want, tc.state.WaitingOffice(), tc.name)
	}
}
