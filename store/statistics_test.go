package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/money"
	"github.com/homeward/homeward/store"
)

func TestAgeBandsAtRegistration(t *testing.T) {
	on := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	for dob, want := range map[string]string{"2008-11-21": store.AgeMinor, "2008-11-20": store.AgeAdult,
		"1966-11-21": store.AgeAdult, "1966-11-20": store.AgeOlder, "1990-02-30": store.AgeUnknown, "2030-01-01": store.AgeUnknown} {
		require.Equal(t, want, store.AgeBandAt(dob, on), dob)
	}
}

// The case-file write stamps what each line counts as, with the case's profile
// as it is then and the figure it carries; a later correction and the
// anonymisation change no past period's statistics.
func TestCaseFileWritesStampWhatTheStatisticsCount(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		c := newCase("GN")
		c.Sex, c.AgeBand, c.Vulnerable, c.ServiceChargeCents = "female", store.AgeAdult, true, 15000
		require.NoError(t, s.CreateCase(ctx, c, nil, started))
		sys := contract.Actor{User: "homeward", Role: "system"}
		at := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
		write := func(seq int64, st contract.CaseState, types ...string) {
			st.Seq = seq
			ch := contract.Changes{CaseID: c.ID, WrittenIn: seq, State: st}
			for i, typ := range types {
				ch.Events = append(ch.Events, contract.Event{Key: c.ID + "/" + typ + string(rune('a'+i)), Type: typ, Actor: sys,
					Summary: typ, At: at.Add(time.Duration(seq) * time.Hour)})
			}
			require.NoError(t, s.RecordChanges(ctx, ch))
		}
		active := contract.CaseState{Stage: contract.StageCounselling, Status: contract.StatusActive}
		write(1, active, "registered", "stage")
		write(2, active, "departed")
		write(3, active, "arrived")
		plan := &contract.PlanState{Version: 1, Status: contract.PlanSubmitted, Total: money.Of(130000, "EUR")}
		write(4, contract.CaseState{Stage: contract.StagePlanApproval, Status: contract.StatusActive, Plan: plan}, "plan_decision")
		approved := *plan
		approved.Status = contract.PlanApproved
		approved.Decisions = []contract.DecisionLog{{Decision: contract.DecisionApprove, At: at}, {Decision: contract.DecisionApprove, At: at}}
		paid := contract.CaseState{Stage: contract.StageProcurement, Status: contract.StatusActive, Plan: &approved,
			Procurement: []contract.ProcurementItem{{ItemID: "p1-1", Payment: &contract.PaymentInfo{PaymentID: "pay-1",
				Amount: money.Of(40000, "EUR"), Payee: "beneficiary", PaidAt: at.Add(5 * time.Hour)}}}}
		write(5, paid, "plan_decision", "stage", "paid")
		write(5, paid, "plan_decision", "stage", "paid") // a retried write counts nothing twice

		march := func() store.Statistics {
			from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
			st, err := s.Statistics(ctx, from, from.AddDate(0, 1, 0))
			require.NoError(t, err)
			return st
		}
		before := march()
		total := before.Activity[0]
		require.Equal(t, "total", total.By)
		require.Equal(t, [4]int64{1, 1, 1, 1}, [4]int64{total.Registered, total.Departed, total.Arrived, total.PlansApproved},
			"the first of two decisions did not approve the plan; the second did")
		require.Contains(t, before.Money, store.MoneyRow{By: "sex", Key: "female", Currency: "EUR", Committed: "1300.00",
			Paid: "400.00", ServiceFees: "150.00", Payments: 1})
		require.Contains(t, before.Money, store.MoneyRow{By: "vulnerability", Key: "vulnerable", Currency: "EUR",
			Committed: "1300.00", Paid: "400.00", ServiceFees: "150.00", Payments: 1})
		sp, err := s.SpendingOf(ctx, "REAG-GARP", "EUR", 2026)
		require.NoError(t, err)
		require.Equal(t, int64(130000), sp.Committed[2])
		require.Equal(t, int64(40000), sp.Paid[2])

		// Corrected: no longer vulnerable, 60 at registration. Then closed, and anonymised.
		require.NoError(t, s.CorrectCase(ctx, store.Correction{CaseID: c.ID, Beneficiary: "{}", Household: "[]",
			Vulnerabilities: "[]", Sex: "female", AgeBand: store.AgeOlder, Fields: []string{"vulnerabilities"},
			By: store.AuditEntry{ActorUser: "caseworker-de", ActorRole: "caseworker"}, At: at.AddDate(0, 1, 0)}))
		closed := paid
		closed.Stage, closed.Status, closed.ClosureReason = contract.StageClosed, contract.StatusClosed, contract.ClosedDeceased
		at = at.AddDate(0, 1, 0)
		write(6, closed, "closed")
		require.Equal(t, before, march(), "March is as it was")
		n, err := s.Anonymise(ctx, []string{c.ID}, store.AuditEntry{ActorUser: "homeward-retention", ActorRole: "system"})
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Equal(t, before, march(), "March is as it was after the anonymisation")
		from := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
		april, err := s.Statistics(ctx, from, from.AddDate(0, 1, 0))
		require.NoError(t, err)
		require.Contains(t, april.Activity, store.ActivityRow{By: "age_band", Key: store.AgeOlder, Closed: 1,
			Closures: map[string]int64{"completed": 0, "withdrawn": 0, "not_fit": 0, "no_show": 0, "absconded": 0,
				"deceased": 1, "ineligible": 0, "transferred": 0, "operator_cancelled": 0}}, "the closure counts with the corrected profile")
		row, err := s.CaseByID(ctx, c.ID)
		require.NoError(t, err)
		require.Empty(t, row.Sex+row.AgeBand, "the case keeps no profile once anonymised")
		require.False(t, row.Vulnerable)
		// Nor does anything that names the case: its counted lines and payments were
		// cut from it (anonymous_counts), and they add up as before.
		db, err := s.SQL()
		require.NoError(t, err)
		var linked int
		require.NoError(t, db.QueryRow(store.Rebind(s.Driver(), `SELECT
			(SELECT COUNT(*) FROM timeline_events WHERE case_id = ? AND (counts_as <> '' OR sex <> '' OR age_band <> '' OR vulnerable OR amount_cents <> 0))
			+ (SELECT COUNT(*) FROM payments WHERE case_id = ?)`), c.ID, c.ID).Scan(&linked))
		require.Zero(t, linked, "nothing counted stays with the case")
		var facts int
		require.NoError(t, db.QueryRow("SELECT SUM(n) FROM anonymous_counts").Scan(&facts))
		require.Equal(t, 6, facts, "registered, departed (with its service charge), arrived, plan_approved, paid, closed")
		after, err := s.SpendingOf(ctx, "REAG-GARP", "EUR", 2026)
		require.NoError(t, err)
		require.Equal(t, sp, after, "the budget's spending too")

		// A late write of the workflow (a retried task, a reset run) brings nothing
		// back and counts nothing twice.
		write(5, paid, "plan_decision", "stage", "paid")
		write(7, closed, "closed")
		require.Equal(t, before, march(), "March after late writes")
		again, err := s.SpendingOf(ctx, "REAG-GARP", "EUR", 2026)
		require.NoError(t, err)
		require.Equal(t, sp, again)
		row, err = s.CaseByID(ctx, c.ID)
		require.NoError(t, err)
		require.Equal(t, contract.StatusClosed, contract.Status(row.Status))
		require.Empty(t, row.Sex+row.AgeBand)
		n, err = s.CutAnonymisedFacts(ctx)
		require.NoError(t, err)
		require.Zero(t, n, "nothing left to cut")
	})
}

