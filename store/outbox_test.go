package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/store"
)

// registryWrite is a case-file write that moves the case to stage and queues that
// change for the registry.
func registryWrite(caseID string, seq int64, stage contract.Stage) contract.Changes {
	at := time.Now().UTC()
	st := contract.CaseState{Seq: seq, Stage: stage, Status: contract.StatusActive}
	if stage == contract.StageClosed {
		st.Status = contract.StatusClosed
	}
	return contract.Changes{CaseID: caseID, WrittenIn: seq, State: st,
		Events: []contract.Event{{Key: fmt.Sprintf("%s/%d", caseID, seq), Type: "stage", Summary: string(stage), At: at}},
		Registry: []contract.RegistryChange{{Seq: seq, Record: contract.CaseRecord{CaseID: caseID, Reference: "HW-1",
			Stage: stage, Status: st.Status, UpdatedAt: at}}}}
}

// The registry's changes are queued with the case file's write, in its transaction:
// once however often the write is retried, and not at all when it fails.
func TestTheRegistryOutboxIsWrittenWithTheCaseFile(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		queued := 0
		s.OnRegistryQueued(func() { queued++ })
		c := newCase("GN")
		require.NoError(t, s.CreateCase(ctx, c, nil, started))
		require.NoError(t, s.RecordChanges(ctx, registryWrite(c.ID, 1, contract.StageIntake)))
		require.NoError(t, s.RecordChanges(ctx, registryWrite(c.ID, 1, contract.StageIntake)), "a retried write")
		require.NoError(t, s.RecordChanges(ctx, registryWrite(c.ID, 2, contract.StageCounselling)))
		rows, err := s.RegistryChanges(ctx, c.ID)
		require.NoError(t, err)
		require.Len(t, rows, 2)
		require.Equal(t, c.ID+"/registry/1", rows[0].Key())
		rec, err := rows[1].CaseRecord()
		require.NoError(t, err)
		require.Equal(t, contract.StageCounselling, rec.Stage)
		require.Equal(t, 3, queued, "the relay is woken by each write that queued")

		missing := uuid.NewString()
		require.ErrorIs(t, s.RecordChanges(ctx, registryWrite(missing, 1, contract.StageIntake)), store.ErrNotFound)
		rows, err = s.RegistryChanges(ctx, missing)
		require.NoError(t, err)
		require.Empty(t, rows, "the write failed, and its registry change with it")
	})
}

// Two relays never hold the same change, a case's changes are claimed one at a
// time in their order, a failed change waits for its next attempt, a refused one
// lets the next go, and a relay's claim ends with its lease.
func TestRelaysClaimEachCasesChangesInOrder(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		a, b := newCase("GN"), newCase("GN")
		for _, c := range []*store.Case{a, b} {
			require.NoError(t, s.CreateCase(ctx, c, nil, started))
			for seq, stage := range []contract.Stage{contract.StageIntake, contract.StageCounselling, contract.StageScreening} {
				require.NoError(t, s.RecordChanges(ctx, registryWrite(c.ID, int64(seq+1), stage)))
			}
		}
		now := time.Now().UTC().Add(time.Second)
		first, err := s.ClaimRegistryChanges(ctx, "relay-1", now, time.Minute, 10)
		require.NoError(t, err)
		require.Len(t, first, 2, "one change per case: the oldest")
		for _, r := range first {
			require.EqualValues(t, 1, r.Seq)
		}
		second, err := s.ClaimRegistryChanges(ctx, "relay-2", now, time.Minute, 10)
		require.NoError(t, err)
		require.Empty(t, second, "held by relay-1; the cases' later changes wait for them")

		// a's first is sent, b's first fails: a's second is next, b waits.
		require.NoError(t, s.RegistryChangeSent(ctx, a.ID, 1, now))
		require.NoError(t, s.RegistryChangeFailed(ctx, b.ID, 1, now.Add(time.Hour)))
		next, err := s.ClaimRegistryChanges(ctx, "relay-2", now, time.Minute, 10)
		require.NoError(t, err)
		require.Len(t, next, 1)
		require.Equal(t, a.ID, next[0].CaseID)
		require.EqualValues(t, 2, next[0].Seq)

		// relay-2 dies holding a's second: after its lease, relay-1 takes it.
		later := now.Add(2 * time.Minute)
		again, err := s.ClaimRegistryChanges(ctx, "relay-1", later, time.Minute, 10)
		require.NoError(t, err)
		require.Len(t, again, 1)
		require.Equal(t, next[0].Key(), again[0].Key(), "the same change, under the same key")

		// The registry refuses it: done with, and the case's third goes.
		require.NoError(t, s.RegistryChangeRefused(ctx, a.ID, 2, later, "stage unknown"))
		third, err := s.ClaimRegistryChanges(ctx, "relay-1", later, time.Minute, 10)
		require.NoError(t, err)
		require.Len(t, third, 1)
		require.EqualValues(t, 3, third[0].Seq)
		require.NoError(t, s.RegistryChangeSent(ctx, a.ID, 3, later))

		// b's first is tried again at its time, and only then.
		retried, err := s.ClaimRegistryChanges(ctx, "relay-2", now.Add(time.Hour), time.Minute, 10)
		require.NoError(t, err)
		require.Len(t, retried, 1)
		require.Equal(t, b.ID, retried[0].CaseID)
		require.EqualValues(t, 1, retried[0].Seq)
		rows, err := s.RegistryChanges(ctx, b.ID)
		require.NoError(t, err)
		require.Equal(t, 1, rows[0].Attempts)

		n, oldest, err := s.RegistryBacklog(ctx)
		require.NoError(t, err)
		require.EqualValues(t, 3, n, "b's three")
		require.False(t, oldest.IsZero())
	})
}

// A closed case is anonymised only once the registry has all its changes (sent
// after the registry's erasure, the last would make its record again), and its
// outbox goes with its personal data.
func TestAnonymisationWaitsForTheRegistryOutbox(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		c := newCase("GN")
		require.NoError(t, s.CreateCase(ctx, c, nil, started))
		require.NoError(t, s.RecordChanges(ctx, registryWrite(c.ID, 1, contract.StageClosed)))
		by := store.AuditEntry{ActorUser: "retention", ActorRole: "system"}
		ids, err := s.DueForAnonymisation(ctx, time.Now().UTC().Add(time.Hour), 10)
		require.NoError(t, err)
		require.NotContains(t, ids, c.ID, "its closure has not reached the registry")

		require.NoError(t, s.RegistryChangeSent(ctx, c.ID, 1, time.Now().UTC()))
		n, err := s.AnonymiseClosedBefore(ctx, time.Now().UTC().Add(time.Hour), 10, by)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		rows, err := s.RegistryChanges(ctx, c.ID)
		require.NoError(t, err)
		require.Empty(t, rows)
	})
}
