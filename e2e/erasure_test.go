package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"

	"github.com/homeward/homeward/activities"
	"github.com/homeward/homeward/partners"
	"github.com/homeward/homeward/simulator"
	"github.com/homeward/homeward/store"
	"github.com/homeward/homeward/worker"
)

// After the retention period, no personal or health datum of a case remains
// anywhere in the database. A case carries a canary in every field that holds
// personal data or free text (names, phone, dates of birth, area of return,
// consent, counselling notes, screening mitigations, flight, plan, decision,
// handover certificate, visit notes, a note, a document and remembered answers),
// and a health datum (its medical result, its vulnerabilities); it runs to its end,
// the retention schedule anonymises it, and then every row of every table the
// database's catalog lists is read raw and searched. Sealed values may remain only
// in the case's state, which is opened with the store's key and searched too. The
// monthly statistics are the same before and after, and the case registry (a
// partner) was asked to delete its record of the case.
func TestNothingPersonalRemainsAfterRetention(t *testing.T) {
	eachDatabase(t, func(t *testing.T, driver string) {
		cfg := testConfig(t, driver)
		cfg.Retention.After = time.Millisecond
		h := start(t, cfg)
		const (
			dob      = "1987-03-29"
			childDOB = "2015-09-17"
			consent  = "2026-11-19T07:31:13Z"
		)
		reg := canaryRegistration()
		setField(reg, "beneficiary.date_of_birth", dob)
		setField(reg, "household", []any{map[string]any{"given_name": canary + "Child", "relationship": "child", "date_of_birth": childDOB}})
		setField(reg, "area_of_return", map[string]any{"region": canary + "Region", "district": canary + "District"})
		setField(reg, "consent", map[string]any{"data_processing": true, "given_at": consent})
		r := h.call("POST", "/api/v1/cases", "dev-caseworker", reg, "Idempotency-Key", canary+"-register")
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		id := r.JSON(t)["id"].(string)
		path := "/api/v1/cases/" + id
		require.NoError(t, h.s.Simulator.ScriptMedical(id, simulator.MedicalScript{Results: []string{"fit_with_escort"}}))

		h.waitCase(id, "counselling", stageIs("Counselling"))
		h.accept("POST", path+"/counselling", "dev-caseworker", map[string]any{"outcome": "confirmed", "held_at": now(),
			"notes": canary + "Counselling"}, "Idempotency-Key", canary+"-counsel")
		h.waitCase(id, "screening", stageIs("Screening"))
		h.accept("POST", path+"/screening", "dev-caseworker", map[string]any{"risk": "medium", "flags": []string{"health_needs"},
			"mitigations": []string{canary + "Mitigation"}})
		h.ticketed(id)
		h.accept("POST", path+"/departure", "dev-caseworker", map[string]any{"departed_at": now(), "flight": "CNRY7F3A"})
		plan := cost("in_kind", "600.00")
		plan["description"] = canary + "Plan"
		h.submitPlan(id, cost("cash", "400.00"), plan)
		h.accept("POST", path+"/plan/decisions", "dev-approver-gn", map[string]any{"decision": "approve", "comment": canary + "Decision"})
		c := h.waitCase(id, "the order", func(c map[string]any) bool {
			ps := list(c["procurement"])
			for _, p := range ps {
				if p["status"] == "ordered" {
					return true
				}
			}
			return false
		})
		for _, p := range list(c["procurement"]) {
			if p["status"] == "ordered" {
				h.accept("POST", fmt.Sprintf("%s/procurement/%s/delivery", path, p["id"]), "dev-procurement",
					map[string]any{"delivered_at": now(), "handover_certificate": canary + "Handover"}, "Idempotency-Key", canary+"-deliver")
			}
		}
		n := h.call("POST", path+"/notes", "dev-caseworker", map[string]any{"text": canary + "Note"}, "Idempotency-Key", canary+"-note")
		require.Equal(t, http.StatusCreated, n.Status, string(n.Body))
		body, ct := multipartBody(t, "consent", canary+"Document.pdf", "application/pdf", []byte("%PDF-1.4 "+canary+"DocumentBytes"))
		d := h.call("POST", path+"/documents", "dev-caseworker", body, "Content-Type", ct, "Idempotency-Key", canary+"-doc")
		require.Equal(t, http.StatusCreated, d.Status, string(d.Body))
		for visit := 1; visit <= 3; visit++ {
			h.waitCase(id, fmt.Sprintf("visit %d due", visit), func(c map[string]any) bool {
				vs := list(c["monitoring"])
				return len(vs) == 3 && vs[visit-1]["status"] == "due"
			})
			h.accept("POST", path+"/monitoring", "dev-caseworker-gn", map[string]any{"visit": visit, "visited_at": now(),
				"scores": map[string]any{"economic": 0.5, "social": 0.75, "psychosocial": 1}, "notes": canary + "Visit"})
		}
		h.waitCase(id, "closure", stageIs("Closed"))
		month := time.Now().UTC().Format("2006-01")
		report := func() string {
			r := h.call("GET", "/api/v1/reports/monthly?month="+month, "dev-manager", nil)
			require.Equal(t, http.StatusOK, r.Status, string(r.Body))
			return string(r.Body)
		}
		before := report()
		// Every marker is in the database before (so the search below can find them).
		markers := []string{canary, canaryPhone, dob, childDOB, "07:31:13", "CNRY7F3A", "fit_with_escort", "health_needs"}
		require.NotEmpty(t, rawHits(t, h, markers[:1]), "the canary is in the database before retention")

		schedule := temporalClient().ScheduleClient().GetHandle(context.Background(), worker.RetentionScheduleID(cfg.Temporal.TaskQueue))
		require.NoError(t, schedule.Trigger(context.Background(), client.ScheduleTriggerOptions{}))
		h.waitCase(id, "anonymisation", func(c map[string]any) bool {
			return c["beneficiary"].(map[string]any)["anonymised"] == true
		})

		require.Empty(t, rawHits(t, h, markers), "personal or health data left in the database after retention")
		cs, err := h.s.Store.CaseByID(t.Context(), id) // the state, opened with the store's key
		require.NoError(t, err)
		for _, m := range append(markers, "Kankan", "escort", "medium") {
			require.NotContains(t, cs.State, m, "the case's state keeps %q", m)
		}
		tl, err := h.s.Store.Timeline(t.Context(), id)
		require.NoError(t, err)
		require.NotEmpty(t, tl)
		for _, e := range tl {
			require.Equal(t, store.AnonymisedSummary, e.Summary, "a timeline summary (%s) stays", e.Type)
		}
		require.Equal(t, before, report(), "the statistics add up as before")

		// The registry was asked to erase its record of the case.
		counts := h.s.Simulator.Counts()
		require.Contains(t, counts.RegistryErased, id)
		require.NotContains(t, counts.RegistryStages, id)
	})
}

