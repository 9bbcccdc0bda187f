package e2e

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/store"
	"github.com/homeward/homeward/store/storetest"
)

// On Postgres, Homeward runs as a role that cannot rewrite the audit trail: the
// owner migrates and grants (homeward migrate with database.app_role), and the
// API and the worker, connected as the application role, take a case from
// registration to departure, write and read the trail, and are refused when
// they try to update, delete or truncate it.
func TestTheApplicationRunsWithoutTheRightToRewriteTheAuditTrail(t *testing.T) {
	ctx := context.Background()
	roles := storetest.PostgresRoles(t)
	owner, err := store.Open("postgres", roles.OwnerDSN)
	require.NoError(t, err)
	_, err = owner.Migrate(ctx)
	require.NoError(t, err)
	require.NoError(t, owner.GrantApplication(ctx, roles.App))
	require.NoError(t, owner.Close())

	cfg := testConfig(t, "sqlite") // its own keys, queue and ports; the database is the application role's
	cfg.Database.Driver, cfg.Database.DSN = "postgres", roles.AppDSN
	h := start(t, cfg)
	id := h.register()
	h.counsel(id, "confirmed")
	h.screen(id, "low")
	h.depart(id)
	h.waitCase(id, "reintegration planning", stageIs("ReintegrationPlanning"))
	require.Equal(t, http.StatusOK, h.call("GET", "/api/v1/cases/"+id+"/timeline", "dev-manager", nil).Status)
	trail := h.call("GET", "/api/v1/cases/"+id+"/audit", "dev-manager", nil).JSON(t)["items"].([]any)
	require.GreaterOrEqual(t, len(trail), 3, "registration and reads")

	db, err := h.s.Store.SQL()
	require.NoError(t, err)
	for _, stmt := range []string{
		"UPDATE audit_log SET actor_user = 'someone-else'",
		"DELETE FROM audit_log",
		"TRUNCATE audit_log",
		"DROP TRIGGER audit_log_no_update ON audit_log",
	} {
		_, err := db.ExecContext(ctx, stmt)
		require.Error(t, err, stmt)
		require.Contains(t, err.Error(), "SQLSTATE 42501", "%s: insufficient privilege", stmt)
	}
	again := h.call("GET", "/api/v1/cases/"+id+"/audit", "dev-manager", nil).JSON(t)["items"].([]any)
	require.GreaterOrEqual(t, len(again), len(trail), "the trail is whole")
}
