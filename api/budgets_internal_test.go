package api

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/codec"
	"github.com/homeward/homeward/config"
	"github.com/homeward/homeward/store"
)

// spending is the case file's Reports for a budget, without a database: what
// was committed and paid by month, and the questions it was asked.
type spending struct {
	store.Spending
	err   error
	asked []string
}

func (f *spending) SpendingOf(_ context.Context, programme, currency string, year int) (store.Spending, error) {
	f.asked = append(f.asked, fmt.Sprintf("%s %s %d", programme, currency, year))
	return f.Spending, f.err
}

func (f *spending) Statistics(context.Context, time.Time, time.Time) (store.Statistics, error) {
	return store.Statistics{}, errors.New("a budget reads no statistics")
}

// A programme's budget is its envelope less what its plans committed this year,
// shown to managers and to the approvers of the programme's offices only: the
// handler's arithmetic, rules and errors, with the case file's spending faked.
func TestABudgetIsTheEnvelopeLessWhatPlansCommitted(t *testing.T) {
	cfg, err := config.Load("", func(string) string { return "" })
	require.NoError(t, err)
	cfg.Auth = cfg.Auth.WithDevTokens()
	cfg.Auth.Tokens = append(cfg.Auth.Tokens, config.Token{Token: "approver-sn", User: "approver-sn", Role: "approver", Office: "SN-DKR"})
	srv := New(slog.New(slog.NewTextHandler(io.Discard, nil)), cfg, nil, nil, codec.GenerateKeyRing())
	srv.now = func() time.Time { return time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC) }
	f := &spending{}
	f.Committed[0], f.Committed[5] = 150_000, 2_500_050 // 1500.00 in January, 25000.50 in June
	f.Paid[2] = 40_000                                  // 400.00 in March
	srv.reports = f
	h := srv.Handler()
	get := func(path, token string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}

	rec := get("/api/v1/budgets/REAG-GARP", "dev-approver-gn")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var b BudgetStatus
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &b))
	require.Equal(t, []string{"REAG-GARP EUR 2026"}, f.asked, "this year, in the programme's currency")
	require.Equal(t, "500000.00", *b.Envelope)
	require.Equal(t, "26500.50", b.Committed)
	require.Equal(t, "400.00", b.Paid)
	require.Equal(t, "473499.50", *b.Remaining, "the envelope less what was committed, paid or not")
	require.Len(t, b.Months, 12)
	require.Equal(t, BudgetMonth{Month: "2026-06", Committed: "25000.50", Paid: "0.00"}, b.Months[5])

	// A currency without an envelope: what was spent, and no remainder.
	rec = get("/api/v1/budgets/REAG-GARP?year=2025&currency=USD", "dev-manager")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.NotContains(t, rec.Body.String(), "envelope")
	require.NotContains(t, rec.Body.String(), "remaining")
	require.Equal(t, "REAG-GARP USD 2025", f.asked[1])

	// Refused before the case file is read.
	for _, tc := range []struct {
		path, token string
		status      int
	}{
		{"/api/v1/budgets/REAG-GARP", "approver-sn", http.StatusForbidden}, // an office outside the programme
		{"/api/v1/budgets/REAG-GARP", "dev-caseworker", http.StatusForbidden},
		{"/api/v1/budgets/NOPE", "dev-manager", http.StatusNotFound},
		{"/api/v1/budgets/REAG-GARP?year=26", "dev-manager", http.StatusUnprocessableEntity},
	} {
		rec := get(tc.path, tc.token)
		require.Equal(t, tc.status, rec.Code, "%s as %s: %s", tc.path, tc.token, rec.Body.String())
		require.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
	}
	require.Len(t, f.asked, 2, "a refused request reads nothing")

	// A database that does not answer is a 503 to retry, not a 500.
	f.err = fmt.Errorf("reading spending: %w", driver.ErrBadConn)
	rec = get("/api/v1/budgets/REAG-GARP", "dev-manager")
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
	require.NotEmpty(t, rec.Header().Get("Retry-After"))
}
