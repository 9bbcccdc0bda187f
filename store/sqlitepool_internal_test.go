package store

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

func TestReadsAreTheStatementsThatStartWithSelect(t *testing.T) {
	for q, want := range map[string]bool{
		"SELECT * FROM cases":                              true,
		"  select count(*) FROM (SELECT 1) d":              true,
		"(SELECT 1) UNION (SELECT 2)":                      true,
		"INSERT INTO counters (name, value) VALUES (?, 1)": false,
		"UPDATE cases SET run_id = ?":                      false,
		"DELETE FROM cases WHERE id = ?":                   false,
		"PRAGMA wal_checkpoint":                            false,
		"WITH x AS (SELECT 1) DELETE FROM cases":           false,
		"SELEC":                                            false,
	} {
		require.Equal(t, want, reads(q), q)
	}
}

// Writers take their turns in the order they asked; a wait ends with its context
// or, like busy_timeout, after the pool's limit, as "database is locked". The
// test runs in a synctest bubble: synctest.Wait returns once each writer is
// blocked in its turn, so the queue's order is the order they were started in,
// and the limit passes on the bubble's clock, not the machine's.
func TestWritersTakeTurnsInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newSQLitePool(nil, nil, 200*time.Millisecond)
		release, err := p.take(context.Background())
		require.NoError(t, err)

		var mu sync.Mutex
		var order []int
		errs := make([]error, 5)
		var wg sync.WaitGroup
		for i := range 5 {
			wg.Go(func() {
				r, err := p.take(context.Background())
				if errs[i] = err; err != nil {
					return
				}
				mu.Lock()
				order = append(order, i)
				mu.Unlock()
				r()
			})
			synctest.Wait() // writer i waits for its turn before i+1 asks
		}

		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err = p.take(ctx)
		require.ErrorIs(t, err, context.Canceled)

		release()
		wg.Wait()
		for i, err := range errs {
			require.NoError(t, err, "writer %d", i)
		}
		require.Equal(t, []int{0, 1, 2, 3, 4}, order)

		release, err = p.take(context.Background())
		require.NoError(t, err)
		began := time.Now()
		_, err = p.take(context.Background())
		require.ErrorIs(t, err, errWriterBusy)
		require.True(t, Unavailable(err), "a client is told to retry")
		require.Equal(t, 200*time.Millisecond, time.Since(began), "the wait ends at the pool's limit")
		release()
	})
}

// The read pool is read-only: a write sent there fails instead of contending.
func TestTheReadPoolRefusesWrites(t *testing.T) {
	p, err := openSQLite(filepath.Join(t.TempDir(), "x.db"), 2)
	require.NoError(t, err)
	defer func() { _ = p.close() }()
	_, err = p.w.Exec("CREATE TABLE t (v int)")
	require.NoError(t, err)
	_, err = p.r.Exec("INSERT INTO t VALUES (1)")
	require.ErrorContains(t, err, "readonly")
	var mode string
	require.NoError(t, p.r.QueryRow("PRAGMA journal_mode").Scan(&mode))
	require.Equal(t, "wal", mode)

	// A statement first run in a transaction is prepared when the transaction ends.
	tx, err := p.BeginTx(context.Background(), nil)
	require.NoError(t, err)
	_, err = tx.ExecContext(context.Background(), "INSERT INTO t VALUES (?)", 1)
	require.NoError(t, err)
	require.NoError(t, tx.(interface{ Commit() error }).Commit())
	require.NotNil(t, p.ws.lookup("INSERT INTO t VALUES (?)"))
	tx, err = p.BeginTx(context.Background(), nil)
	require.NoError(t, err)
	_, err = tx.ExecContext(context.Background(), "INSERT INTO t VALUES (?)", 2)
	require.NoError(t, err)
	require.NoError(t, tx.(interface{ Rollback() error }).Rollback())
	var n int
	require.NoError(t, p.rs.queryRow(context.Background(), p.r, "SELECT COUNT(*) FROM t", nil).Scan(&n))
	require.Equal(t, 1, n)
}
