package e2e

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/homeward/homeward/config"
	"github.com/homeward/homeward/store"
)

// A past month's statistics do not move: computed through HTTP before and after
// later events (the cases' visits and closure, a correction of the person's
// vulnerabilities, a new registration), they are the same bytes; the CSV and
// the XLSX hold the same figures as the JSON.
//
// The stack runs in real time, so its facts all happen this month. The test
// moves the facts written so far (their timeline lines and payments, nothing
// else) into last month, as if the cases had started then; every later fact is
// written by the running cases, this month.
func TestStatisticsOfAPastMonthDoNotMove(t *testing.T) {
	eachDatabase(t, func(t *testing.T, driver string) {
		h := start(t, testConfig(t, driver))
		returned := h.register()
		h.counsel(returned, "confirmed")
		h.screen(returned, "medium", "health_needs")
		h.ticketed(returned)
		h.depart(returned)
		h.submitPlan(returned, cost("cash", "400.00"), cost("in_kind", "900.00"))
		h.decide(returned, "dev-approver-gn", "approve")
		h.deliverAll(returned, 1)
		h.waitCase(returned, "monitoring", stageIs("Monitoring"))
		withdrawn := h.register()
		h.accept("POST", "/api/v1/cases/"+withdrawn+"/withdrawal", "dev-caseworker", map[string]any{"reason": "withdrawn"})
		h.waitCase(withdrawn, "closure", stageIs("Closed"))

		last := moveIntoLastMonth(t, h, returned, withdrawn)
		report := func(accept string) response {
			var headers []string
			if accept != "" {
				headers = []string{"Accept", accept}
			}
			r := h.call("GET", "/api/v1/reports/monthly?month="+last, "dev-manager", nil, headers...)
			require.Equal(t, http.StatusOK, r.Status, string(r.Body))
			return r
		}
		before := report("")
		var rep struct {
			Activity []store.ActivityRow `json:"activity"`
			Money    []store.MoneyRow    `json:"money"`
		}
		require.NoError(t, json.Unmarshal(before.Body, &rep))
		total := rep.Activity[0]
		require.Equal(t, [2]string{"total", "all"}, [2]string{total.By, total.Key})
		require.Equal(t, [7]int64{2, 1, 1, 1, 0, 0, 1}, [7]int64{total.Registered, total.Departed, total.Arrived,
			total.PlansApproved, total.VisitsDone, total.VisitsMissed, total.Closed})
		require.Equal(t, int64(1), total.Closures["withdrawn"])
		ps, err := h.s.Store.Payments(t.Context(), returned)
		require.NoError(t, err)
		require.Contains(t, rep.Money, store.MoneyRow{By: "total", Key: "all", Currency: "EUR", Committed: "1300.00",
			Paid: paidTotal(ps), ServiceFees: "150.00", Payments: 2})
		for _, want := range []store.ActivityRow{
			{By: "sex", Key: "female", Registered: 2}, {By: "age_band", Key: store.AgeAdult, Registered: 2},
			{By: "vulnerability", Key: "vulnerable", Registered: 2}, {By: "programme", Key: "REAG-GARP", Registered: 2},
			{By: "country_of_return", Key: "GN", Registered: 2},
		} {
			i := slices.IndexFunc(rep.Activity, func(a store.ActivityRow) bool { return a.By == want.By && a.Key == want.Key })
			require.GreaterOrEqual(t, i, 0, "%s %s", want.By, want.Key)
			require.Equal(t, want.Registered, rep.Activity[i].Registered, "%s %s", want.By, want.Key)
		}
		csvBefore, xlsxBefore := report("text/csv"), report(XLSX)
		requireSameFigures(t, rep.Activity, rep.Money, xlsxBefore.Body)

		// Later: no longer vulnerable (a correction), visits, the closure; a new case.
		r := h.call("PATCH", "/api/v1/cases/"+returned, "dev-caseworker", map[string]any{"vulnerabilities": []string{}},
			"Content-Type", "application/merge-patch+json")
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		h.visitAll(returned)
		h.waitCase(returned, "closure", stageIs("Closed"))
		h.waitCase(h.register(), "counselling", stageIs("Counselling")) // its registration is in its timeline

		require.Equal(t, string(before.Body), string(report("").Body), "last month's table is as it was")
		require.Equal(t, string(csvBefore.Body), string(report("text/csv").Body))
		requireSameFigures(t, rep.Activity, rep.Money, report(XLSX).Body)

		// This month counted what happened since.
		this := h.call("GET", "/api/v1/reports/monthly?month="+time.Now().UTC().Format("2006-01"), "dev-manager", nil).JSON(t)
		now := list(this["activity"])[0]
		require.Equal(t, []any{float64(1), float64(3), float64(1)}, []any{now["registered"], now["visits_done"], now["closed"]})
		var notVulnerable bool
		for _, a := range list(this["activity"]) {
			notVulnerable = notVulnerable || (a["by"] == "vulnerability" && a["key"] == "not_vulnerable" && a["closed"] == float64(1))
		}
		require.True(t, notVulnerable, "the closure counts as the case is now: no longer vulnerable")

		// The quarter adds up its months.
		q := h.call("GET", "/api/v1/reports/quarterly?quarter="+quarterOf(time.Now().UTC()), "dev-manager", nil)
		require.Equal(t, http.StatusOK, q.Status, string(q.Body))
		bad := h.call("GET", "/api/v1/reports/quarterly?quarter=2026-Q5", "dev-manager", nil)
		require.Equal(t, http.StatusUnprocessableEntity, bad.Status)
		require.Equal(t, http.StatusForbidden, h.call("GET", "/api/v1/reports/quarterly?quarter=2026-Q4", "dev-approver-gn", nil).Status)
	})
}

