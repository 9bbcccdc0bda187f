package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/codec"
	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/money"
	"github.com/homeward/homeward/store"
	"github.com/homeward/homeward/store/storetest"
)

func newCase(country string) *store.Case {
	id := uuid.NewString()
	now := time.Now().UTC()
	return &store.Case{ID: id, Status: "active", Stage: "Intake", StageEnteredAt: now, HostCountry: "DE",
		CountryOfReturn: country, SendingOffice: "DE-BER", ReceivingOffice: "GN-CKY", Programme: "REAG-GARP",
		Beneficiary: "{}", Household: "[]", Vulnerabilities: "[]", Consent: "{}", State: "{}", Currency: "EUR",
		CreatedBy: "caseworker-de", WorkflowID: contract.WorkflowID(id), CreatedAt: now, UpdatedAt: now}
}

func started(context.Context, *store.Case) (string, error) { return "run-1", nil }

func eachDriver(t *testing.T, f func(t *testing.T, s *store.Store)) {
	for _, d := range storetest.Drivers {
		t.Run(d, func(t *testing.T) { f(t, storetest.Open(t, d)) })
	}
}

func TestCreateCaseIsAllOrNothing(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		ok := newCase("GN")
		require.NoError(t, s.CreateCase(ctx, ok, nil, started))
		require.Regexp(t, `^HW-\d{4}-\d{6}$`, ok.Reference)

		// The registration's writes are one transaction: an audit entry that cannot
		// be written (here, two with one ID) leaves no case, and start is not called.
		failed := newCase("GN")
		clash := []store.AuditEntry{{ID: 1 << 40, At: time.Now().UTC(), Part: "registration", Action: "create"},
			{ID: 1 << 40, At: time.Now().UTC(), Part: "registration", Action: "create"}}
		err := s.CreateCase(ctx, failed, clash, func(context.Context, *store.Case) (string, error) {
			t.Error("a registration that did not commit starts no workflow")
			return "", nil
		})
		require.Error(t, err)
		_, err = s.CaseByID(ctx, failed.ID)
		require.ErrorIs(t, err, store.ErrNotFound, "nothing of a registration that did not commit")
		trail, err := s.AuditTrail(ctx, failed.ID)
		require.NoError(t, err)
		require.Empty(t, trail)

		got, err := s.CaseByID(ctx, ok.ID)
		require.NoError(t, err)
		require.Equal(t, "run-1", got.RunID)
	})
}