// rawHits reads every row of every table in the database's catalog, as text, and
// returns where any marker appears, and where a sealed value is kept other than the
// case's state.
func rawHits(t *testing.T, h *homeward, markers []string) []string {
	t.Helper()
	db, err := h.s.Store.SQL()
	require.NoError(t, err)
	catalog := "SELECT name FROM sqlite_master WHERE type = 'table'"
	if h.s.Config.Database.Driver == "postgres" {
		catalog = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
	}
	tables := queryStrings(t, db, catalog)
	require.Contains(t, tables, "cases")
	require.Contains(t, tables, "timeline_events")
	var hits []string
	for _, table := range tables {
		rows, err := db.Query(`SELECT * FROM "` + table + `"`)
		require.NoError(t, err, table)
		cols, err := rows.Columns()
		require.NoError(t, err)
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			for i, v := range vals {
				var s string
				switch v := v.(type) {
				case nil:
					continue
				case []byte:
					s = string(v)
				case time.Time:
					s = v.UTC().Format(time.RFC3339Nano)
				default:
					s = fmt.Sprint(v)
				}
				for _, m := range markers {
					if strings.Contains(s, m) {
						hits = append(hits, fmt.Sprintf("%s.%s holds %q", table, cols[i], m))
					}
				}
				if strings.HasPrefix(s, "enc:") && (table != "cases" || cols[i] != "state") {
					hits = append(hits, fmt.Sprintf("%s.%s holds a sealed value", table, cols[i]))
				}
			}
		}
		require.NoError(t, rows.Err())
		require.NoError(t, rows.Close())
	}
	return hits
}

func queryStrings(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.Query(q)
	require.NoError(t, err)
	defer func() { _ = rows.Close() }()
	var out []string
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		out = append(out, s)
	}
	require.NoError(t, rows.Err())
	return out
}

// The registry's erasure comes first: while the registry cannot answer, a due case
// keeps waiting (it is not anonymised without the registry being asked); once the
// registry answers, the case is erased there and anonymised here.
func TestRetentionWaitsForTheRegistryToErase(t *testing.T) {
	cfg := testConfig(t, "sqlite")
	h := start(t, cfg)
	id := h.register()
	h.counsel(id, "withdrawn")
	h.waitCase(id, "closure", stageIs("Closed"))

	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	acts := &activities.Activities{Store: h.s.Store, Partners: partners.New(h.s.SimURL, cfg.Services.APIKey, cfg.Services.Timeout)}
	env.RegisterActivity(acts)
	anonymise := func() int {
		v, err := env.ExecuteActivity(acts.AnonymiseClosedCases, time.Now().Add(time.Hour), 10)
		require.NoError(t, err)
		var n int
		require.NoError(t, v.Get(&n))
		return n
	}

	require.NoError(t, h.s.Simulator.SetFault("registry", simulator.Fault{FailureRate: 1}))
	require.Zero(t, anonymise(), "anonymised without the registry's erasure")
	cs, err := h.s.Store.CaseByID(t.Context(), id)
	require.NoError(t, err)
	require.Nil(t, cs.AnonymisedAt)

	require.NoError(t, h.s.Simulator.SetFault("registry", simulator.Fault{}))
	require.Equal(t, 1, anonymise())
	require.Contains(t, h.s.Simulator.Counts().RegistryErased, id)
	cs, err = h.s.Store.CaseByID(t.Context(), id)
	require.NoError(t, err)
	require.NotNil(t, cs.AnonymisedAt)
}
