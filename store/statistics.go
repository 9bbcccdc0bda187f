package store

import (
	"context"
	"slices"
	"sort"
	"time"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/money"
)

// What a timeline line counts as in the statistics (timeline_events.counts_as).
const (
	CountsRegistered   = "registered"
	CountsDeparted     = "departed"
	CountsArrived      = "arrived"
	CountsPlanApproved = "plan_approved"
	// CountsPriceApproved: an approved price above an item's approved cost; its
	// figure is the difference, committed beside the plan's total.
	CountsPriceApproved = "price_approved"
	CountsVisitDone     = "visit_done"
	CountsVisitMissed   = "visit_missed"
	CountsClosed        = "closed"
	// CountsFee is a fee a partner charged (workflow version 7 on): its amount
	// counts in the service fees of the month it was charged.
	CountsFee = "fee"
)

// FactPaid is what a payment counts as once its case is anonymised
// (anonymous_counts.fact; the counted lines keep their counts_as).
const FactPaid = "paid"

// Age bands of the beneficiary at registration (cases.age_band): minors (under
// 18, as the Convention on the Rights of the Child and the programmes' per-minor
// amounts count them), adults (18 to 59), older people (60 and over, the UN's
// threshold for older persons, which the programmes' "elderly" vulnerability
// follows). Unknown: a date of birth that could not be read, or a case
// registered before the bands were recorded.
const (
	AgeMinor   = "minor"
	AgeAdult   = "adult"
	AgeOlder   = "older"
	AgeUnknown = "unknown"
)

// AgeBandAt is the age band of a person born on dob (YYYY-MM-DD) on the day on.
func AgeBandAt(dob string, on time.Time) string {
	d, err := time.Parse(time.DateOnly, dob)
	if err != nil || d.After(on) {
		return AgeUnknown
	}
	switch {
	case d.AddDate(18, 0, 0).After(on):
		return AgeMinor
	case d.AddDate(60, 0, 0).After(on):
		return AgeAdult
	default:
		return AgeOlder
	}
}

// countedColumns are the statistic columns of a timeline line, rewritten when
// the same line is written again (a retried write derives the same).
var countedColumns = []string{"counts_as", "country_of_return", "programme", "sex", "age_band", "vulnerable",
	"amount_cents", "currency", "reason"}

// countedEvents says what each event of a write counts as, from the event's type
// and the state after the write: the case file derives it from what it is given,
// so the workflow passes nothing more. A plan decision counts as the approval when
// the plan is approved in that state and it is the write's last decision (an
// approved plan takes no further decision; a plan the donor must approve is
// approved by the donor's decision, recorded by an approver of the sending office).
func countedEvents(events []contract.Event, st contract.CaseState) []string {
	out := make([]string, len(events))
	lastDecision := -1
	for i, e := range events {
		switch e.Type {
		case "registered", "departed", "arrived", "visit_missed", "closed", "fee":
			out[i] = e.Type
		case "visit":
			out[i] = CountsVisitDone
		case "plan_decision", "donor_decision": // the donor's, when the programme asks for it, comes last
			lastDecision = i
		case "price_decision":
			if _, ok := priceOverrun(e, st); ok {
				out[i] = CountsPriceApproved
			}
		}
	}
	if lastDecision >= 0 && st.Plan != nil && st.Plan.Status == contract.PlanApproved {
		out[lastDecision] = CountsPlanApproved
	}
	return out
}

// priceOverrun is what an approved price decision (the event) adds to what the
// plan committed: the chosen quote's price less the item's approved cost. The
// decision is the item's whose decision this event recorded (same person, same time).
func priceOverrun(e contract.Event, st contract.CaseState) (int64, bool) {
	if st.Plan == nil {
		return 0, false
	}
	for i, p := range st.Procurement {
		d := p.PriceDecision
		if d == nil || d.Decision != contract.DecisionApprove || d.By != e.Actor.User || !d.At.Equal(e.At) || i >= len(st.Plan.Items) {
			continue
		}
		cost, err1 := st.Plan.Items[i].Cost.Cents()
		for _, q := range p.Quotes {
			if q.Supplier == p.ChosenSupplier {
				price, err2 := q.Price.Cents()
				if err1 == nil && err2 == nil && price > cost {
					return int64(price - cost), true
				}
			}
		}
	}
	return 0, false
}

