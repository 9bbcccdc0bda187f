// Package store keeps the case file in a relational database through GORM:
// SQLite (pure Go) on one machine, Postgres in production. The schema comes from
// versioned migrations (goose, embedded SQL per dialect), never from AutoMigrate.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pressly/goose/v3"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

//go:embed migrations
var migrations embed.FS

// Errors the rest of Homeward tells apart.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
)

// Store is the case file.
type Store struct {
	db     *gorm.DB
	driver string
	sealer Sealer
	sqlite *sqlitePool // nil on Postgres
	// written, if set, is told of each case whose file a write changed (OnWritten).
	written atomic.Pointer[func(caseID string)]
	// queued, if set, is told when a write queued changes for the registry (OnRegistryQueued).
	queued atomic.Pointer[func()]
}

// OnWritten has f told, in this process, of every case-file write that committed
// (by case ID), so that a watcher waits for a case's next step without polling
// the database. f runs on the writer's goroutine: it must not block.
func (s *Store) OnWritten(f func(caseID string)) { s.written.Store(&f) }

// Sealer encrypts the most sensitive columns at rest (identity, household,
// vulnerabilities, the case's state); its own keys, not Temporal's.
type Sealer interface {
	Seal(column, plain string) (string, error)
	Open(column, value string) (string, error)
	Hash(parts ...string) string
}

// plain is the sealer of a store given none: values are stored as they are, and
// no identity key is made.
type plain struct{}

func (plain) Seal(_, v string) (string, error) { return v, nil }
func (plain) Open(_, v string) (string, error) { return v, nil }
func (plain) Hash(...string) string            { return "" }

// IdentityKey is the keyed hash that finds a beneficiary's other active case.
func (s *Store) IdentityKey(parts ...string) string { return s.sealer.Hash(parts...) }

// WithSealer makes the store seal its sensitive columns.
func (s *Store) WithSealer(x Sealer) *Store {
	s.sealer = x
	return s
}

// Open connects to the database. For SQLite the DSN is a file path (its folder is
// created); WAL and a busy timeout are set so the API and the worker can share it.
// On SQLite writes take turns on one connection and reads have their own
// (sqlitePool); Postgres keeps one pool of 20 connections.
func Open(driver, dsn string) (*Store, error) {
	var dial gorm.Dialector
	var pool *sqlitePool
	switch driver {
	case "sqlite":
		if dir := filepath.Dir(strings.TrimPrefix(strings.SplitN(dsn, "?", 2)[0], "file:")); dir != "" {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("store: creating %s: %w", dir, err)
			}
		}
		var err error
		if pool, err = openSQLite(dsn, 4); err != nil {
			return nil, err
		}
		dial = sqlite.Dialector{DriverName: "sqlite", Conn: pool}
	case "postgres":
		dial = postgres.Open(dsn)
	default:
		return nil, fmt.Errorf("store: unknown driver %q", driver)
	}
	db, err := gorm.Open(dial, &gorm.Config{
		Logger:                 logger.Discard, // queries carry personal data: never logged
		SkipDefaultTransaction: true,
		NowFunc:                func() time.Time { return time.Now().UTC() },
		TranslateError:         true,
	})
	if err != nil {
		if pool != nil {
			_ = pool.close()
		}
		return nil, fmt.Errorf("store: opening %s: %w", driver, err)
	}
	s := &Store{db: db, driver: driver, sealer: plain{}, sqlite: pool}
	if pool == nil {
		sqlDB, err := db.DB()
		if err != nil {
			return nil, err
		}
		// As many idle as open: database/sql keeps 2 idle connections by default,
		// and closes the others as they come back; a new Postgres connection is a
		// new server process (milliseconds). Idle ones close after 5 minutes.
		sqlDB.SetMaxOpenConns(20)
		sqlDB.SetMaxIdleConns(20)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	}
	return s, nil
}

// SetMaxConns sets the most connections the store opens on Postgres (as many
// kept idle); SQLite's pool is its own.
func (s *Store) SetMaxConns(n int) {
	if s.sqlite != nil || n < 1 {
		return
	}
	if sqlDB, err := s.db.DB(); err == nil {
		sqlDB.SetMaxOpenConns(n)
		sqlDB.SetMaxIdleConns(n)
	}
}

// Close releases the connections.
func (s *Store) Close() error {
	if s.sqlite != nil {
		return s.sqlite.close()
	}
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// Driver names the dialect (sqlite or postgres).
func (s *Store) Driver() string { return s.driver }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if s.sqlite != nil {
		return errors.Join(s.sqlite.w.PingContext(ctx), s.sqlite.r.PingContext(ctx))
	}
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// Migrate applies every migration not yet applied and reports how many ran.
func (s *Store) Migrate(ctx context.Context) (int, error) {
	sqlDB, err := s.db.DB()
	if err != nil {
		return 0, err
	}
	dialect, dir := goose.DialectPostgres, "migrations/postgres"
	if s.driver == "sqlite" {
		dialect, dir = goose.DialectSQLite3, "migrations/sqlite"
	}
	fsys, err := fs.Sub(migrations, dir)
	if err != nil {
		return 0, err
	}
	p, err := goose.NewProvider(dialect, sqlDB, fsys)
	if err != nil {
		return 0, fmt.Errorf("store: migrations: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return 0, fmt.Errorf("store: migrating: %w", err)
	}
	return len(res), nil
}

// SQL exposes the connection pool for tests and benchmarks that seed data. On
// SQLite it is the writer's (one connection): whoever holds it writes, outside
// the store's turns.
func (s *Store) SQL() (*sql.DB, error) { return s.db.DB() }

func notFound(err error) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ErrNotFound
	}
	return err
}