// A price approved above an item's approved cost is committed too: the budget's
// remaining and the statistics' committed count the difference.
func TestAnApprovedHigherPriceIsCommitted(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		c := newCase("GN")
		require.NoError(t, s.CreateCase(ctx, c, nil, started))
		at := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
		approver := contract.Actor{User: "approver-de", Role: contract.RoleApprover, Office: "DE-BER"}
		plan := &contract.PlanState{Version: 1, Status: contract.PlanApproved, Total: money.Of(199900, "EUR"),
			Items:     []contract.PlanItem{{ID: "p1-1", Kind: contract.KindInKind, Cost: money.Of(199900, "EUR")}},
			Decisions: []contract.DecisionLog{{Decision: contract.DecisionApprove, By: "approver-gn", At: at}}}
		st := contract.CaseState{Seq: 1, Stage: contract.StageProcurement, Status: contract.StatusActive, Plan: plan,
			Procurement: []contract.ProcurementItem{{ItemID: "p1-1", ChosenSupplier: "portal",
				Quotes:        []contract.Quote{{Supplier: "portal", Price: money.Of(210000, "EUR"), Compliant: true}},
				PriceDecision: &contract.DecisionLog{Decision: contract.DecisionApprove, By: approver.User, At: at.Add(time.Hour)}}}}
		require.NoError(t, s.RecordChanges(ctx, contract.Changes{CaseID: c.ID, WrittenIn: 1, State: st, Events: []contract.Event{
			{Key: c.ID + "/plan", Type: "plan_decision", Actor: approver, Summary: "Plan v1: approve", At: at},
			{Key: c.ID + "/price", Type: "price_decision", Actor: approver, Summary: "Item p1-1: approve", At: at.Add(time.Hour)}}}))
		sp, err := s.SpendingOf(ctx, "REAG-GARP", "EUR", 2026)
		require.NoError(t, err)
		require.Equal(t, int64(199900+10100), sp.Committed[2], "the plan's total and the approved overrun")
		from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		march, err := s.Statistics(ctx, from, from.AddDate(0, 1, 0))
		require.NoError(t, err)
		require.Equal(t, "2100.00", march.Money[0].Committed)
	})
}

