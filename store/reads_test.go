package store_test

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/money"
	"github.com/homeward/homeward/store"
)

// The reads (list, inbox, stuck view, quiet cases, monthly report) are written
// for their indexes (store/list.go, store/report.go). These tests check that
// they still return what their plain definitions say, page by page, and that
// their plans use those indexes with no sort of the matching rows.

// seeded is one case as the tests wrote it.
type seeded struct {
	id, status, stage, waiting, blocked, country, sending, receiving, currency string
	seq                                                                        int64
	overdue, vulnerable                                                        bool
	entered, created, updated                                                  time.Time
	due, approved, departed, closed                                            *time.Time
	committed, charge                                                          int64
	decidedBy                                                                  string
	sex, age, reason                                                           string
}

type seededPayment struct {
	caseID, country, currency, sex, age string
	vulnerable                          bool
	amount                              int64
	paidAt                              time.Time
}

var readsMonth = time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)

// seedReads writes n cases of every kind straight into the database: offices
// on both sides (some cases have the same office on both), overdue and not,
// due dates with ties and without, stuck for every reason, payments.
func seedReads(t *testing.T, s *store.Store, n int) ([]seeded, []seededPayment) {
	t.Helper()
	db, err := s.SQL()
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(7, 7))
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	at := func(days int) time.Time {
		return readsMonth.AddDate(0, 0, days).Add(time.Duration(r.IntN(86400)) * time.Second)
	}
	ptr := func(t time.Time) *time.Time { return &t }
	var cases []seeded
	var pays []seededPayment
	for i := range n {
		c := seeded{id: uuid.NewString(), seq: int64(i + 1), status: "active", currency: pick("EUR", "USD"),
			country: pick("GN", "SN", "NG"), sending: pick("DE-BER", "AT-VIE", "GN-CKY"),
			receiving: pick("GN-CKY", "SN-DKR", "DE-BER", "GN-CKY"), vulnerable: r.IntN(3) == 0,
			created: at(r.IntN(120) - 60), charge: 15000, sex: pick("female", "male", "other"),
			age: pick(store.AgeMinor, store.AgeAdult, store.AgeOlder)}
		c.updated = c.created.Add(time.Duration(i+1) * time.Minute) // distinct: Quiet orders by it alone
		c.entered = c.created.Add(time.Duration(r.IntN(20)) * 24 * time.Hour)
		if r.IntN(10) == 0 {
			c.entered = cases[r.IntN(max(1, len(cases)))].entered // ties in the stuck order
			if len(cases) == 0 {
				c.entered = c.created
			}
		}
		if r.IntN(4) == 0 {
			c.status, c.stage, c.closed = "closed", "Closed", ptr(at(r.IntN(60)-30))
			c.reason = pick("completed", "withdrawn", "deceased")
		} else {
			c.stage = pick("Counselling", "PlanApproval", "Procurement", "Monitoring")
			c.waiting = map[string]string{"Counselling": "caseworker", "PlanApproval": "approver",
				"Procurement": "procurement", "Monitoring": pick("caseworker", "")}[c.stage]
			switch r.IntN(12) {
			case 0:
				c.waiting = "system"
			case 1:
				c.waiting, c.blocked = "system", "refused (422)"
			}
			if c.waiting != "" && r.IntN(5) > 0 {
				d := readsMonth.AddDate(0, 0, r.IntN(10)) // ties in the inbox order
				c.due = &d
				c.overdue = r.IntN(3) == 0
			}
		}
		if r.IntN(2) == 0 {
			c.departed = ptr(at(r.IntN(60) - 30))
		}
		if r.IntN(2) == 0 {
			c.approved, c.committed = ptr(at(r.IntN(60)-30)), int64(100_000+r.IntN(1000))
			for item := range 1 + r.IntN(2) {
				pays = append(pays, seededPayment{caseID: c.id, country: c.country, currency: c.currency, sex: c.sex, age: c.age,
					vulnerable: c.vulnerable, amount: int64(1000 * (item + 1)),
					paidAt: at(r.IntN(60) - 30)})
			}
		}
		if c.stage == "Procurement" && r.IntN(2) == 0 {
			c.decidedBy = "approver-gn"
		}
		cases = append(cases, c)
	}

	tx, err := db.Begin()
	require.NoError(t, err)
	defer func() { _ = tx.Rollback() }()
	bind := func(q string) string { return store.Rebind(s.Driver(), q) }
	null := func(t *time.Time) any {
		if t == nil {
			return nil
		}
		return *t
	}
	for _, c := range cases {
		_, err := tx.Exec(bind(`INSERT INTO cases (id, seq, reference, status, stage, waiting_on, stage_entered_at, stage_due_at,
			overdue, blocked, host_country, country_of_return, sending_office, receiving_office, programme, vulnerable,
			beneficiary, household, vulnerabilities, consent, state, committed_cents, service_charge_cents, currency,
			created_by, workflow_id, created_at, updated_at, plan_approved_at, departed_at, closed_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'DE', ?, ?, ?, 'REAG-GARP', ?, '{}', '[]', '[]', '{}', '{}', ?, ?, ?,
			'caseworker-de', ?, ?, ?, ?, ?, ?)`),
			c.id, c.seq, fmt.Sprintf("HW-2026-%06d", c.seq), c.status, c.stage, c.waiting, c.entered, null(c.due),
			c.overdue, c.blocked, c.country, c.sending, c.receiving, c.vulnerable, c.committed, c.charge, c.currency,
			"case-"+c.id, c.created, c.updated, null(c.approved), null(c.departed), null(c.closed))
		require.NoError(t, err)
		// The facts the statistics count, as the case-file write stamps them.
		for _, f := range []struct {
			countsAs string
			at       *time.Time
			amount   int64
			currency string
			reason   string
		}{{"registered", &c.created, 0, "", ""}, {"departed", c.departed, c.charge, c.currency, ""},
			{"plan_approved", c.approved, c.committed, c.currency, ""}, {"closed", c.closed, 0, "", c.reason}} {
			if f.at == nil {
				continue
			}
			_, err = tx.Exec(bind(`INSERT INTO timeline_events (case_id, event_key, type, summary, at, counts_as, country_of_return,
				programme, sex, age_band, vulnerable, amount_cents, currency, reason)
				VALUES (?, ?, ?, '', ?, ?, ?, 'REAG-GARP', ?, ?, ?, ?, ?, ?)`), c.id, c.id+"/"+f.countsAs, f.countsAs, *f.at,
				f.countsAs, c.country, c.sex, c.age, c.vulnerable, f.amount, f.currency, f.reason)
			require.NoError(t, err)
		}
		if c.decidedBy != "" {
			_, err = tx.Exec(bind(`INSERT INTO timeline_events (case_id, event_key, type, actor_user, actor_role, summary, at)
				VALUES (?, ?, 'plan_decision', ?, 'approver', 'approved', ?)`), c.id, c.id+"/decision", c.decidedBy, c.updated)
			require.NoError(t, err)
		}
	}
	for i, p := range pays {
		_, err := tx.Exec(bind(`INSERT INTO payments (payment_id, case_id, item_id, amount_cents, currency, payee, paid_at, country_of_return,
			programme, sex, age_band, vulnerable)
			VALUES (?, ?, ?, ?, ?, 'supplier', ?, ?, 'REAG-GARP', ?, ?, ?)`), uuid.NewString(), p.caseID, "item-"+strconv.Itoa(i), p.amount,
			p.currency, p.paidAt, p.country, p.sex, p.age, p.vulnerable)
		require.NoError(t, err)
	}
	_, err = tx.Exec(bind(`INSERT INTO counters (name, value) VALUES ('case', ?)`), n)
	require.NoError(t, err)
	require.NoError(t, tx.Commit())
	return cases, pays
}

