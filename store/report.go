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

// MonthlyReport computes the table for the month that starts at from.
func (s *Store) MonthlyReport(ctx context.Context, from time.Time) (MonthlyReport, error) {
	to := from.AddDate(0, 1, 0)
	db := s.db.WithContext(ctx)
	rep := MonthlyReport{Returns: []ReturnsRow{}, Assistance: []AssistanceRow{}}
	in := func(col string) string { return "(" + col + " >= @from AND " + col + " < @to)" }
	count := func(col string) string { return "SUM(CASE WHEN " + in(col) + " THEN 1 ELSE 0 END)" }
	args := map[string]any{"from": from, "to": to}
	err := db.Raw(`SELECT country_of_return, stage, `+count("created_at")+` AS registered, `+count("departed_at")+
		` AS departed, `+count("closed_at")+` AS closed FROM cases WHERE `+in("created_at")+` OR `+in("departed_at")+
		` OR `+in("closed_at")+` GROUP BY country_of_return, stage ORDER BY country_of_return, stage`, args).
		Scan(&rep.Returns).Error
	if err != nil {
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
	if err := db.Raw(`SELECT country_of_return, currency, SUM(committed_cents) AS cents, COUNT(*) AS n FROM cases
		WHERE `+in("plan_approved_at")+` GROUP BY country_of_return, currency`, args).Scan(&committed).Error; err != nil {
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
	if err := db.Raw(`SELECT c.country_of_return, p.currency, SUM(p.amount_cents) AS cents, COUNT(*) AS n
		FROM payments p JOIN cases c ON c.id = p.case_id WHERE `+in("p.paid_at")+
		` GROUP BY c.country_of_return, p.currency`, args).Scan(&paid).Error; err != nil {
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
	if err := db.Raw(`SELECT country_of_return, currency, SUM(service_charge_cents) AS cents FROM cases WHERE `+
		in("departed_at")+` GROUP BY country_of_return, currency`, args).Scan(&charges).Error; err != nil {
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
