package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
)

// sqlitePool is GORM's connection pool on SQLite. SQLite has one write lock per
// file; writers that contend for it inside SQLite wait in its busy handler, which
// sleeps and polls (1, 2, 5, ... 100 ms), so under load a short write can wait
// hundreds of milliseconds while the lock is free most of the time. Here writers
// take turns in the process instead: every write statement and every transaction
// runs on one writer connection, and a goroutine waits for its turn in a queue
// (first come, first served; the wait ends with the caller's context). Reads run
// on their own read-only connections: under WAL they never wait for the writer.
// SQLite's busy_timeout stays as the backstop for other processes on the same
// file (homeward api and homeward worker run apart in production).
//
// Statements are prepared once per connection and kept (up to stmtCacheSize of
// each kind): SQLite's parser was 10% of the process's CPU. GORM's PrepareStmt
// is not used: its cache is shared by transactions and plain statements, and a
// statement prepared on the read pool cannot run in a writer transaction.
type sqlitePool struct {
	w, r   *sql.DB
	turn   chan struct{} // holding its one slot is the writer's turn
	wait   time.Duration // the longest wait for the turn, as busy_timeout was
	ws, rs stmtCache
}

// stmtCacheSize is how many statements each pool keeps prepared (a variable for
// the benchmark that compares without).
var stmtCacheSize = 512

func newSQLitePool(w, r *sql.DB, wait time.Duration) *sqlitePool {
	return &sqlitePool{w: w, r: r, turn: make(chan struct{}, 1), wait: wait}
}

// errWriterBusy reads as SQLite's own "database is locked", which callers
// already treat as "retry later" (store.Unavailable).
var errWriterBusy = errors.New("database is locked: waited too long for the writer's turn")

// take waits for the writer's turn. Go queues goroutines blocked on a channel
// send in order, so turns are taken first come, first served.
func (p *sqlitePool) take(ctx context.Context) (release func(), err error) {
	release = func() { <-p.turn }
	select {
	case p.turn <- struct{}{}:
		return release, nil
	default:
	}
	t := time.NewTimer(p.wait)
	defer t.Stop()
	select {
	case p.turn <- struct{}{}:
		return release, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
		return nil, errWriterBusy
	}
}

// reads says whether a statement only reads: those run on the read pool.
func reads(query string) bool {
	q := strings.TrimLeft(query, " \t\r\n(")
	return len(q) >= 6 && strings.EqualFold(q[:6], "select")
}

func (p *sqlitePool) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	if reads(query) {
		return p.r.PrepareContext(ctx, query)
	}
	return p.w.PrepareContext(ctx, query)
}