func bp(b bool) *bool { return &b }

// matches is store.Filter's definition.
func matches(f store.Filter, c seeded) bool {
	of := func(o string) bool { return c.sending == o || c.receiving == o }
	return (f.Stage == "" || c.stage == f.Stage) && (f.Status == "" || c.status == f.Status) &&
		(f.CountryOfReturn == "" || c.country == f.CountryOfReturn) && (f.Office == "" || of(f.Office)) &&
		(f.Vulnerable == nil || c.vulnerable == *f.Vulnerable) && (f.Overdue == nil || c.overdue == *f.Overdue) &&
		(f.WaitingOn == "" || c.waiting == f.WaitingOn) &&
		(f.Offices == nil || slices.ContainsFunc(f.Offices, of)) &&
		(f.Approver == "" || c.waiting == "approver" || c.decidedBy == f.Approver)
}

func ids(cs []store.Case) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

func seededIDs(cs []seeded) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.id
	}
	return out
}

func listFilters() []store.Filter {
	return []store.Filter{
		{},
		{Office: "GN-CKY"},
		{Office: "DE-BER"},
		{Office: "XX-NOP"},
		{Offices: []string{"DE-BER"}},
		{Offices: []string{"GN-CKY"}, Status: "active"},
		{Offices: []string{"GN-CKY", "SN-DKR"}},
		{Offices: []string{}},
		{Office: "GN-CKY", Offices: []string{"DE-BER"}},
		{Office: "GN-CKY", Overdue: bp(true), WaitingOn: "approver", Vulnerable: bp(true)},
		{Office: "GN-CKY", Overdue: bp(true)},
		{Office: "SN-DKR", Overdue: bp(false)},
		{Overdue: bp(true)},
		{Stage: "PlanApproval", Vulnerable: bp(false)},
		{CountryOfReturn: "GN", Status: "active"},
		{Offices: []string{"GN-CKY"}, Approver: "approver-gn"},
		{Office: "GN-CKY", Offices: []string{"GN-CKY"}, Approver: "approver-gn", Stage: "Procurement"},
	}
}

