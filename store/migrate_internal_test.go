package store

import (
	"context"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/require"
)

// Migration 00013 keeps a registration's memory, tied to its case, and drops the
// whole answers remembered before (they held case views, notes' text, file names).
func TestMigration13DropsRememberedAnswersAndKeepsRegistrations(t *testing.T) {
	ctx := context.Background()
	s, err := Open("sqlite", filepath.Join(t.TempDir(), "homeward.db"))
	require.NoError(t, err)
	defer func() { _ = s.Close() }()
	db, err := s.SQL()
	require.NoError(t, err)
	fsys, err := fs.Sub(migrations, "migrations/sqlite")
	require.NoError(t, err)
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys)
	require.NoError(t, err)
	_, err = p.UpTo(ctx, 12)
	require.NoError(t, err)

	_, err = db.Exec(`INSERT INTO cases (id, seq, reference, idempotency_key, status, stage, stage_entered_at, host_country,
		country_of_return, sending_office, receiving_office, programme, beneficiary, household, vulnerabilities, consent,
		currency, created_by, workflow_id, created_at, updated_at) VALUES ('c1', 1, 'HW-2026-000001', 'ana:reg-1', 'active',
		'Intake', CURRENT_TIMESTAMP, 'DE', 'GN', 'DE-BER', 'GN-CKY', 'REAG-GARP', '{}', '[]', '[]', '{}', 'EUR', 'ana',
		'case-c1', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)`)
	require.NoError(t, err)
	for key, body := range map[string]string{
		"register:ana:reg-1":  "c1",
		"register:ana:gone":   "c0",
		"0f3c...action":       `{"id":"c1","beneficiary":{"given_name":"Aminata"}}`,
		"9a1b...note-created": `{"id":"n1","text":"Aminata called"}`,
	} {
		_, err = db.Exec(`INSERT INTO idempotent_requests (key, fingerprint, status, body, created_at)
			VALUES (?, 'f', 201, ?, CURRENT_TIMESTAMP)`, key, body)
		require.NoError(t, err)
	}
	_, err = p.Up(ctx)
	require.NoError(t, err)

	rows, err := db.Query(`SELECT key, case_id, kind FROM idempotent_requests ORDER BY key`)
	require.NoError(t, err)
	defer func() { _ = rows.Close() }()
	var got [][3]string
	for rows.Next() {
		var r [3]string
		require.NoError(t, rows.Scan(&r[0], &r[1], &r[2]))
		got = append(got, r)
	}
	require.Equal(t, [][3]string{{"register:ana:gone", "", "registration"}, {"register:ana:reg-1", "c1", "registration"}}, got)
	require.NoError(t, rows.Close())

	_, err = p.Down(ctx) // and back
	require.NoError(t, err)
}
