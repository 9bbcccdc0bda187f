package store

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
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
// or, like busy_timeout, after the pool's limit, as "database is locked".
func TestWritersTakeTurnsInOrder(t *testing.T) {
	p := newSQLitePool(nil, nil, 200*time.Millisecond)
	release, err := p.take(context.Background())
	require.NoError(t, err)

	var mu sync.Mutex
	var order []int
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Go(func() {
			r, err := p.take(context.Background())
			require.NoError(t, err)
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			r()
		})
		time.Sleep(10 * time.Millisecond) // queued in this order
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = p.take(ctx)
	require.ErrorIs(t, err, context.Canceled)

	release()
	wg.Wait()
	require.Equal(t, []int{0, 1, 2, 3, 4}, order)

	release, err = p.take(context.Background())
	require.NoError(t, err)
	_, err = p.take(context.Background())
	require.ErrorIs(t, err, errWriterBusy)
	require.True(t, Unavailable(err), "a client is told to retry")
	release()
}

// The read pool is read-only: a write sent there fails instead of contending.
func TestTheReadPoolRefusesWrites(t *testing.T) {
	p, err := openSQLite(filepath.Join(t.TempDir(), "x.db"), 2)
	require.NoError(t, err)
	defer p.close()
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