func TestReadsReturnWhatTheirFiltersSay(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		cases, pays := seedReads(t, s, 400)
		newestFirst := slices.Clone(cases)
		slices.Reverse(newestFirst)

		for _, f := range listFilters() {
			for _, limit := range []int{1, 7, 50} {
				name := fmt.Sprintf("%+v limit %d", f, limit)
				var want []string
				for _, c := range newestFirst {
					if matches(f, c) {
						want = append(want, c.id)
					}
				}
				var got []string
				f := f
				f.Limit, f.Cursor = limit, ""
				for pages := 0; ; pages++ {
					require.Less(t, pages, 1000, name)
					p, err := s.ListCases(ctx, f)
					require.NoError(t, err, name)
					require.LessOrEqual(t, len(p.Cases), limit, name)
					got = append(got, ids(p.Cases)...)
					if p.NextCursor == "" {
						break
					}
					require.Len(t, p.Cases, limit, name)
					require.Equal(t, store.CursorAfter(p.Cases[len(p.Cases)-1].Seq), p.NextCursor, name)
					f.Cursor = p.NextCursor
				}
				require.Equal(t, want, got, name)
			}
		}

		for _, tc := range []struct {
			offices []string
			waiting []string
		}{{[]string{"DE-BER"}, []string{"caseworker"}}, {[]string{"GN-CKY"}, []string{"approver"}},
			{nil, []string{"system"}}, {nil, []string{"caseworker"}}, {nil, []string{"caseworker", "approver"}},
			{[]string{"SN-DKR"}, []string{"procurement"}}} {
			for _, limit := range []int{5, 200} {
				f := store.Filter{Offices: tc.offices, Limit: limit}
				var want []seeded
				for _, c := range cases {
					if c.status == "active" && slices.Contains(tc.waiting, c.waiting) && matches(f, c) {
						want = append(want, c)
					}
				}
				slices.SortFunc(want, func(a, b seeded) int {
					if (a.due == nil) != (b.due == nil) {
						if a.due == nil {
							return 1
						}
						return -1
					}
					if a.due != nil && !a.due.Equal(*b.due) {
						return a.due.Compare(*b.due)
					}
					return cmp.Compare(a.seq, b.seq)
				})
				want = want[:min(limit, len(want))]
				got, err := s.Due(ctx, f, tc.waiting)
				require.NoError(t, err)
				require.Equal(t, seededIDs(want), ids(got), "due %v %v", tc, limit)
			}
		}

		for _, limit := range []int{3, 500} {
			var want []seeded
			for _, c := range cases {
				if c.status == "active" && (c.overdue || c.waiting == "system" || c.blocked != "") {
					want = append(want, c)
				}
			}
			slices.SortFunc(want, func(a, b seeded) int {
				return cmp.Or(a.entered.Compare(b.entered), cmp.Compare(a.seq, b.seq))
			})
			want = want[:min(limit, len(want))]
			got, err := s.Stuck(ctx, store.Filter{Limit: limit})
			require.NoError(t, err)
			require.Equal(t, seededIDs(want), ids(got), "stuck %d", limit)
		}

		before := readsMonth
		var quiet []seeded
		for _, c := range cases {
			if c.status == "active" && c.updated.Before(before) {
				quiet = append(quiet, c)
			}
		}
		slices.SortFunc(quiet, func(a, b seeded) int { return a.updated.Compare(b.updated) })
		got, err := s.Quiet(ctx, before, 10)
		require.NoError(t, err)
		require.Equal(t, seededIDs(quiet[:10]), ids(got), "quiet")

		// The month's statistics, counted here from the seeded facts.
		in := func(t *time.Time) bool {
			return t != nil && !t.Before(readsMonth) && t.Before(readsMonth.AddDate(0, 1, 0))
		}
		groups := func(country, sex, age string, vulnerable bool) [][2]string {
			v := "not_vulnerable"
			if vulnerable {
				v = "vulnerable"
			}
			return [][2]string{{"total", "all"}, {"country_of_return", country}, {"programme", "REAG-GARP"}, {"sex", sex},
				{"age_band", age}, {"vulnerability", v}}
		}
		activity := map[[2]string]*store.ActivityRow{}
		act := func(g [2]string) *store.ActivityRow {
			if activity[g] == nil {
				activity[g] = &store.ActivityRow{By: g[0], Key: g[1], Closures: map[string]int64{}}
				for _, r := range store.ClosureReasons {
					activity[g].Closures[r] = 0
				}
			}
			return activity[g]
		}
		act([2]string{"total", "all"})
		type mk struct{ by, key, currency string }
		type sums struct{ committed, paid, fees, payments int64 }
		money := map[mk]*sums{}
		get := func(g [2]string, currency string) *sums {
			k := mk{g[0], g[1], currency}
			if money[k] == nil {
				money[k] = &sums{}
			}
			return money[k]
		}
		byID := map[string]seeded{}
		for _, c := range cases {
			byID[c.id] = c
			for _, g := range groups(c.country, c.sex, c.age, c.vulnerable) {
				if in(&c.created) {
					act(g).Registered++
				}
				if in(c.departed) {
					act(g).Departed++
					get(g, c.currency).fees += c.charge
				}
				if in(c.approved) {
					act(g).PlansApproved++
					get(g, c.currency).committed += c.committed
				}
				if in(c.closed) {
					act(g).Closed++
					act(g).Closures[c.reason]++
				}
			}
		}
		for _, p := range pays {
			if !in(&p.paidAt) {
				continue
			}
			for _, g := range groups(p.country, p.sex, p.age, p.vulnerable) {
				get(g, p.currency).paid += p.amount
				get(g, p.currency).payments++
			}
		}
		rep, err := s.Statistics(ctx, readsMonth, readsMonth.AddDate(0, 1, 0))
		require.NoError(t, err)
		require.Len(t, rep.Activity, len(activity))
		for _, a := range rep.Activity {
			want := activity[[2]string{a.By, a.Key}]
			require.NotNil(t, want, "%s %s", a.By, a.Key)
			require.Equal(t, *want, a)
		}
		require.Len(t, rep.Money, len(money))
		for _, m := range rep.Money {
			want := money[mk{m.By, m.Key, m.Currency}]
			require.NotNil(t, want, "%s %s %s", m.By, m.Key, m.Currency)
			require.Equal(t, store.MoneyRow{By: m.By, Key: m.Key, Currency: m.Currency, Committed: moneyOf(want.committed),
				Paid: moneyOf(want.paid), ServiceFees: moneyOf(want.fees), Payments: want.payments}, m)
		}
		require.Positive(t, activity[[2]string{"total", "all"}].Registered)
		require.Equal(t, "total", rep.Activity[0].By, "the totals first")
	})
}