// profile is what a case's counted lines carry of the case.
type profile struct {
	CountryOfReturn    string
	Programme          string
	Sex                string
	AgeBand            string
	Vulnerable         bool
	ServiceChargeCents int64
	Currency           string
}

const profileColumns = "country_of_return, programme, sex, age_band, vulnerable, service_charge_cents, currency"

// counted is a line's statistics: the profile, and the figure of what it counts
// as (the plan's total for an approval, the programme's flat service charge of a
// departure for a case that does not record its fees as charged, the fee of a fee
// line, the reason of a closure).
func (p profile) counted(countsAs string, e contract.Event, st contract.CaseState) Counted {
	if countsAs == "" {
		return Counted{}
	}
	c := Counted{CountsAs: countsAs, CountryOfReturn: p.CountryOfReturn, Programme: p.Programme, Sex: p.Sex,
		AgeBand: p.AgeBand, Vulnerable: p.Vulnerable}
	switch countsAs {
	case CountsPlanApproved:
		c.AmountCents, c.Currency = committed(st), st.Plan.Total.Currency
	case CountsPriceApproved:
		over, _ := priceOverrun(e, st)
		c.AmountCents, c.Currency = over, st.Plan.Total.Currency
	case CountsDeparted:
		if !st.FeesAsCharged {
			c.AmountCents, c.Currency = p.ServiceChargeCents, p.Currency
		}
	case CountsFee:
		if e.Amount != nil {
			cents, _ := e.Amount.Cents() // the workflow records only fees it could read
			c.AmountCents, c.Currency = int64(cents), e.Amount.Currency
		}
	case CountsClosed:
		c.Reason = string(st.ClosureReason)
	}
	return c
}

// Breakdowns of the statistics, in the order the tables show them.
const (
	ByTotal         = "total"
	ByCountry       = "country_of_return"
	ByProgramme     = "programme"
	BySex           = "sex"
	ByAgeBand       = "age_band"
	ByVulnerability = "vulnerability"
)

// Breakdowns lists them in order.
var Breakdowns = []string{ByTotal, ByCountry, ByProgramme, BySex, ByAgeBand, ByVulnerability}

// ActivityRow counts what happened in a period to the cases of one group (By,
// Key): the totals (By "total", Key "all"), or one country, programme, sex, age
// band, or vulnerability ("vulnerable", "not_vulnerable").
type ActivityRow struct {
	By            string `json:"by"`
	Key           string `json:"key"`
	Registered    int64  `json:"registered"`
	Departed      int64  `json:"departed"`
	Arrived       int64  `json:"arrived"`
	PlansApproved int64  `json:"plans_approved"`
	VisitsDone    int64  `json:"visits_done"`
	VisitsMissed  int64  `json:"visits_missed"`
	Closed        int64  `json:"closed"`
	// Closures counts the closures by reason, every reason present.
	Closures map[string]int64 `json:"closures"`
}

// MoneyRow is a group's money of a period in one currency: committed (plans
// approved), paid (payments made), and the service fees: the partners' fees
// charged in the period (cases of workflow version 7 on), or the programme's
// flat charge per departure (cases before).
type MoneyRow struct {
	By          string `json:"by"`
	Key         string `json:"key"`
	Currency    string `json:"currency"`
	Committed   string `json:"committed"`
	Paid        string `json:"paid"`
	ServiceFees string `json:"service_fees"`
	Payments    int64  `json:"payments"`
}

// Statistics are the tables of a period [From, To).
type Statistics struct {
	From     time.Time
	To       time.Time
	Activity []ActivityRow
	Money    []MoneyRow
}

