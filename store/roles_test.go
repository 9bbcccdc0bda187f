package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/store"
	"github.com/homeward/homeward/store/storetest"
)

// In Postgres the role the application runs as cannot update, delete or
// truncate the audit trail, nor disable or drop what guards it: the owner runs
// the migrations and grants the application INSERT and SELECT only on
// audit_log. The application still does its work.
func TestTheApplicationRoleCannotRewriteTheAuditTrail(t *testing.T) {
	ctx := context.Background()
	roles := storetest.PostgresRoles(t)

	// homeward migrate, as the owner.
	owner, err := store.Open("postgres", roles.OwnerDSN)
	require.NoError(t, err)
	defer func() { _ = owner.Close() }()
	_, err = owner.Migrate(ctx)
	require.NoError(t, err)
	require.NoError(t, owner.GrantApplication(ctx, roles.App))
	require.Error(t, owner.GrantApplication(ctx, "x; DROP TABLE cases"), "a role name is never SQL")

	// The api and the worker, as the application role.
	app, err := store.Open("postgres", roles.AppDSN)
	require.NoError(t, err)
	defer func() { _ = app.Close() }()
	n, err := app.Migrate(ctx)
	require.NoError(t, err, "homeward dev and the tests check the migrations as whoever they run as")
	require.Zero(t, n)
	c := newCase("GN")
	by := store.AuditEntry{ActorUser: "caseworker-de", ActorRole: "caseworker", Part: "registration", Action: "create",
		RequestID: "r1", At: time.Now().UTC()}
	require.NoError(t, app.CreateCase(ctx, c, []store.AuditEntry{by}, started))
	require.NoError(t, app.Audit(ctx, store.AuditEntry{ActorUser: "manager", ActorRole: "manager", CaseID: c.ID,
		Part: "case_file", Action: "read", RequestID: "r2", At: time.Now().UTC()}))
	closed := newCase("SN")
	closed.Status = "closed"
	past := time.Now().UTC().Add(-48 * time.Hour)
	closed.ClosedAt = &past
	require.NoError(t, app.CreateCase(ctx, closed, nil, started))
	done, err := app.AnonymiseClosedBefore(ctx, time.Now().UTC(), 10,
		store.AuditEntry{ActorUser: "homeward-retention", ActorRole: "system"})
	require.NoError(t, err)
	require.Equal(t, 1, done)
	from := time.Date(time.Now().Year(), time.Now().Month(), 1, 0, 0, 0, 0, time.UTC)
	_, err = app.Statistics(ctx, from, from.AddDate(0, 1, 0))
	require.NoError(t, err)
	trail, err := app.AuditTrail(ctx, c.ID)
	require.NoError(t, err)
	require.Len(t, trail, 2)

	writable, err := app.AuditTrailWritable(ctx)
	require.NoError(t, err)
	require.False(t, writable)
	writable, err = owner.AuditTrailWritable(ctx)
	require.NoError(t, err)
	require.True(t, writable)

	// The attack, as the application role, which first tries to grant itself more
	// (Postgres only warns that nothing was granted).
	_ = app.GrantApplication(ctx, roles.App)
	db, err := app.SQL()
	require.NoError(t, err)
	_, _ = db.ExecContext(ctx, "GRANT UPDATE, DELETE, TRUNCATE ON audit_log TO "+roles.App)
	for _, stmt := range []string{
		"UPDATE audit_log SET actor_user = 'someone-else'",
		"DELETE FROM audit_log",
		"TRUNCATE audit_log",
		"ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update",
		"DROP TRIGGER audit_log_no_update ON audit_log",
		"DROP TABLE audit_log",
		"CREATE TABLE audit_log_copy (id int)",
	} {
		_, err := db.ExecContext(ctx, stmt)
		var pgErr *pgconn.PgError
		require.Truef(t, errors.As(err, &pgErr), "%s: want a refusal, got %v", stmt, err)
		require.Equalf(t, "42501", pgErr.Code, "%s: want insufficient_privilege, got %v", stmt, err)
	}
	trail, err = app.AuditTrail(ctx, c.ID)
	require.NoError(t, err)
	require.Len(t, trail, 2, "the trail is whole")

	// What the split prevents: the owner (the one role of before) could truncate.
	odb, err := owner.SQL()
	require.NoError(t, err)
	tx, err := odb.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = tx.ExecContext(ctx, "TRUNCATE audit_log")
	require.NoError(t, err, "the table's owner may truncate it: it must not be the role the application runs as")
	require.NoError(t, tx.Rollback())
	require.Error(t, owner.GrantApplication(ctx, roles.Owner), "the owner is not the application")
}
