package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/store"
	"github.com/homeward/homeward/store/storetest"
)

func registrationAudit() []store.AuditEntry {
	return []store.AuditEntry{{At: time.Now().UTC(), ActorUser: "caseworker-de", ActorRole: "caseworker",
		Part: "registration", Action: "create", RequestID: "r1"}}
}

// The case, its audit entry and its search terms are committed together before
// start runs (the workflow's first write needs the row). A failed start leaves
// the case registered, its start pending: CasesToStart finds it.
func TestCreateCaseCommitsTheCaseWithItsAuditBeforeStart(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		c := newCase("GN")
		require.NoError(t, s.CreateCase(ctx, c, registrationAudit(), func(ctx context.Context, cs *store.Case) (string, error) {
			got, err := s.CaseByID(ctx, cs.ID)
			require.NoError(t, err, "the row is visible to others while start runs")
			require.True(t, got.Unstarted())
			require.Equal(t, cs.Reference, got.Reference)
			trail, err := s.AuditTrail(ctx, cs.ID)
			require.NoError(t, err)
			require.Len(t, trail, 1, "audited with the case")
			return "run-1", nil
		}))
		require.Equal(t, "run-1", c.RunID)

		failed := newCase("GN")
		err := s.CreateCase(ctx, failed, registrationAudit(), func(context.Context, *store.Case) (string, error) {
			return "", errors.New("temporal unavailable")
		})
		require.ErrorIs(t, err, store.ErrStartPending)
		got, err := s.CaseByID(ctx, failed.ID)
		require.NoError(t, err, "the case stands")
		require.True(t, got.Unstarted())
		trail, err := s.AuditTrail(ctx, failed.ID)
		require.NoError(t, err)
		require.Len(t, trail, 1)
		pending, err := s.CasesToStart(ctx, time.Now().Add(time.Minute), 10)
		require.NoError(t, err)
		require.Len(t, pending, 1)
		require.Equal(t, failed.ID, pending[0].ID)

		require.NoError(t, s.StartCase(ctx, &pending[0], func(context.Context, *store.Case) (string, error) { return "run-2", nil }))
		pending, err = s.CasesToStart(ctx, time.Now().Add(time.Minute), 10)
		require.NoError(t, err)
		require.Empty(t, pending)
	})
}

// A caller that hangs up while start runs does not cut the registration short.
func TestCreateCaseStartsDetachedFromTheCallersCancellation(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx, cancel := context.WithCancel(context.Background())
		c := newCase("GN")
		require.NoError(t, s.CreateCase(ctx, c, registrationAudit(), func(sctx context.Context, _ *store.Case) (string, error) {
			cancel()
			if sctx.Err() != nil {
				return "", sctx.Err()
			}
			_, ok := sctx.Deadline()
			require.True(t, ok, "start has its own deadline")
			return "run-1", nil
		}))
		got, err := s.CaseByID(context.Background(), c.ID)
		require.NoError(t, err)
		require.Equal(t, "run-1", got.RunID)
	})
}

// A start whose answer was lost, but whose workflow ran and wrote the case file:
// the run ID the workflow wrote stands, and the case is not started again.
func TestCreateCaseKeepsTheRunIDItsWorkflowWrote(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		c := newCase("GN")
		err := s.CreateCase(ctx, c, registrationAudit(), func(ctx context.Context, cs *store.Case) (string, error) {
			require.NoError(t, s.RecordCase(ctx, contract.Record{CaseID: cs.ID, EventKey: cs.ID + "-registered", Type: "registered",
				Summary: "Case registered", At: time.Now().UTC(), RunID: "run-7",
				State: contract.CaseState{Seq: 1, Stage: contract.StageIntake, Status: contract.StatusActive}}))
			return "", errors.New("context deadline exceeded")
		})
		require.ErrorIs(t, err, store.ErrStartPending)
		got, err := s.CaseByID(ctx, c.ID)
		require.NoError(t, err)
		require.Equal(t, "run-7", got.RunID)
		pending, err := s.CasesToStart(ctx, time.Now().Add(time.Minute), 10)
		require.NoError(t, err)
		require.Empty(t, pending)
	})
}

// Two registrations of one person at the same time: one case.
func TestConcurrentRegistrationsOfOnePersonMakeOneCase(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		var wg sync.WaitGroup
		errs := make([]error, 6)
		for i := range errs {
			wg.Go(func() {
				c := newCase("GN")
				c.BeneficiaryKey = "same-person"
				errs[i] = s.CreateCase(ctx, c, nil, started)
			})
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
				continue
			}
			require.True(t, errors.Is(err, store.ErrActiveCaseExists) || errors.Is(err, store.ErrConflict), err)
		}
		require.Equal(t, 1, ok)
	})
}

// On SQLite, a write transaction does not hold up reads (they have their own
// connections), and writers take turns in order instead of polling SQLite's lock.
func TestSQLiteReadsDoNotWaitForTheWriter(t *testing.T) {
	s := storetest.Open(t, "sqlite")
	ctx := context.Background()
	c := newCase("GN")
	require.NoError(t, s.CreateCase(ctx, c, nil, started))

	inTx := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error)
	db, err := s.SQL()
	require.NoError(t, err)
	go func() {
		tx, err := db.BeginTx(ctx, nil) // the writer's one connection, in a write transaction
		if err != nil {
			done <- err
			return
		}
		_, err = tx.ExecContext(ctx, "UPDATE counters SET value = value WHERE name = 'case'")
		close(inTx)
		<-release
		done <- errors.Join(err, tx.Commit())
	}()
	<-inTx
	// The transaction stays open until these reads are done: a read that waited
	// for the writer would wait for ever, and fail at its deadline.
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	got, err := s.CaseByID(rctx, c.ID)
	require.NoError(t, err, "a read while a write transaction is open")
	require.Equal(t, c.ID, got.ID)
	_, err = s.ListCases(rctx, store.Filter{Limit: 10})
	require.NoError(t, err, "a list while a write transaction is open")
	close(release)
	require.NoError(t, <-done)

	// Writers in turn: many concurrent transactions, none waiting in SQLite's busy handler.
	var wg sync.WaitGroup
	errs := make([]error, 40)
	for i := range errs {
		wg.Go(func() {
			errs[i] = s.RecordCase(ctx, contract.Record{CaseID: c.ID, EventKey: fmt.Sprintf("%s-%d", c.ID, i),
				Type: "stage", Summary: "s", At: time.Now().UTC(), WrittenIn: int64(i),
				State: contract.CaseState{Seq: int64(i), Stage: contract.StageCounselling, Status: contract.StatusActive}})
		})
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	tl, err := s.Timeline(ctx, c.ID)
	require.NoError(t, err)
	require.Len(t, tl, 40)
}
