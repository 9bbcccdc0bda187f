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
	"github.com/homeward/homeward/money"
	"github.com/homeward/homeward/store"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
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
}

type seededPayment struct {
	caseID, country, currency string
	amount                    int64
	paidAt                    time.Time
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
			created: at(r.IntN(120) - 60), charge: 15000}
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
				pays = append(pays, seededPayment{caseID: c.id, country: c.country, currency: c.currency, amount: int64(1000 * (item + 1)),
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
		if c.decidedBy != "" {
			_, err = tx.Exec(bind(`INSERT INTO timeline_events (case_id, event_key, type, actor_user, actor_role, summary, at)
				VALUES (?, ?, 'plan_decision', ?, 'approver', 'approved', ?)`), c.id, c.id+"/decision", c.decidedBy, c.updated)
			require.NoError(t, err)
		}
	}
	for i, p := range pays {
		_, err := tx.Exec(bind(`INSERT INTO payments (payment_id, case_id, item_id, amount_cents, currency, payee, paid_at, country_of_return)
			VALUES (?, ?, ?, ?, ?, 'supplier', ?, ?)`), uuid.NewString(), p.caseID, "item-"+strconv.Itoa(i), p.amount, p.currency, p.paidAt, p.country)
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

		// The monthly report, counted here from the seeded cases.
		in := func(t *time.Time) bool {
			return t != nil && !t.Before(readsMonth) && t.Before(readsMonth.AddDate(0, 1, 0))
		}
		type rk struct{ country, stage string }
		returns := map[rk]*store.ReturnsRow{}
		type ak struct{ country, currency string }
		type sums struct{ committed, paid, charges, casesCommitted, payments int64 }
		assist := map[ak]*sums{}
		get := func(k ak) *sums {
			if assist[k] == nil {
				assist[k] = &sums{}
			}
			return assist[k]
		}
		byID := map[string]seeded{}
		for _, c := range cases {
			byID[c.id] = c
			created := c.created
			reg, dep, clo := in(&created), in(c.departed), in(c.closed)
			if reg || dep || clo {
				k := rk{c.country, c.stage}
				if returns[k] == nil {
					returns[k] = &store.ReturnsRow{CountryOfReturn: c.country, Stage: c.stage}
				}
				for _, x := range []struct {
					on  bool
					dst *int64
				}{{reg, &returns[k].Registered}, {dep, &returns[k].Departed}, {clo, &returns[k].Closed}} {
					if x.on {
						*x.dst++
					}
				}
			}
			if in(c.approved) {
				a := get(ak{c.country, c.currency})
				a.committed += c.committed
				a.casesCommitted++
			}
			if in(c.departed) {
				get(ak{c.country, c.currency}).charges += c.charge
			}
		}
		for _, p := range pays {
			if in(&p.paidAt) {
				a := get(ak{byID[p.caseID].country, p.currency})
				a.paid += p.amount
				a.payments++
			}
		}
		var wantReturns []store.ReturnsRow
		for _, r := range returns {
			wantReturns = append(wantReturns, *r)
		}
		slices.SortFunc(wantReturns, func(a, b store.ReturnsRow) int {
			return cmp.Or(cmp.Compare(a.CountryOfReturn, b.CountryOfReturn), cmp.Compare(a.Stage, b.Stage))
		})
		var wantAssist []store.AssistanceRow
		for k, a := range assist {
			wantAssist = append(wantAssist, store.AssistanceRow{CountryOfReturn: k.country, Currency: k.currency,
				Committed: money.Cents(a.committed).String(), Paid: money.Cents(a.paid).String(),
				ServiceCharges: money.Cents(a.charges).String(), CasesCommitted: a.casesCommitted, Payments: a.payments})
		}
		slices.SortFunc(wantAssist, func(a, b store.AssistanceRow) int {
			return cmp.Or(cmp.Compare(a.CountryOfReturn, b.CountryOfReturn), cmp.Compare(a.Currency, b.Currency))
		})
		rep, err := s.MonthlyReport(ctx, readsMonth)
		require.NoError(t, err)
		require.NotEmpty(t, wantReturns)
		require.Equal(t, wantReturns, rep.Returns)
		require.Equal(t, wantAssist, rep.Assistance)
	})
}

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
		defer conn.Close()
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
		for _, st := range s.ReportStatements(readsMonth) {
			plan := explain(st)
			msg := st.Label + ":\n" + st.SQL + "\n" + plan
			if pg {
				require.NotContains(t, plan, "Seq Scan on cases", msg)
				require.NotContains(t, plan, "Hash Join", msg)
			} else {
				require.NotRegexp(t, `(?m)SCAN (cases|c|p|payments)$`, plan, msg)
				// Covering indexes: the month's rows are counted without reading cases' rows.
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