func (p *sqlitePool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if reads(query) {
		return p.rs.exec(ctx, p.r, query, args)
	}
	release, err := p.take(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	return p.ws.exec(ctx, p.w, query, args)
}

// QueryContext runs a read on the read pool, and a write that returns rows
// (INSERT ... RETURNING) on the writer. The turn is passed on once the query
// has its connection: the rows keep that connection until they are closed, and
// the next in turn waits for it in database/sql (alone, so still in order).
func (p *sqlitePool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if reads(query) {
		return p.rs.query(ctx, p.r, query, args)
	}
	release, err := p.take(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	return p.ws.query(ctx, p.w, query, args)
}

func (p *sqlitePool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if reads(query) {
		return p.rs.queryRow(ctx, p.r, query, args)
	}
	// *sql.Row cannot carry an error made here: without its turn (the context
	// ended, or the wait was too long) the statement still runs alone, as the
	// writer has one connection, and database/sql reports the context's end.
	if release, err := p.take(ctx); err == nil {
		defer release()
	}
	return p.ws.queryRow(ctx, p.w, query, args)
}

// BeginTx starts a transaction on the writer once it is this goroutine's turn;
// the turn ends with Commit or Rollback. (BEGIN IMMEDIATE, from the DSN: the
// transaction holds SQLite's write lock from its start.) A read-only
// transaction runs on the read pool and takes no turn.
func (p *sqlitePool) BeginTx(ctx context.Context, opts *sql.TxOptions) (gorm.ConnPool, error) {
	if opts != nil && opts.ReadOnly {
		tx, err := p.r.BeginTx(ctx, opts)
		if err != nil {
			return nil, err
		}
		return &sqliteTx{Tx: tx, cache: &p.rs, db: p.r, release: func() {}}, nil
	}
	release, err := p.take(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := p.w.BeginTx(ctx, opts)
	if err != nil {
		release()
		return nil, err
	}
	return &sqliteTx{Tx: tx, cache: &p.ws, db: p.w, release: sync.OnceFunc(release)}, nil
}

// GetDBConn is the writer's pool: what Store.SQL, migrations and Ping use.
func (p *sqlitePool) GetDBConn() (*sql.DB, error) { return p.w, nil }

// Ping checks both pools.
func (p *sqlitePool) Ping() error {
	return errors.Join(p.w.Ping(), p.r.Ping())
}

func (p *sqlitePool) close() error {
	p.ws.close()
	p.rs.close()
	if p.r == p.w {
		return p.w.Close()
	}
	return errors.Join(p.w.Close(), p.r.Close())
}

// sqliteTx is a transaction on the writer (or a read-only one on the read pool).
type sqliteTx struct {
	*sql.Tx
	cache   *stmtCache
	db      *sql.DB
	release func()
}

func (t *sqliteTx) Commit() error {
	defer t.end()
	return t.Tx.Commit()
}

func (t *sqliteTx) Rollback() error {
	defer t.end()
	return t.Tx.Rollback()
}

// end prepares the statements the transaction ran unprepared (the writer's one
// connection is free again, and still this goroutine's), then passes the turn.
func (t *sqliteTx) end() {
	t.cache.preparePending(t.db)
	t.release()
}

func (t *sqliteTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.cache.lookup(query); st != nil {
		return t.Tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return t.Tx.ExecContext(ctx, query, args...)
}

func (t *sqliteTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := t.cache.lookup(query); st != nil {
		return t.Tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return t.Tx.QueryContext(ctx, query, args...)
}

func (t *sqliteTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.cache.lookup(query); st != nil {
		return t.Tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return t.Tx.QueryRowContext(ctx, query, args...)
}

// GetDBConn lets gorm.DB.DB() work inside a transaction too.
func (t *sqliteTx) GetDBConn() (*sql.DB, error) { return t.db, nil }

// stmtCache keeps the statements prepared on one pool, by their text. A
// database/sql statement prepares itself on each connection it runs on, once.
// GORM's statements are few (their texts hold placeholders, not values); past
// stmtCacheSize, a statement runs unprepared. A statement is prepared outside
// transactions: inside one, the writer's only connection is the transaction's,
// and preparing on the pool would wait for it forever. A transaction's statement
// seen for the first time runs unprepared and is prepared when it ends.
type stmtCache struct {
	mu      sync.RWMutex
	m       map[string]*sql.Stmt
	pending map[string]bool
}

func (c *stmtCache) lookup(query string) *sql.Stmt {
	c.mu.RLock()
	st, ok := c.m[query]
	c.mu.RUnlock()
	if ok || !c.room() {
		return st
	}
	c.mu.Lock()
	if c.pending == nil {
		c.pending = map[string]bool{}
	}
	c.pending[query] = true
	c.mu.Unlock()
	return nil
}

func (c *stmtCache) room() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)+len(c.pending) < stmtCacheSize
}

func (c *stmtCache) preparePending(db *sql.DB) {
	c.mu.Lock()
	var qs []string
	for q := range c.pending {
		qs = append(qs, q)
	}
	clear(c.pending)
	c.mu.Unlock()
	for _, q := range qs {
		c.get(db, q)
	}
}

// get returns the statement prepared for query, preparing it if there is room.
// The lock is not held while preparing: that may wait for a connection.
func (c *stmtCache) get(db *sql.DB, query string) *sql.Stmt {
	c.mu.RLock()
	st, ok := c.m[query]
	full := len(c.m) >= stmtCacheSize
	c.mu.RUnlock()
	if ok || full {
		return st
	}
	// Not with the caller's context: the statement outlives the call.
	st, err := db.Prepare(query)
	if err != nil {
		return nil // run unprepared: the error, if it is one, comes from there
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if had, ok := c.m[query]; ok || len(c.m) >= stmtCacheSize {
		_ = st.Close()
		return had
	}
	if c.m == nil {
		c.m = map[string]*sql.Stmt{}
	}
	c.m[query] = st
	return st
}

func (c *stmtCache) exec(ctx context.Context, db *sql.DB, query string, args []any) (sql.Result, error) {
	if st := c.get(db, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return db.ExecContext(ctx, query, args...)
}

func (c *stmtCache) query(ctx context.Context, db *sql.DB, query string, args []any) (*sql.Rows, error) {
	if st := c.get(db, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return db.QueryContext(ctx, query, args...)
}

func (c *stmtCache) queryRow(ctx context.Context, db *sql.DB, query string, args []any) *sql.Row {
	if st := c.get(db, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return db.QueryRowContext(ctx, query, args...)
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		_ = st.Close()
	}
	c.m = nil
}

// sqliteDSNs returns the writer's DSN and the readers'. The writer begins its
// transactions with BEGIN IMMEDIATE; readers are read-only connections
// (query_only), so a write sent to them by mistake fails instead of contending.
// An in-memory database is one per connection pool: readers share the writer.
func sqliteDSNs(dsn string) (writer, reader string, shared bool) {
	if !strings.Contains(dsn, "_pragma") {
		dsn += sep(dsn) + "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_txlock=immediate"
	}
	if strings.Contains(dsn, ":memory:") || strings.Contains(dsn, "mode=memory") {
		return dsn, dsn, true
	}
	reader = strings.ReplaceAll(dsn, "_txlock=immediate", "_txlock=deferred")
	reader += sep(reader) + "_pragma=query_only(1)"
	return dsn, reader, false
}

func sep(dsn string) string {
	if strings.Contains(dsn, "?") {
		return "&"
	}
	return "?"
}

// openSQLite opens the writer's pool (one connection) and the readers'.
func openSQLite(dsn string, readers int) (*sqlitePool, error) {
	wdsn, rdsn, shared := sqliteDSNs(dsn)
	w, err := sql.Open("sqlite", wdsn)
	if err != nil {
		return nil, fmt.Errorf("store: opening sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0) // keep the writer's connection and its prepared statements
	r := w
	if !shared {
		if r, err = sql.Open("sqlite", rdsn); err != nil {
			_ = w.Close()
			return nil, fmt.Errorf("store: opening sqlite: %w", err)
		}
		r.SetMaxOpenConns(readers)
		r.SetMaxIdleConns(readers)
		r.SetConnMaxIdleTime(5 * time.Minute)
	}
	return newSQLitePool(w, r, 10*time.Second), nil
}