// XLSX is the workbook's media type.
const XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

func quarterOf(t time.Time) string { return fmt.Sprintf("%d-Q%d", t.Year(), (int(t.Month())-1)/3+1) }

// moveIntoLastMonth moves the cases' timeline lines and payments written so far
// to the same day of last month (the 28th at the latest), and returns that month.
func moveIntoLastMonth(t *testing.T, h *homeward, ids ...string) string {
	t.Helper()
	db, err := h.s.Store.SQL()
	require.NoError(t, err)
	thisMonth := time.Date(time.Now().UTC().Year(), time.Now().UTC().Month(), 1, 0, 0, 0, 0, time.UTC)
	lastMonth := thisMonth.AddDate(0, -1, 0)
	move := func(at time.Time) time.Time { return lastMonth.Add(min(at.Sub(thisMonth), 27*24*time.Hour)) }
	bind := func(q string) string { return store.Rebind(h.s.Config.Database.Driver, q) }
	for _, table := range []struct{ name, key, at string }{{"timeline_events", "id", "at"}, {"payments", "payment_id", "paid_at"}} {
		for _, id := range ids {
			rows, err := db.Query(bind(`SELECT `+table.key+`, `+table.at+` FROM `+table.name+` WHERE case_id = ?`), id)
			require.NoError(t, err)
			type row struct {
				key any
				at  time.Time
			}
			var rs []row
			for rows.Next() {
				var r row
				var at sql.NullTime
				require.NoError(t, rows.Scan(&r.key, &at))
				r.at = at.Time
				rs = append(rs, r)
			}
			require.NoError(t, rows.Err())
			require.NoError(t, rows.Close())
			for _, r := range rs {
				_, err := db.Exec(bind(`UPDATE `+table.name+` SET `+table.at+` = ? WHERE `+table.key+` = ?`), move(r.at), r.key)
				require.NoError(t, err)
			}
		}
	}
	return lastMonth.Format("2006-01")
}

// requireSameFigures opens the workbook with excelize and finds in it the
// figures of the JSON, row by row.
func requireSameFigures(t *testing.T, activity []store.ActivityRow, money []store.MoneyRow, workbook []byte) {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(workbook))
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	rows, err := f.GetRows("Activity")
	require.NoError(t, err)
	require.Len(t, rows, len(activity)+1, "a header and a row per JSON row")
	require.Equal(t, []string{"period", "by", "key", "registered", "departed", "arrived", "plans_approved", "visits_done",
		"visits_missed", "closed", "closed_completed"}, rows[0][:11])
	for i, a := range activity {
		want := []string{a.By, a.Key}
		for _, n := range []int64{a.Registered, a.Departed, a.Arrived, a.PlansApproved, a.VisitsDone, a.VisitsMissed, a.Closed} {
			want = append(want, strconv.FormatInt(n, 10))
		}
		for _, reason := range store.ClosureReasons {
			want = append(want, strconv.FormatInt(a.Closures[reason], 10))
		}
		require.Equal(t, want, rows[i+1][1:], "activity row %d", i+1)
	}
	rows, err = f.GetRows("Money")
	require.NoError(t, err)
	require.Len(t, rows, len(money)+1)
	for i, m := range money {
		require.Equal(t, []string{m.By, m.Key, m.Currency, m.Committed, m.Paid, m.ServiceFees, strconv.FormatInt(m.Payments, 10)},
			rows[i+1][1:], "money row %d", i+1)
	}
	// The amounts are numbers, not text.
	typ, err := f.GetCellType("Money", "E2")
	require.NoError(t, err)
	require.NotEqual(t, excelize.CellTypeSharedString, typ)
	require.NotEqual(t, excelize.CellTypeInlineString, typ)
}