// statisticsSQL reads a period's counted lines and payments, each from one range
// of its covering index (migration 00017), grouped by everything a table breaks
// them down by: a few hundred groups at most, added up into the tables here.
func (s *Store) statisticsSQL() []reportQuery {
	return []reportQuery{
		{"counted", `SELECT counts_as, country_of_return, programme, sex, age_band, vulnerable, currency, reason,
		SUM(n) AS n, SUM(cents) AS cents FROM (
		SELECT counts_as, country_of_return, programme, sex, age_band, vulnerable, currency, reason, 1 AS n, amount_cents AS cents
		FROM timeline_events WHERE counts_as <> '' AND at >= @from AND at < @to
		UNION ALL SELECT fact, country_of_return, programme, sex, age_band, vulnerable, currency, reason, n, cents
		FROM anonymous_counts WHERE month >= @from AND month < @to AND fact <> '` + FactPaid + `') f
		GROUP BY counts_as, country_of_return, programme, sex, age_band, vulnerable, currency, reason`},
		{"paid", `SELECT country_of_return, programme, sex, age_band, vulnerable, currency,
		SUM(n) AS n, SUM(cents) AS cents FROM (
		SELECT country_of_return, programme, sex, age_band, vulnerable, currency, 1 AS n, amount_cents AS cents
		FROM payments WHERE paid_at >= @from AND paid_at < @to
		UNION ALL SELECT country_of_return, programme, sex, age_band, vulnerable, currency, n, cents
		FROM anonymous_counts WHERE month >= @from AND month < @to AND fact = '` + FactPaid + `') f
		GROUP BY country_of_return, programme, sex, age_band, vulnerable, currency`},
	}
}

// reportQuery is one statement of a report.
type reportQuery struct{ label, sql string }

type statGroup struct {
	CountsAs        string
	CountryOfReturn string
	Programme       string
	Sex             string
	AgeBand         string
	Vulnerable      bool
	Currency        string
	Reason          string
	N               int64
	Cents           int64
}

// keys are the group's key in each breakdown.
func (g statGroup) keys() map[string]string {
	v := "not_vulnerable"
	if g.Vulnerable {
		v = "vulnerable"
	}
	or := func(s string) string {
		if s == "" {
			return "unknown"
		}
		return s
	}
	return map[string]string{ByTotal: "all", ByCountry: or(g.CountryOfReturn), ByProgramme: or(g.Programme),
		BySex: or(g.Sex), ByAgeBand: or(g.AgeBand), ByVulnerability: v}
}

// Statistics counts what happened in [from, to): registrations, departures,
// arrivals, plans approved, visits done and missed, closures by reason; money
// committed, paid and charged; each in total and by country of return,
// programme, sex, age band and vulnerability. It reads only facts dated in the
// period, so a past period always gives the same tables.
func (s *Store) Statistics(ctx context.Context, from, to time.Time) (Statistics, error) {
	db := s.readDB(ctx)
	args := map[string]any{"from": from, "to": to}
	qs := s.statisticsSQL()
	var counted, paid []statGroup
	if err := db.Raw(qs[0].sql, args).Scan(&counted).Error; err != nil {
		return Statistics{}, err
	}
	if err := db.Raw(qs[1].sql, args).Scan(&paid).Error; err != nil {
		return Statistics{}, err
	}
	type gk struct{ by, key string }
	type mk struct{ by, key, currency string }
	type sums struct{ committed, paid, fees, payments int64 }
	activity := map[gk]*ActivityRow{{ByTotal, "all"}: newActivity(ByTotal, "all")}
	money := map[mk]*sums{}
	moneyOf := func(k mk) *sums {
		if money[k] == nil {
			money[k] = &sums{}
		}
		return money[k]
	}
	for _, g := range counted {
		for by, key := range g.keys() {
			if g.CountsAs == CountsFee { // money only
				moneyOf(mk{by, key, g.Currency}).fees += g.Cents
				continue
			}
			a := activity[gk{by, key}]
			if a == nil {
				a = newActivity(by, key)
				activity[gk{by, key}] = a
			}
			switch g.CountsAs {
			case CountsRegistered:
				a.Registered += g.N
			case CountsDeparted:
				a.Departed += g.N
				if g.Currency != "" {
					moneyOf(mk{by, key, g.Currency}).fees += g.Cents
				}
			case CountsArrived:
				a.Arrived += g.N
			case CountsPlanApproved:
				a.PlansApproved += g.N
				moneyOf(mk{by, key, g.Currency}).committed += g.Cents
			case CountsPriceApproved:
				moneyOf(mk{by, key, g.Currency}).committed += g.Cents
			case CountsVisitDone:
				a.VisitsDone += g.N
			case CountsVisitMissed:
				a.VisitsMissed += g.N
			case CountsClosed:
				a.Closed += g.N
				a.Closures[g.Reason] += g.N
			}
		}
	}
	for _, g := range paid {
		for by, key := range g.keys() {
			m := moneyOf(mk{by, key, g.Currency})
			m.paid += g.Cents
			m.payments += g.N
		}
	}
	st := Statistics{From: from, To: to, Activity: make([]ActivityRow, 0, len(activity)), Money: make([]MoneyRow, 0, len(money))}
	for _, a := range activity {
		st.Activity = append(st.Activity, *a)
	}
	for k, m := range money {
		st.Money = append(st.Money, MoneyRow{By: k.by, Key: k.key, Currency: k.currency,
			Committed: moneyString(m.committed), Paid: moneyString(m.paid), ServiceFees: moneyString(m.fees), Payments: m.payments})
	}
	order := func(by string) int { return slices.Index(Breakdowns, by) }
	sort.Slice(st.Activity, func(i, j int) bool {
		a, b := st.Activity[i], st.Activity[j]
		return order(a.By) < order(b.By) || (a.By == b.By && a.Key < b.Key)
	})
	sort.Slice(st.Money, func(i, j int) bool {
		a, b := st.Money[i], st.Money[j]
		if a.By != b.By {
			return order(a.By) < order(b.By)
		}
		return a.Key < b.Key || (a.Key == b.Key && a.Currency < b.Currency)
	})
	return st, nil
}

