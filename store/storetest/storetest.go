// Package storetest opens real databases for tests: a SQLite file in the test's
// temporary folder, and a fresh Postgres database on the server named by
// HOMEWARD_TEST_POSTGRES_DSN, dropped when the test ends. A Postgres that is not
// configured or does not answer skips the Postgres run, except when CI=true: then
// it fails the test.
package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx" for creating test databases

	"github.com/homeward/homeward/store"
)

// Drivers are the dialects every store-backed test runs against.
var Drivers = []string{"sqlite", "postgres"}

// DSN returns a DSN for a new, empty, migrated-ready database of that driver.
func DSN(tb testing.TB, driver string) string {
	tb.Helper()
	switch driver {
	case "sqlite":
		return filepath.Join(tb.TempDir(), "homeward.db")
	case "postgres":
		return freshPostgres(tb)
	}
	tb.Fatalf("storetest: unknown driver %q", driver)
	return ""
}

// Open returns a migrated store on a new database of that driver.
func Open(tb testing.TB, driver string) *store.Store {
	tb.Helper()
	s, err := store.Open(driver, DSN(tb, driver))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	if _, err := s.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return s
}

func freshPostgres(tb testing.TB) string {
	base := os.Getenv("HOMEWARD_TEST_POSTGRES_DSN")
	if base == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatal("HOMEWARD_TEST_POSTGRES_DSN is not set, and CI=true needs the Postgres tests to run")
		}
		tb.Skip("HOMEWARD_TEST_POSTGRES_DSN is not set: skipping the Postgres run")
	}
	dsn, drop, err := CreateDatabase(context.Background(), base, "homeward_test")
	if err != nil && dsn == "" && drop == nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("Postgres at HOMEWARD_TEST_POSTGRES_DSN does not answer (CI=true needs it): %v", err)
		}
		tb.Skipf("Postgres at HOMEWARD_TEST_POSTGRES_DSN does not answer, skipping its run: %v", err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(drop)
	return dsn
}

// CreateDatabase creates an empty database, named prefix and a random number, on
// the Postgres server of base, and returns its DSN and a function that drops it.
// An error with neither means the server did not answer.
func CreateDatabase(ctx context.Context, base, prefix string) (dsn string, drop func(), err error) {
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return "", func() {}, err
	}
	defer func() { _ = admin.Close() }()
	if err := admin.PingContext(ctx); err != nil {
		return "", nil, err
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", func() {}, err
	}
	name := fmt.Sprintf("%s_%d", prefix, rand.Int64())
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", func() {}, err
	}
	drop = func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer func() { _ = db.Close() }()
		_, _ = db.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	}
	u.Path = "/" + name
	return u.String(), drop, nil
}

// Roles is a fresh Postgres database owned by a role of its own, which runs the
// migrations, and an application role that may only connect: what
// deploy/postgres/10-homeward.sql sets up in production.
type Roles struct {
	OwnerDSN, AppDSN string
	Owner, App       string // the role names, unique to the test
}

// PostgresRoles creates a database and its two roles on the server of
// HOMEWARD_TEST_POSTGRES_DSN (skipped like DSN when there is none). Roles are
// cluster-wide: their names are unique to the test, and the database and both
// roles are dropped when the test ends.
func PostgresRoles(tb testing.TB) Roles {
	tb.Helper()
	dsn := freshPostgres(tb)
	base := os.Getenv("HOMEWARD_TEST_POSTGRES_DSN")
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	dbName := u.Path[1:]
	suffix := fmt.Sprintf("%08x", rand.Uint32())
	r := Roles{Owner: "hw_owner_" + suffix, App: "hw_app_" + suffix}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = admin.Close() }()
	// Dropped after the database (cleanups run last first): a role that still
	// owns or may use something cannot be dropped.
	tb.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer func() { _ = db.Close() }()
		_, _ = db.Exec("DROP DATABASE IF EXISTS " + dbName + " WITH (FORCE)")
		for _, role := range []string{r.App, r.Owner} {
			if _, err := db.Exec("DROP ROLE IF EXISTS " + role); err != nil {
				tb.Errorf("storetest: dropping role %s: %v", role, err)
			}
		}
	})
	for _, stmt := range []string{
		"CREATE ROLE " + r.Owner + " LOGIN PASSWORD 'owner-" + suffix + "'",
		"CREATE ROLE " + r.App + " LOGIN PASSWORD 'app-" + suffix + "'",
		"ALTER DATABASE " + dbName + " OWNER TO " + r.Owner,
		"REVOKE ALL ON DATABASE " + dbName + " FROM PUBLIC",
		"GRANT CONNECT ON DATABASE " + dbName + " TO " + r.App,
	} {
		if _, err := admin.Exec(stmt); err != nil {
			tb.Fatalf("storetest: %s: %v", stmt, err)
		}
	}
	owner, app := *u, *u
	owner.User = url.UserPassword(r.Owner, "owner-"+suffix)
	app.User = url.UserPassword(r.App, "app-"+suffix)
	r.OwnerDSN, r.AppDSN = owner.String(), app.String()
	return r
}