// The budget: an approver deciding a plan sees what is left of the programme's
// envelope, and a plan that would exceed it is flagged; GET /budgets/{programme}
// shows committed and paid per month, to managers and the programme's approvers.
func TestAnApproverSeesWhatIsLeftOfTheBudget(t *testing.T) {
	cfg := testConfig(t, "sqlite")
	cfg.Budgets = []config.Budget{{Programme: "REAG-GARP", Currency: "EUR", Envelope: "2000.00"}}
	cfg.Auth.Tokens = append(cfg.Auth.Tokens, config.Token{Token: "approver-sn", User: "approver-sn", Role: "approver", Office: "SN-DKR"})
	h := start(t, cfg)
	first, second := h.register(), h.register()
	for _, id := range []string{first, second} {
		h.counsel(id, "confirmed")
		h.screen(id, "medium", "health_needs")
	}
	for _, id := range []string{first, second} {
		h.ticketed(id)
		h.depart(id)
	}
	h.submitPlan(first, cost("cash", "400.00"), cost("in_kind", "900.00"))
	h.submitPlan(second, cost("cash", "1300.00"))

	b := h.call("GET", "/api/v1/cases/"+first, "dev-approver-gn", nil).JSON(t)["budget"].(map[string]any)
	year := float64(time.Now().UTC().Year())
	require.Equal(t, map[string]any{"year": year, "currency": "EUR", "envelope": "2000.00", "committed": "0.00",
		"remaining": "2000.00", "plan_total": "1300.00", "remaining_after": "700.00", "exceeds": false}, b)
	require.NotContains(t, h.call("GET", "/api/v1/cases/"+first, "dev-caseworker", nil).JSON(t), "budget",
		"a caseworker is not shown the budget")
	h.decide(first, "dev-approver-gn", "approve")

	b = h.call("GET", "/api/v1/cases/"+second, "dev-approver-gn", nil).JSON(t)["budget"].(map[string]any)
	require.Equal(t, "700.00", b["remaining"])
	require.Equal(t, "-600.00", b["remaining_after"])
	require.Equal(t, true, b["exceeds"], "the plan would exceed the envelope: flagged to the approver")
	require.NotContains(t, h.call("GET", "/api/v1/cases/"+first, "dev-approver-gn", nil).JSON(t), "budget",
		"a plan decided shows no budget")

	month := time.Now().UTC().Format("2006-01")
	for _, token := range []string{"dev-manager", "dev-approver-gn"} {
		st := h.call("GET", "/api/v1/budgets/REAG-GARP", token, nil)
		require.Equal(t, http.StatusOK, st.Status, string(st.Body))
		got := st.JSON(t)
		require.Equal(t, "2000.00", got["envelope"])
		require.Equal(t, "1300.00", got["committed"])
		require.Equal(t, "700.00", got["remaining"])
		for _, m := range list(got["months"]) {
			if m["month"] == month {
				require.Equal(t, "1300.00", m["committed"])
			} else {
				require.Equal(t, "0.00", m["committed"])
			}
		}
	}
	require.Equal(t, http.StatusForbidden, h.call("GET", "/api/v1/budgets/REAG-GARP", "approver-sn", nil).Status,
		"an approver of an office outside the programme")
	require.Equal(t, http.StatusForbidden, h.call("GET", "/api/v1/budgets/REAG-GARP", "dev-caseworker", nil).Status)
	require.Equal(t, http.StatusNotFound, h.call("GET", "/api/v1/budgets/NOPE", "dev-manager", nil).Status)
	require.Equal(t, http.StatusUnprocessableEntity, h.call("GET", "/api/v1/budgets/REAG-GARP?year=20x6", "dev-manager", nil).Status)
	none := h.call("GET", "/api/v1/budgets/EU-IOM-JI", "dev-manager", nil).JSON(t)
	require.NotContains(t, none, "envelope", "no envelope configured")
	require.Equal(t, "0.00", none["committed"])

	// The workspace shows it on the plan's decision.
	ap := h.browser("")
	ap.signIn("approver-gn")
	page := ap.get("/cases/" + second)
	require.Contains(t, page.body, `id="plan-budget"`)
	require.Contains(t, page.body, "would exceed the programme&#39;s budget")
	require.True(t, strings.Contains(page.body, "-600.00"))
}