func moneyString(c int64) string { return money.Cents(c).String() }

// ClosureReasons are the reasons a closure counts under, in the tables' order.
var ClosureReasons = []string{string(contract.ClosedCompleted), string(contract.ClosedWithdrawn),
	string(contract.ClosedNotFit), string(contract.ClosedNoShow), string(contract.ClosedAbsconded),
	string(contract.ClosedDeceased), string(contract.ClosedIneligible), string(contract.ClosedTransferred), string(contract.ClosedByOperator)}

func newActivity(by, key string) *ActivityRow {
	a := &ActivityRow{By: by, Key: key, Closures: make(map[string]int64, len(ClosureReasons))}
	for _, r := range ClosureReasons {
		a.Closures[r] = 0
	}
	return a
}

// Spending is what a programme committed (plans approved) and paid in one
// currency, per month of a year.
type Spending struct {
	// Committed and Paid are indexed by month (0 for January), in cents.
	Committed [12]int64
	Paid      [12]int64
}

// SpendingOf adds up a programme's plans approved and payments in one currency,
// in the year that starts at from, by month: from the same facts as the statistics.
func (s *Store) SpendingOf(ctx context.Context, programme, currency string, year int) (Spending, error) {
	from := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC)
	args := map[string]any{"from": from, "to": from.AddDate(1, 0, 0), "programme": programme, "currency": currency}
	db := s.readDB(ctx)
	var approved []struct {
		At          time.Time
		AmountCents int64
	}
	if err := db.Raw(`SELECT at, amount_cents FROM timeline_events WHERE counts_as <> '' AND at >= @from AND at < @to
		AND counts_as IN ('plan_approved', 'price_approved') AND programme = @programme AND currency = @currency
		UNION ALL SELECT month, cents FROM anonymous_counts WHERE month >= @from AND month < @to
		AND fact IN ('plan_approved', 'price_approved') AND programme = @programme AND currency = @currency`, args).Scan(&approved).Error; err != nil {
		return Spending{}, err
	}
	var paid []struct {
		PaidAt      time.Time
		AmountCents int64
	}
	if err := db.Raw(`SELECT paid_at, amount_cents FROM payments WHERE paid_at >= @from AND paid_at < @to
		AND programme = @programme AND currency = @currency
		UNION ALL SELECT month, cents FROM anonymous_counts WHERE month >= @from AND month < @to
		AND fact = '`+FactPaid+`' AND programme = @programme AND currency = @currency`, args).Scan(&paid).Error; err != nil {
		return Spending{}, err
	}
	var sp Spending
	for _, a := range approved {
		sp.Committed[a.At.UTC().Month()-1] += a.AmountCents
	}
	for _, p := range paid {
		sp.Paid[p.PaidAt.UTC().Month()-1] += p.AmountCents
	}
	return sp, nil
}