func moneyOf(c int64) string { return money.Cents(c).String() }

// TestReadsUseTheirIndexes explains each read as the store sends it. SQLite has
// no statistics (Homeward never runs ANALYZE), so its plans are those of a large
// database too. Postgres plans by its statistics, which a small table makes
// meaningless: it is asked for its plan with sequential scans and sorts
// discouraged, so the plan shows whether an index can serve filter and order
// (a partial index whose predicate the statement does not imply cannot).
func TestReadsUseTheirIndexes(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		seedReads(t, s, 50)
		db, err := s.SQL()
		require.NoError(t, err)
		conn, err := db.Conn(ctx)
		require.NoError(t, err)
		defer func() { _ = conn.Close() }()
		pg := s.Driver() == "postgres"
		if pg {
			for _, set := range []string{"enable_seqscan = off", "enable_sort = off", "enable_bitmapscan = off"} {
				_, err := conn.ExecContext(ctx, "SET "+set)
				require.NoError(t, err)
			}
		}
		explain := func(st store.Statement) string {
			q, args := "EXPLAIN QUERY PLAN "+st.SQL, st.Args
			if pg {
				q, args = "EXPLAIN "+st.SQL, append([]any{pgx.QueryExecModeExec}, args...)
			}
			rows, err := conn.QueryContext(ctx, q, args...)
			require.NoError(t, err, st.SQL)
			lines, err := store.PlanLines(rows)
			require.NoError(t, err, st.SQL)
			return strings.Join(lines, "\n")
		}
		// ordered: an index serves filter and order, and names the indexes it must use.
		ordered := func(st store.Statement, indexes ...string) {
			plan := explain(st)
			msg := st.Label + ":\n" + st.SQL + "\n" + plan
			if pg {
				require.NotContains(t, plan, "Seq Scan on cases", msg)
				require.NotRegexp(t, `Sort\s+\(cost`, plan, msg)
			} else {
				require.NotContains(t, plan, "TEMP B-TREE", msg)
				require.NotRegexp(t, `(?m)SCAN cases$`, plan, msg)
			}
			for _, ix := range indexes {
				require.Contains(t, plan, ix, msg)
			}
		}
		ordered(s.ListStatement(store.Filter{Limit: 50, Office: "GN-CKY", Overdue: bp(true), WaitingOn: "approver",
			Vulnerable: bp(true)}), sqliteOnly(pg, "cases_overdue_sending_seq", "cases_overdue_receiving_seq")...)
		ordered(s.ListStatement(store.Filter{Limit: 50, Office: "GN-CKY", WaitingOn: "approver", Cursor: "c1.1z"}))
		ordered(s.ListStatement(store.Filter{Limit: 50, Offices: []string{"DE-BER"}, Status: "active"}))
		ordered(s.ListStatement(store.Filter{Limit: 50, Stage: "PlanApproval"}))
		ordered(s.DueStatement(store.Filter{Limit: 200, Offices: []string{"DE-BER"}}, []string{"caseworker"}), "cases_inbox")
		ordered(s.DueStatement(store.Filter{Limit: 200}, []string{"system"}), "cases_inbox")
		ordered(s.StuckStatement(store.Filter{Limit: 500}), "cases_stuck")
		ordered(s.QuietStatement(readsMonth, 100), "cases_quiet")
		// A search reads its terms' cases newest first from their blind indexes.
		search, err := s.SearchStatement(store.Filter{Limit: 50, Offices: []string{"DE-BER"}},
			store.SearchQuery{NameTokens: []string{"aminata", "camara"}})
		require.NoError(t, err)
		ordered(search, "case_search_terms_seq")
		for _, st := range s.ReportStatements(readsMonth) {
			plan := explain(st)
			msg := st.Label + ":\n" + st.SQL + "\n" + plan
			if pg {
				require.NotRegexp(t, `Seq Scan on (cases|timeline_events|payments)`, plan, msg)
				require.NotContains(t, plan, "Hash Join", msg)
			} else {
				require.NotRegexp(t, `(?m)SCAN (cases|c|p|payments|timeline_events)$`, plan, msg)
				// Covering indexes: the month's facts are counted without reading their rows.
				for _, l := range strings.Split(plan, "\n") {
					if strings.Contains(l, "SEARCH") {
						require.Contains(t, l, "COVERING INDEX", msg)
					}
				}
			}
		}
	})
}

