package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/api"
	"github.com/homeward/homeward/codec"
	"github.com/homeward/homeward/config"
	"github.com/homeward/homeward/store"
	"github.com/homeward/homeward/store/storetest"
)

// The production commands refuse to start with a well-known dev token configured
// (before they connect to anything), and without one configured they do not
// know the dev tokens at all.
func TestProductionCommandsRefuseTheDevTokens(t *testing.T) {
	for _, cmd := range []string{"api", "worker"} {
		for _, tokens := range []string{
			"dev-manager=manager:manager:*",
			"s3cret=ana:approver:GN-CKY;dev-caseworker=someone:caseworker:DE-BER",
		} {
			env := map[string]string{"HOMEWARD_AUTH_TOKENS": tokens,
				// Nothing answers here: a command that got past the check would fail differently.
				"HOMEWARD_TEMPORAL_ADDRESS": "127.0.0.1:1", "HOMEWARD_DATABASE_DSN": t.TempDir() + "/h.db",
				"HOMEWARD_DATABASE_KEYS_FILE": t.TempDir() + "/none.json", "HOMEWARD_CODEC_KEYS_FILE": t.TempDir() + "/none.json"}
			var out bytes.Buffer
			err := run(context.Background(), []string{cmd}, func(k string) string { return env[k] }, &out, &out)
			require.ErrorContains(t, err, "well-known dev token", "%s with %s", cmd, tokens)
		}
	}

	// Nor does api offer the workspace's password-less dev sign-in.
	env := map[string]string{"HOMEWARD_WORKSPACE_DEV_SIGN_IN": "true", "HOMEWARD_TEMPORAL_ADDRESS": "127.0.0.1:1"}
	var out bytes.Buffer
	err := run(context.Background(), []string{"api"}, func(k string) string { return env[k] }, &out, &out)
	require.ErrorContains(t, err, "workspace.dev_sign_in is for `homeward dev` only")

	// api and worker configured as by default: dev-manager is just an unknown token.
	cfg, err := config.Load("", func(string) string { return "" })
	require.NoError(t, err)
	require.NoError(t, cfg.Auth.RefuseDevTokens())
	h := api.New(slog.New(slog.NewTextHandler(io.Discard, nil)), cfg, nil, nil, codec.GenerateKeyRing()).Handler()
	for _, tok := range config.DevTokens() {
		req := httptest.NewRequest("GET", "/api/v1/stuck", nil)
		req.Header.Set("Authorization", "Bearer "+tok.Token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Equal(t, http.StatusUnauthorized, rec.Code, tok.Token)
	}
}

// homeward migrate, run as the owner with database.app_role set, leaves the
// application role unable to change the audit trail, and able to work.
func TestMigrateGrantsTheApplicationRoleNoRightToRewriteTheAuditTrail(t *testing.T) {
	roles := storetest.PostgresRoles(t)
	env := map[string]string{"HOMEWARD_DATABASE_DRIVER": "postgres", "HOMEWARD_DATABASE_DSN": roles.OwnerDSN,
		"HOMEWARD_DATABASE_APP_ROLE": roles.App}
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"migrate"}, func(k string) string { return env[k] }, &out, &out), out.String())
	require.Contains(t, out.String(), "granted "+roles.App)

	app, err := store.Open("postgres", roles.AppDSN)
	require.NoError(t, err)
	defer func() { _ = app.Close() }()
	require.NoError(t, app.Audit(context.Background(), store.AuditEntry{ActorUser: "manager", ActorRole: "manager",
		CaseID: "c1", Part: "case_file", Action: "read", At: time.Now().UTC()}))
	db, err := app.SQL()
	require.NoError(t, err)
	for _, stmt := range []string{"UPDATE audit_log SET actor_user = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log"} {
		_, err := db.Exec(stmt)
		require.ErrorContains(t, err, "permission denied", stmt)
	}
	var n int
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM audit_log").Scan(&n))
	require.Equal(t, 1, n)
}