func TestRecordCaseIsIdempotentAndKeepsTheNewestState(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		c := newCase("GN")
		require.NoError(t, s.CreateCase(ctx, c, nil, started))
		paid := time.Now().UTC()
		rec := func(seq int64, key string, stage contract.Stage) contract.Record {
			return contract.Record{CaseID: c.ID, EventKey: key, Type: "stage", Summary: "moved", At: time.Now().UTC(),
				Actor: contract.Actor{User: "u", Role: contract.RoleCaseworker},
				State: contract.CaseState{Seq: seq, Stage: stage, Status: contract.StatusActive,
					Procurement: []contract.ProcurementItem{{ItemID: "i1", Payment: &contract.PaymentInfo{
						PaymentID: "pay-1", Amount: money.Of(12000, "EUR"), Payee: "supplier", PaidAt: paid}}}}}
		}
		require.NoError(t, s.RecordCase(ctx, rec(2, "e2", contract.StageScreening)))
		require.NoError(t, s.RecordCase(ctx, rec(2, "e2", contract.StageScreening)), "a retry writes nothing twice")
		require.NoError(t, s.RecordCase(ctx, rec(1, "e1", contract.StageCounselling)), "an older state arriving late")

		got, err := s.CaseByID(ctx, c.ID)
		require.NoError(t, err)
		require.Equal(t, "Screening", got.Stage, "the newest state wins")
		tl, err := s.Timeline(ctx, c.ID)
		require.NoError(t, err)
		require.Len(t, tl, 2)
		ps, err := s.Payments(ctx, c.ID)
		require.NoError(t, err)
		require.Len(t, ps, 1)
		require.EqualValues(t, 12000, ps[0].AmountCents)
		require.Equal(t, "GN", ps[0].CountryOfReturn, "the case's country, for the report")

		// A workflow task (history length 10) wrote steps 3 and 4, then failed; its
		// next attempt (history length 13) takes another path and writes only step 3.
		// The row and the timeline keep what the case's history keeps.
		inTask := func(r contract.Record, task int64) contract.Record { r.WrittenIn = task; return r }
		require.NoError(t, s.RecordCase(ctx, inTask(rec(3, "e3", contract.StageMedicalClearance), 10)))
		require.NoError(t, s.RecordCase(ctx, inTask(rec(4, "e4", contract.StageTravel), 10)))
		again := inTask(rec(3, "e3", contract.StageScreening), 13)
		again.Type, again.Summary = "overdue", "overdue instead"
		require.NoError(t, s.RecordCase(ctx, again))
		got, err = s.CaseByID(ctx, c.ID)
		require.NoError(t, err)
		require.Equal(t, "Screening", got.Stage, "the retried task's step 3, not the failed task's step 4")
		require.EqualValues(t, 3, got.StateSeq)
		tl, err = s.Timeline(ctx, c.ID)
		require.NoError(t, err)
		summaries := map[string]string{}
		for _, e := range tl {
			summaries[e.EventKey] = e.Summary
		}
		require.Equal(t, "overdue instead", summaries["e3"], "step 3 as the retried task recorded it")
		// A reset of the workflow: a new run of the same generation, with a shorter
		// history, takes over the case file.
		reset := inTask(rec(3, "e3", contract.StagePlanApproval), 5)
		reset.RunID = "run-after-reset"
		require.NoError(t, s.RecordCase(ctx, reset))
		got, err = s.CaseByID(ctx, c.ID)
		require.NoError(t, err)
		require.Equal(t, "PlanApproval", got.Stage, "the reset run's write")
		require.Equal(t, "run-after-reset", got.RunID)
		// An earlier task's write arriving late changes nothing.
		late := inTask(rec(4, "e4", contract.StageTravel), 4)
		late.RunID = "run-after-reset"
		require.NoError(t, s.RecordCase(ctx, late))
		got, err = s.CaseByID(ctx, c.ID)
		require.NoError(t, err)
		require.Equal(t, "PlanApproval", got.Stage)

		err = s.RecordCase(ctx, contract.Record{CaseID: uuid.NewString(), EventKey: "x", State: contract.CaseState{Seq: 1}})
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}

func TestRecordChangesWritesATasksEventsAtOnce(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		c := newCase("GN")
		require.NoError(t, s.CreateCase(ctx, c, nil, started))
		at := time.Now().UTC().Truncate(time.Millisecond)
		approver := contract.Actor{User: "approver-gn", Role: contract.RoleApprover}
		ch := contract.Changes{CaseID: c.ID, RunID: "run-2", WrittenIn: 40, Events: []contract.Event{
			{Key: c.ID + "/7", Type: "plan_decision", Actor: approver, Summary: "Plan v1: approve", At: at},
			{Key: c.ID + "/8", Type: "stage", Actor: contract.Actor{User: "homeward", Role: "system"}, Summary: "Procurement", At: at.Add(time.Millisecond)},
		}, State: contract.CaseState{Seq: 8, Stage: contract.StageProcurement, Status: contract.StatusActive}}
		require.NoError(t, s.RecordChanges(ctx, ch))
		require.NoError(t, s.RecordChanges(ctx, ch), "a retried write adds nothing")

		got, err := s.CaseByID(ctx, c.ID)
		require.NoError(t, err)
		require.Equal(t, "Procurement", got.Stage)
		require.EqualValues(t, 8, got.StateSeq)
		require.Equal(t, "run-2", got.RunID)
		require.True(t, got.UpdatedAt.Equal(at.Add(time.Millisecond)), "updated when the last event happened")
		tl, err := s.Timeline(ctx, c.ID)
		require.NoError(t, err)
		require.Len(t, tl, 2)
		require.Equal(t, []string{"plan_decision", "stage"}, []string{tl[0].Type, tl[1].Type}, "in the order recorded")
		require.Equal(t, "approver-gn", tl[0].ActorUser)
	})
}

// A watcher in the process hears of each write that committed, and of no other.
func TestWatchersHearOfCommittedWrites(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		var heard []string
		s.OnWritten(func(caseID string) { heard = append(heard, caseID) })
		c := newCase("GN")
		require.NoError(t, s.CreateCase(ctx, c, nil, started))
		st := contract.CaseState{Seq: 1, Stage: contract.StageCounselling, Status: contract.StatusActive}
		require.NoError(t, s.RecordChanges(ctx, contract.Changes{CaseID: c.ID, WrittenIn: 5, State: st,
			Events: []contract.Event{{Key: c.ID + "/1", Type: "stage", Summary: "Counselling", At: time.Now().UTC()}}}))
		require.Equal(t, []string{c.ID}, heard)

		missing := uuid.NewString()
		require.ErrorIs(t, s.RecordChanges(ctx, contract.Changes{CaseID: missing, WrittenIn: 5, State: st}), store.ErrNotFound)
		require.Equal(t, []string{c.ID}, heard, "a write that failed is not heard of")
	})
}