func sqliteOnly(pg bool, xs ...string) []string {
	if pg {
		return nil
	}
	return xs
}

// My work's counts: each office's active cases per stage, whether it sends or
// receives them, each case once; every office's for a manager (nil).
func TestActiveCasesByStageOfAnOffice(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		add := func(sending, receiving, stage, status string) {
			c := newCase("GN")
			c.SendingOffice, c.ReceivingOffice, c.Stage, c.Status = sending, receiving, stage, status
			require.NoError(t, s.CreateCase(ctx, c, nil, started))
		}
		add("DE-BER", "GN-CKY", "Counselling", "active")
		add("DE-BER", "GN-CKY", "Counselling", "active")
		add("DE-BER", "SN-DKR", "Travel", "active")
		add("BE-BRU", "GN-CKY", "Monitoring", "active")
		add("DE-BER", "DE-BER", "Screening", "active") // sent and received by one office: counted once
		add("DE-BER", "GN-CKY", "Closed", "closed")
		counts := func(offices []string) map[string]int64 {
			got, err := s.ActiveByStage(ctx, offices)
			require.NoError(t, err)
			m := map[string]int64{}
			for _, c := range got {
				m[c.Stage] = c.Cases
			}
			return m
		}
		require.Equal(t, map[string]int64{"Counselling": 2, "Travel": 1, "Screening": 1}, counts([]string{"DE-BER"}))
		require.Equal(t, map[string]int64{"Counselling": 2, "Monitoring": 1}, counts([]string{"GN-CKY"}))
		require.Equal(t, map[string]int64{"Counselling": 2, "Travel": 1, "Screening": 1, "Monitoring": 1}, counts(nil))
	})
}

