package store

import (
	"context"
	"sort"
	"time"

	"github.com/homeward/homeward/money"
)

// ReturnsRow counts the cases of one country of return and stage that were
// registered, departed or closed in the month.
type ReturnsRow struct {
	CountryOfReturn string `json:"country_of_return"`
	Stage           string `json:"stage"`
	Registered      int64  `json:"registered"`
	Departed        int64  `json:"departed"`
	Closed          int64  `json:"closed"`
}

// AssistanceRow is the money of one country of return and currency in the month:
// plans approved (committed), payments made, and service charges per departure.
type AssistanceRow struct {
	CountryOfReturn string `json:"country_of_return"`
	Currency        string `json:"currency"`
	Committed       string `json:"committed"`
	Paid            string `json:"paid"`
	ServiceCharges  string `json:"service_charges"`
	CasesCommitted  int64  `json:"cases_committed"`
	Payments        int64  `json:"payments"`
}

// MonthlyReport is the statistical table of a month.
type MonthlyReport struct {
	Returns    []ReturnsRow
	Assistance []AssistanceRow
}

// reportQuery is one statement of the monthly report.
type reportQuery struct{ label, sql string }

// reportSQL is the monthly report's statements, with the arguments @from and
// @to. Each reads only the month's rows, from covering indexes (migration
// 00006_read_indexes): the returns as three range scans (registered, departed,
// closed, each counted by country and stage, then added up: a case counts in
// each of its dates that fall in the month, as before), and the payments with
// the country they carry (migration 00007_payment_country).
func (s *Store) reportSQL() []reportQuery {
	in := func(col string) string { return col + " >= @from AND " + col + " < @to" }
	return []reportQuery{
		{"returns", `SELECT country_of_return, stage, CAST(SUM(registered) AS bigint) AS registered,
		CAST(SUM(departed) AS bigint) AS departed, CAST(SUM(closed) AS bigint) AS closed FROM (
		SELECT country_of_return, stage, COUNT(*) AS registered, 0 AS departed, 0 AS closed FROM cases WHERE ` + in("created_at") + `
		GROUP BY country_of_return, stage
		UNION ALL SELECT country_of_return, stage, 0, COUNT(*), 0 FROM cases WHERE ` + in("departed_at") + `
		GROUP BY country_of_return, stage
		UNION ALL SELECT country_of_return, stage, 0, 0, COUNT(*) FROM cases WHERE ` + in("closed_at") + `
		GROUP BY country_of_return, stage) r
		GROUP BY country_of_return, stage ORDER BY country_of_return, stage`},
		{"committed", `SELECT country_of_return, currency, SUM(committed_cents) AS cents, COUNT(*) AS n FROM cases
		WHERE ` + in("plan_approved_at") + ` GROUP BY country_of_return, currency`},
		{"paid", `SELECT country_of_return, currency, SUM(amount_cents) AS cents, COUNT(*) AS n FROM payments
		WHERE ` + in("paid_at") + ` GROUP BY country_of_return, currency`},
		{"charges", `SELECT country_of_return, currency, SUM(service_charge_cents) AS cents FROM cases WHERE ` +
			in("departed_at") + ` GROUP BY country_of_return, currency`},
	}
}

// MonthlyReport computes the table for the month that starts at from.
func (s *Store) MonthlyReport(ctx context.Context, from time.Time) (MonthlyReport, error) {
	to := from.AddDate(0, 1, 0)
	db := s.readDB(ctx)
	rep := MonthlyReport{Returns: []ReturnsRow{}, Assistance: []AssistanceRow{}}
	args := map[string]any{"from": from, "to": to}
	qs := s.reportSQL()
	if err := db.Raw(qs[0].sql, args).Scan(&rep.Returns).Error; err != nil {
		return rep, err
	}

	type key struct{ country, currency string }
	type sums struct{ committed, paid, charges, casesCommitted, payments int64 }
	acc := map[key]*sums{}
	get := func(k key) *sums {
		if acc[k] == nil {
			acc[k] = &sums{}
		}
		return acc[k]
	}
	var committed []struct {
		CountryOfReturn, Currency string
		Cents, N                  int64
	}
	if err := db.Raw(qs[1].sql, args).Scan(&committed).Error; err != nil {
		return rep, err
	}
	for _, r := range committed {
		a := get(key{r.CountryOfReturn, r.Currency})
		a.committed, a.casesCommitted = r.Cents, r.N
	}
	var paid []struct {
		CountryOfReturn, Currency string
		Cents, N                  int64
	}
	if err := db.Raw(qs[2].sql, args).Scan(&paid).Error; err != nil {
		return rep, err
	}
	for _, r := range paid {
		a := get(key{r.CountryOfReturn, r.Currency})
		a.paid, a.payments = r.Cents, r.N
	}
	var charges []struct {
		CountryOfReturn, Currency string
		Cents                     int64
	}
	if err := db.Raw(qs[3].sql, args).Scan(&charges).Error; err != nil {
		return rep, err
	}
	for _, r := range charges {
		get(key{r.CountryOfReturn, r.Currency}).charges = r.Cents
	}
	for k, a := range acc {
		rep.Assistance = append(rep.Assistance, AssistanceRow{CountryOfReturn: k.country, Currency: k.currency,
			Committed: money.Cents(a.committed).String(), Paid: money.Cents(a.paid).String(),
			ServiceCharges: money.Cents(a.charges).String(), CasesCommitted: a.casesCommitted, Payments: a.payments})
	}
	sort.Slice(rep.Assistance, func(i, j int) bool {
		a, b := rep.Assistance[i], rep.Assistance[j]
		return a.CountryOfReturn < b.CountryOfReturn || (a.CountryOfReturn == b.CountryOfReturn && a.Currency < b.Currency)
	})
	return rep, nil
}