func TestListPagesNewestFirstWithFilters(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		var ids []string
		for i := range 7 {
			c := newCase([]string{"GN", "SN"}[i%2])
			require.NoError(t, s.CreateCase(ctx, c, nil, started))
			ids = append(ids, c.ID)
		}
		var seen []string
		cursor := ""
		for {
			p, err := s.ListCases(ctx, store.Filter{Limit: 3, Cursor: cursor})
			require.NoError(t, err)
			for _, c := range p.Cases {
				seen = append(seen, c.ID)
			}
			if p.NextCursor == "" {
				break
			}
			cursor = p.NextCursor
		}
		for i := range ids {
			require.Equal(t, ids[len(ids)-1-i], seen[i], fmt.Sprint("position ", i))
		}
		p, err := s.ListCases(ctx, store.Filter{Limit: 50, CountryOfReturn: "SN"})
		require.NoError(t, err)
		require.Len(t, p.Cases, 3)
		p, err = s.ListCases(ctx, store.Filter{Limit: 50, Offices: []string{"XX-NOP"}})
		require.NoError(t, err)
		require.Empty(t, p.Cases)
		for _, bad := range []string{"!!", "zzz", "c1.-5", "c1.0", "c1."} {
			_, err = s.ListCases(ctx, store.Filter{Limit: 5, Cursor: bad})
			require.ErrorIs(t, err, store.ErrBadCursor, bad)
		}
	})
}

func TestTheAuditTrailIsAppendOnly(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		e := store.AuditEntry{At: time.Now().UTC(), ActorUser: "manager", ActorRole: "manager", CaseID: "c1",
			Part: "case_file", Action: "read", RequestID: "r1"}
		require.NoError(t, s.Audit(ctx, e, e))
		trail, err := s.AuditTrail(ctx, "c1")
		require.NoError(t, err)
		require.Len(t, trail, 2)

		db, err := s.SQL()
		require.NoError(t, err)
		_, err = db.Exec("UPDATE audit_log SET actor_user = 'someone else'")
		require.ErrorContains(t, err, "append-only")
		_, err = db.Exec("DELETE FROM audit_log")
		require.ErrorContains(t, err, "append-only")
		trail, err = s.AuditTrail(ctx, "c1")
		require.NoError(t, err)
		require.Equal(t, "manager", trail[0].ActorUser)
	})
}

func TestSensitiveColumnsAreSealedAtRest(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ring := codec.GenerateKeyRing()
		sealer, err := codec.NewSealer(ring, ring.ActiveKeyID())
		require.NoError(t, err)
		s.WithSealer(sealer)
		ctx := context.Background()
		c := newCase("GN")
		c.Beneficiary, c.Household, c.Vulnerabilities = `{"given_name":"Aminata"}`, `[{"given_name":"Mariama"}]`, `["victim_of_trafficking"]`
		c.BeneficiaryKey = s.IdentityKey("camara", "aminata", "1990-04-01", "GN")
		require.NoError(t, s.CreateCase(ctx, c, nil, started))
		require.Equal(t, `{"given_name":"Aminata"}`, c.Beneficiary, "the caller's copy stays readable")

		db, err := s.SQL()
		require.NoError(t, err)
		var raw string
		require.NoError(t, db.QueryRow("SELECT beneficiary || household || vulnerabilities FROM cases WHERE id = $1", c.ID).Scan(&raw))
		for _, secret := range []string{"Aminata", "Mariama", "trafficking"} {
			require.NotContains(t, raw, secret)
		}
		got, err := s.CaseByID(ctx, c.ID)
		require.NoError(t, err)
		require.Equal(t, `{"given_name":"Aminata"}`, got.Beneficiary)
		require.Equal(t, `["victim_of_trafficking"]`, got.Vulnerabilities)

		again := newCase("GN")
		again.BeneficiaryKey = c.BeneficiaryKey
		require.ErrorIs(t, s.CreateCase(ctx, again, nil, started), store.ErrActiveCaseExists, "one active case per person")
	})
}