// The counts are kept as cases change, through every path that moves a case: a
// new stage or a closure written by the workflow, a transfer to another
// receiving office, a case reopened by hand, a row removed: after each, every
// office's counts are what counting its active cases says.
func TestActiveCountsFollowEveryChangeOfACase(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		db, err := s.SQL()
		require.NoError(t, err)
		offices := []string{"DE-BER", "GN-CKY", "SN-DKR", "BE-BRU"}
		stages := []string{"Counselling", "Screening", "Travel", "Monitoring"}
		check := func(step string) {
			t.Helper()
			for _, scope := range [][]string{nil, {"DE-BER"}, {"GN-CKY", "SN-DKR"}, {"BE-BRU"}} {
				q, args := "SELECT stage, COUNT(*) FROM cases WHERE status = 'active'", []any{}
				if scope != nil {
					in := strings.TrimSuffix(strings.Repeat("?, ", len(scope)), ", ")
					q += " AND (sending_office IN (" + in + ") OR receiving_office IN (" + in + "))"
					for range 2 {
						for _, o := range scope {
							args = append(args, o)
						}
					}
				}
				rows, err := db.Query(store.Rebind(s.Driver(), q+" GROUP BY stage"), args...)
				require.NoError(t, err)
				want := map[string]int64{}
				for rows.Next() {
					var st string
					var n int64
					require.NoError(t, rows.Scan(&st, &n))
					want[st] = n
				}
				require.NoError(t, rows.Err())
				got, err := s.ActiveByStage(ctx, scope)
				require.NoError(t, err)
				have := map[string]int64{}
				for _, c := range got {
					have[c.Stage] = c.Cases
				}
				require.Equal(t, want, have, "%s, offices %v", step, scope)
			}
		}
		r := rand.New(rand.NewPCG(7, 22))
		var ids []string
		at := time.Now().UTC()
		seq := map[string]int64{}
		for i := range 40 {
			c := newCase("GN")
			c.SendingOffice, c.ReceivingOffice = offices[r.IntN(2)*3], offices[1+r.IntN(2)]
			c.Stage = stages[0]
			require.NoError(t, s.CreateCase(ctx, c, nil, started))
			ids = append(ids, c.ID)
			if i%10 == 0 {
				check("registered")
			}
		}
		check("registered")
		for i := range 120 {
			id := ids[r.IntN(len(ids))]
			var c store.Case
			require.NoError(t, db.QueryRow(store.Rebind(s.Driver(), "SELECT receiving_office, status FROM cases WHERE id = ?"), id).
				Scan(&c.ReceivingOffice, &c.Status))
			switch k := r.IntN(10); {
			case k < 6: // the workflow writes a stage, or closes the case
				seq[id]++
				st := contract.CaseState{Seq: seq[id], Status: contract.StatusActive, Stage: contract.Stage(stages[r.IntN(len(stages))]),
					StageEnteredAt: at}
				if k == 5 {
					st.Status, st.Stage, st.ClosureReason = contract.StatusClosed, contract.StageClosed, contract.ClosedWithdrawn
				}
				require.NoError(t, s.RecordChanges(ctx, contract.Changes{CaseID: id, WrittenIn: seq[id], State: st}))
			case k < 8: // a transfer
				to := offices[1+r.IntN(2)]
				if to == c.ReceivingOffice {
					continue
				}
				require.NoError(t, s.TransferCase(ctx, store.Transfer{CaseID: id, From: c.ReceivingOffice, To: to, At: at,
					By: store.AuditEntry{ActorUser: "approver-gn", ActorRole: "approver"}}))
			case k < 9: // reopened by hand
				_, err := db.Exec(store.Rebind(s.Driver(), "UPDATE cases SET status = 'active', stage = 'Travel' WHERE id = ?"), id)
				require.NoError(t, err)
			default: // a row removed by hand
				_, err := db.Exec(store.Rebind(s.Driver(), "DELETE FROM cases WHERE id = ?"), id)
				require.NoError(t, err)
				ids = slices.DeleteFunc(ids, func(x string) bool { return x == id })
			}
			if i%15 == 0 {
				check(fmt.Sprintf("change %d", i))
			}
		}
		check("the end")
	})
}

