package workspace

import (
	"bytes"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/api"
	"github.com/homeward/homeward/contract"
)

// The case page shows the sub-statuses and decisions of the state (typed in
// contract) in words: each is looked up in the catalogue, none left as its key.
func TestTheCasePageShowsTheSubStatusesInWords(t *testing.T) {
	pages, err := parsePages()
	require.NoError(t, err)
	cats, err := loadCatalogs()
	require.NoError(t, err)
	at := time.Date(2026, 11, 5, 9, 30, 0, 0, time.UTC)
	st := contract.CaseState{Stage: contract.StageMonitoring, Status: contract.StatusActive,
		Screening: &contract.ScreeningState{Risk: "high", Clearance: contract.DecisionCleared},
		Travel:    &contract.TravelState{Attempt: 1, BookingRef: "BK-1", BookingStatus: contract.BookingTicketed, Flight: "HW1", DepartureAt: &at},
		Plan: &contract.PlanState{Version: 1, Status: contract.PlanDonorApproval, SubmittedAt: at,
			Decisions:     []contract.DecisionLog{{PlanVersion: 1, Decision: contract.DecisionApprove, By: "approver", At: at}},
			DonorDecision: &contract.DonorDecisionLog{PlanVersion: 1, Decision: contract.DecisionRefuse, By: "approver", At: at}},
		Procurement: []contract.ProcurementItem{{ItemID: "p1-1", Kind: contract.KindCash, Status: contract.ItemPaymentValidated,
			PaymentValidation: &contract.DecisionLog{Decision: contract.DecisionValidate, By: "approver", At: at}}},
		Monitoring: []contract.VisitState{{Visit: 1, DueAt: at, Status: contract.VisitMissed}}}
	var buf bytes.Buffer
	require.NoError(t, pages["case"].ExecuteTemplate(&buf, "layout", pageData{lang: "en", cats: cats,
		Data: casePageData{Case: api.CaseView{ID: "c1", CaseState: st}, Form: url.Values{}}}))
	page := buf.String()
	for _, key := range []string{"booking.ticketed", "planstatus.donor_approval", "itemstatus.payment_validated",
		"visitstatus.missed", "decision.approve", "paymentdone.validate", "clearance.cleared", "donordone.refuse"} {
		require.Contains(t, page, cats["en"][key], key)
		require.NotContains(t, page, key)
	}
}