// A case anonymised before the counts were cut from cases (migration 00032) has
// them cut when the API starts: the statistics are the same, and nothing counted
// stays with the case.
func TestCasesAnonymisedBeforeHaveTheirCountsCut(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		c := newCase("GN")
		c.Sex, c.AgeBand, c.Vulnerable = "male", store.AgeMinor, true
		require.NoError(t, s.CreateCase(ctx, c, nil, started))
		at := time.Date(2026, 5, 31, 23, 30, 0, 0, time.UTC)
		closed := contract.CaseState{Seq: 1, Stage: contract.StageClosed, Status: contract.StatusClosed,
			ClosureReason: contract.ClosedWithdrawn, Procurement: []contract.ProcurementItem{{ItemID: "p1-1",
				Payment: &contract.PaymentInfo{PaymentID: "pay-9", Amount: money.Of(25000, "EUR"), Payee: "beneficiary", PaidAt: at}}}}
		require.NoError(t, s.RecordChanges(ctx, contract.Changes{CaseID: c.ID, WrittenIn: 1, State: closed,
			Events: []contract.Event{{Key: c.ID + "/r", Type: "registered", Summary: "r", At: at.Add(-time.Hour)},
				{Key: c.ID + "/c", Type: "closed", Summary: "c", At: at}}}))
		may := func() store.Statistics {
			from := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
			st, err := s.Statistics(ctx, from, from.AddDate(0, 1, 0))
			require.NoError(t, err)
			return st
		}
		before := may()
		require.Contains(t, before.Money, store.MoneyRow{By: "age_band", Key: store.AgeMinor, Currency: "EUR", Committed: "0.00",
			Paid: "250.00", ServiceFees: "0.00", Payments: 1})
		db, err := s.SQL()
		require.NoError(t, err)
		_, err = db.Exec(store.Rebind(s.Driver(), "UPDATE cases SET anonymised_at = ? WHERE id = ?"), at, c.ID) // as before 00032
		require.NoError(t, err)

		n, err := s.CutAnonymisedFacts(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Equal(t, before, may())
		var linked int
		require.NoError(t, db.QueryRow(store.Rebind(s.Driver(), `SELECT
			(SELECT COUNT(*) FROM timeline_events WHERE case_id = ? AND counts_as <> '')
			+ (SELECT COUNT(*) FROM payments WHERE case_id = ?)`), c.ID, c.ID).Scan(&linked))
		require.Zero(t, linked)
		n, err = s.CutAnonymisedFacts(ctx)
		require.NoError(t, err)
		require.Zero(t, n, "once")
	})
}