// A case whose wait opens later (a monitoring visit before its due date) is in
// nobody's inbox until then, though it waits on the caseworker already.
func TestTheInboxLeavesOutAWaitNotYetOpen(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := time.Now().UTC()
		later, earlier := now.Add(30*24*time.Hour), now.Add(-time.Hour)
		var ids []string
		for i, from := range []*time.Time{&later, &earlier, nil} {
			c := newCase("GN")
			require.NoError(t, s.CreateCase(ctx, c, nil, started))
			due := now.Add(time.Duration(40+i) * 24 * time.Hour)
			require.NoError(t, s.RecordCase(ctx, contract.Record{CaseID: c.ID, EventKey: c.ID + "-visit", Type: "stage",
				Summary: "Monitoring: waiting on caseworker", At: now, RunID: "run-1",
				State: contract.CaseState{Seq: 1, Stage: contract.StageMonitoring, Status: contract.StatusActive,
					WaitingOn: contract.WaitingCaseworker, StageEnteredAt: now, StageDueAt: &due, WaitingFrom: from}}))
			ids = append(ids, c.ID)
		}
		got, err := s.Due(ctx, store.Filter{Limit: 10}, []string{"caseworker"})
		require.NoError(t, err)
		var gotIDs []string
		for _, c := range got {
			gotIDs = append(gotIDs, c.ID)
		}
		require.Equal(t, ids[1:], gotIDs, "the visit due a month from now is not in the inbox yet")
	})
}

// A wait only the sending office may answer (the donor's decision: the state's
// open actions say so) is in the sending office's inbox alone; a plan decision
// either office may take is in both.
func TestTheInboxListsAWaitToTheOfficeThatMayAnswerIt(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := time.Now().UTC()
		approvers := []contract.Role{contract.RoleApprover}
		wait := func(actions ...contract.OpenAction) string {
			c := newCase("GN")
			c.SendingOffice, c.ReceivingOffice = "DE-BER", "GN-CKY"
			require.NoError(t, s.CreateCase(ctx, c, nil, started))
			due := now.Add(24 * time.Hour)
			require.NoError(t, s.RecordCase(ctx, contract.Record{CaseID: c.ID, EventKey: c.ID + "-wait", Type: "stage",
				Summary: "PlanApproval: waiting on approver", At: now, RunID: "run-1",
				State: contract.CaseState{Seq: 1, Stage: contract.StagePlanApproval, Status: contract.StatusActive,
					WaitingOn: contract.WaitingApprover, StageEnteredAt: now, StageDueAt: &due, Actions: actions}}))
			return c.ID
		}
		anyone := []contract.Role{contract.RoleCaseworker, contract.RoleApprover}
		donor := wait(contract.OpenAction{Name: contract.UpdateDonorDecision, Roles: approvers, Offices: []string{"DE-BER"}},
			contract.OpenAction{Name: contract.UpdateWithdrawal, Roles: anyone})
		plan := wait(contract.OpenAction{Name: contract.UpdatePlanDecision, Roles: approvers},
			contract.OpenAction{Name: contract.UpdateWithdrawal, Roles: anyone})
		inbox := func(f store.Filter) []string {
			f.Limit = 10
			got, err := s.Due(ctx, f, []string{"approver"})
			require.NoError(t, err)
			var ids []string
			for _, c := range got {
				ids = append(ids, c.ID)
			}
			return ids
		}
		require.ElementsMatch(t, []string{donor, plan}, inbox(store.Filter{Offices: []string{"DE-BER"}}))
		require.Equal(t, []string{plan}, inbox(store.Filter{Offices: []string{"GN-CKY"}}), "the donor's decision is not the receiving office's")
		require.Equal(t, []string{plan}, inbox(store.Filter{Office: "GN-CKY"}))
		require.ElementsMatch(t, []string{donor, plan}, inbox(store.Filter{}), "a manager's")
	})
}
