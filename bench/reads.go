package bench

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" for creating the bench database

	"github.com/homeward/homeward/api"
	"github.com/homeward/homeward/codec"
	"github.com/homeward/homeward/config"
	"github.com/homeward/homeward/stack"
	"github.com/homeward/homeward/store"
	"github.com/homeward/homeward/store/storetest"
)

// readQuery is one read through the API, and the SQL the store runs for it (as
// store/list.go and store/report.go build it) for the query plan.
type readQuery struct {
	name  string
	path  string
	token string
	post  bool // POST body (a search); else GET
	body  any
	list  bool // counts toward list_p99
	// probe: /stuck with the default task probe (100 quiet cases asked about in
	// the background every 30 s); probeEach: with the probe run by every request.
	probe, probeEach bool
	sql              []planSQL
}

func (q readQuery) method() string {
	if q.post {
		return "POST"
	}
	return "GET"
}

// searchQueries are the blind-index searches (a name's tokens looked up by their
// keyed hashes) and a case page. Each search's plan is the store's own statement
// (store.SearchSQL), for the caller's office scope.
func searchQueries(caseID string, st *store.Store) []readQuery {
	common, rare := familyNames[0].v, familyNames[len(familyNames)-1].v
	search := func(offices []string, name string) []planSQL {
		q, err := st.SearchStatement(store.Filter{Offices: offices, Limit: 50}, store.SearchQuery{NameTokens: store.NameTokens(name)})
		if err != nil {
			panic(err) // no cursor: nothing to parse
		}
		return []planSQL{{q.Label, q.SQL, q.Args}}
	}
	manager, caseworker := []string(nil), []string{"DE-BER"}
	return []readQuery{
		{name: "search: a common family name (manager)", path: "/api/v1/cases/search", token: "dev-manager", post: true,
			body: map[string]any{"name": common}, sql: search(manager, common)},
		{name: "search: a common family name (caseworker DE-BER)", path: "/api/v1/cases/search", token: "dev-caseworker", post: true,
			body: map[string]any{"name": common}, sql: search(caseworker, common)},
		{name: "search: a rare family name (manager)", path: "/api/v1/cases/search", token: "dev-manager", post: true,
			body: map[string]any{"name": rare}, sql: search(manager, rare)},
		{name: "search: given and family name (caseworker DE-BER)", path: "/api/v1/cases/search", token: "dev-caseworker", post: true,
			body: map[string]any{"name": givenNames[0] + " " + common}, sql: search(caseworker, givenNames[0]+" "+common)},
		{name: "case page: GET /cases/{id} (manager)", path: "/api/v1/cases/" + caseID, token: "dev-manager",
			sql: []planSQL{{"case", "SELECT * FROM cases WHERE id = ?", []any{caseID}}}},
	}
}

type planSQL struct {
	label string
	q     string
	args  []any
}

// The SQL below mirrors store/list.go (where, selectSQL, listSQL, dueSQL,
// stuckQuery, quietSQL) and store/report.go (reportSQL); GORM writes the same
// statements (the slices of IN ? expanded). The store writes the constant parts
// of partial indexes' predicates into the text (SQLite: overdue = 1; Postgres:
// overdue), and lists filtered by office are a UNION ALL of a sending-office and
// a receiving-office branch.
//
// sel is the projection: every column but the personal ones (store/list.go omits them).
var sel = "SELECT * FROM cases"

// overdueSQL is the store's test of the overdue flag.
func overdueSQL(driver string) string {
	if driver == "postgres" {
		return "overdue"
	}
	return "overdue = 1"
}

func listSQL(where string, args ...any) []planSQL {
	q := sel
	if where != "" {
		q += " WHERE " + where
	}
	return []planSQL{{"list", q + " ORDER BY seq DESC LIMIT 51", args}}
}

// officeListSQL is a list filtered by office: its other conditions (where, args)
// in a sending-office branch and a receiving-office branch, merged newest first.
// sending and receiving are the branches' office conditions and their arguments.
func officeListSQL(driver, where string, args []any, sending string, sargs []any, receiving string, rargs []any) []planSQL {
	branch := func(office string) string {
		if where == "" {
			return sel + " WHERE " + office
		}
		return sel + " WHERE " + where + " AND " + office
	}
	var q string
	var all []any
	if driver == "postgres" {
		q = "SELECT * FROM (" + branch(sending) + " ORDER BY seq DESC LIMIT 51) b0 UNION ALL SELECT * FROM (" +
			branch(receiving) + " ORDER BY seq DESC LIMIT 51) b1 ORDER BY seq DESC LIMIT 51"
	} else {
		q = branch(sending) + " UNION ALL " + branch(receiving) + " ORDER BY seq DESC LIMIT 51"
	}
	all = append(append(append(append(all, args...), sargs...), args...), rargs...)
	return []planSQL{{"list", q, all}}
}

func dueSQL(where string, args []any, waiting string) []planSQL {
	w := "status = 'active' AND waiting_on = ?"
	if where != "" {
		w = where + " AND " + w
	}
	return []planSQL{{"due", sel + " WHERE " + w + " ORDER BY stage_due_at IS NULL, stage_due_at, seq LIMIT 200",
		append(args, waiting)}}
}

func stuckSQL(driver string, now time.Time, probeAfter time.Duration, probeLimit int) []planSQL {
	out := []planSQL{{"stuck", sel + " WHERE status = 'active' AND (" + overdueSQL(driver) +
		" OR waiting_on = 'system' OR blocked <> '') ORDER BY stage_entered_at, seq LIMIT 500", nil}}
	if probeLimit > 0 {
		out = append(out, planSQL{"quiet", sel + " WHERE status = 'active' AND updated_at < ? ORDER BY updated_at LIMIT ?",
			[]any{now.Add(-probeAfter), probeLimit}})
	}
	return out
}

func reportSQL(driver, month string) []planSQL {
	from, _ := time.Parse("2006-01", month)
	to := from.AddDate(0, 1, 0)
	in := func(col string) string { return col + " >= ? AND " + col + " < ?" }
	ft := []any{from, to}
	rep := func(n int) []any {
		var a []any
		for range n {
			a = append(a, ft...)
		}
		return a
	}
	// store.Statistics' two statements (store/statistics.go).
	return []planSQL{
		{"statistics counted", `SELECT counts_as, country_of_return, programme, sex, age_band, vulnerable, currency, reason, ` +
			`COUNT(*) AS n, SUM(amount_cents) AS cents FROM timeline_events WHERE counts_as <> '' AND ` + in("at") +
			` GROUP BY counts_as, country_of_return, programme, sex, age_band, vulnerable, currency, reason`, rep(1)},
		{"statistics paid", `SELECT country_of_return, programme, sex, age_band, vulnerable, currency, COUNT(*) AS n, ` +
			`SUM(amount_cents) AS cents FROM payments WHERE ` + in("paid_at") +
			` GROUP BY country_of_return, programme, sex, age_band, vulnerable, currency`, rep(1)},
	}
}

func readQueries(driver string, now time.Time, month string, probeAfter time.Duration, cursor string, cursorSeq int64) []readQuery {
	return []readQuery{
		{name: "list: all cases (manager)", path: "/api/v1/cases", token: "dev-manager", list: true, sql: listSQL("")},
		{name: "list: stage=PlanApproval", path: "/api/v1/cases?stage=PlanApproval", token: "dev-manager", list: true,
			sql: listSQL("stage = ?", "PlanApproval")},
		{name: "list: country=GN&status=active", path: "/api/v1/cases?country_of_return=GN&status=active", token: "dev-manager", list: true,
			sql: listSQL("status = ? AND country_of_return = ?", "active", "GN")},
		{name: "list: overdue&waiting_on=approver&office=GN-CKY&vulnerable", token: "dev-manager", list: true,
			path: "/api/v1/cases?overdue=true&waiting_on=approver&office=GN-CKY&vulnerable=true",
			sql: officeListSQL(driver, "vulnerable = ? AND "+overdueSQL(driver)+" AND waiting_on = ?", []any{true, "approver"},
				"sending_office = ?", []any{"GN-CKY"}, "receiving_office = ? AND sending_office <> ?", []any{"GN-CKY", "GN-CKY"})},
		{name: "list: caseworker DE-BER, status=active", path: "/api/v1/cases?status=active", token: "dev-caseworker", list: true,
			sql: officeListSQL(driver, "status = ?", []any{"active"},
				"sending_office IN (?)", []any{"DE-BER"}, "receiving_office IN (?) AND sending_office NOT IN (?)", []any{"DE-BER", "DE-BER"})},
		{name: "list: stage=Closed, a page from the middle", path: "/api/v1/cases?stage=Closed&cursor=" + url.QueryEscape(cursor),
			token: "dev-manager", list: true, sql: listSQL("stage = ? AND seq < ?", "Closed", cursorSeq)},
		{name: "/tasks: caseworker DE-BER", path: "/api/v1/tasks", token: "dev-caseworker",
			sql: dueSQL("(sending_office IN (?) OR receiving_office IN (?))", []any{"DE-BER", "DE-BER"}, "caseworker")},
		{name: "/tasks: approver GN-CKY", path: "/api/v1/tasks", token: "dev-approver-gn",
			sql: dueSQL("(sending_office IN (?) OR receiving_office IN (?))", []any{"GN-CKY", "GN-CKY"}, "approver")},
		{name: "/tasks: manager (waiting on system)", path: "/api/v1/tasks", token: "dev-manager", sql: dueSQL("", nil, "system")},
		{name: "/stuck (task probe off)", path: "/api/v1/stuck", token: "dev-manager", sql: stuckSQL(driver, now, probeAfter, 0)},
		{name: "/stuck (task probe 100 in the background, the default)", path: "/api/v1/stuck", token: "dev-manager", probe: true, sql: stuckSQL(driver, now, probeAfter, 100)},
		{name: "/stuck (task probe 100 run by each request)", path: "/api/v1/stuck", token: "dev-manager", probeEach: true, sql: stuckSQL(driver, now, probeAfter, 100)},
		{name: "/reports/monthly?month=" + month, path: "/api/v1/reports/monthly?month=" + month, token: "dev-manager", sql: reportSQL(driver, month)},
	}
}

func (e *env) reads(ctx context.Context, o Options, w io.Writer, res *results) error {
	dbs := []struct{ driver, dsn string }{{"sqlite", filepath.Join(e.dir, "reads.db")}}
	if o.PostgresDSN != "" {
		dsn, drop, err := storetest.CreateDatabase(ctx, o.PostgresDSN, "homeward_bench")
		if err != nil {
			return fmt.Errorf("postgres (HOMEWARD_BENCH_POSTGRES_DSN): %w", err)
		}
		defer drop()
		dbs = append(dbs, struct{ driver, dsn string }{"postgres", dsn})
	}
	for _, d := range dbs {
		sizes := []int{o.ReadCases}
		if d.driver == "postgres" && len(o.ReadSizes) > 0 {
			sizes = o.ReadSizes
		}
		if err := e.readsOn(ctx, o, w, res, d.driver, d.dsn, sizes); err != nil {
			return fmt.Errorf("%s: %w", d.driver, err)
		}
	}
	return nil
}

// readBudget bounds the time spent on one query (at least 20 requests are sent).
const readBudget = 5 * time.Second

// readsOn seeds the case file to each size in turn (the newest cases first, then
// older ones: see seed) and measures every read at each size through the API
// and the workspace's pages; last, the p99s of the first and last sizes side by side.
func (e *env) readsOn(ctx context.Context, o Options, w io.Writer, res *results, driver, dsn string, sizes []int) error {
	// The case file as Homeward opens it: sensitive columns sealed with its own keys.
	dbCfg := config.Database{Driver: driver, DSN: dsn, KeysFile: filepath.Join(e.dir, driver+"-database-keys.json")}
	st, err := stack.OpenCaseFile(dbCfg, true)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		return err
	}
	ring, _, err := codec.Load("", dbCfg.KeysFile, false)
	if err != nil {
		return err
	}
	sealer, err := codec.NewSealer(ring, ring.ActiveKeyID())
	if err != nil {
		return err
	}
	db, err := st.SQL()
	if err != nil {
		return err
	}
	if sel, err = projection(ctx, db); err != nil {
		return err
	}
	now := time.Now().UTC()
	total := sizes[len(sizes)-1]
	// Three API servers on the seeded store: the default task probe (up to 100
	// Temporal describes, in the background every temporal.task_probe_every), the
	// probe run by each request (task_probe_every 0: what one probe costs), and none.
	cfg := e.stack.Config
	cfg.Database.Driver, cfg.Database.DSN = driver, dsn
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	noProbe, probeEach := cfg, cfg
	noProbe.Temporal.TaskProbeLimit = 0
	probeEach.Temporal.TaskProbeEvery = 0
	urls := map[*config.Config]string{}
	for _, c := range []*config.Config{&noProbe, &cfg, &probeEach} {
		u, stop, err := serve(api.NewServer(quiet, *c, st, e.stack.Temporal, e.ring))
		if err != nil {
			return err
		}
		defer stop()
		urls[c] = u
	}
	urlNoProbe, urlProbe, urlProbeEach := urls[&noProbe], urls[&cfg], urls[&probeEach]

	var ss seedStats
	at := make([][]measured, len(sizes)) // by size: every read, in order
	var plans []string
	for k, size := range sizes {
		o.logf("seeding %s cases in %s (%d to %d of %d, the newest first)", itoa(size-ss.cases), driver, ss.cases, size, total)
		more, err := seed(ctx, db, driver, st, ss.cases, size, total, now, sealer)
		if err != nil {
			return fmt.Errorf("seeding: %w", err)
		}
		ss.add(more)
		q, err := e.readsAt(ctx, o, w, res, driver, db, st, ss, total, now, cfg, urlNoProbe, urlProbe, urlProbeEach)
		if err != nil {
			return err
		}
		pp, err := pages(ctx, w, o, driver, db, cfg, st, e.stack.Temporal, e.ring)
		if err != nil {
			return fmt.Errorf("the workspace's pages: %w", err)
		}
		at[k], plans = append(q.reads, pp...), q.plans
	}
	if len(sizes) > 1 {
		first, last := sizes[0], sizes[len(sizes)-1]
		tb := &table{title: fmt.Sprintf("3c. Reads on %s as cases pile up: %s cases, then %s, one run", driver, itoa(first), itoa(last)),
			head: []string{"read", "p50 ms", "p50 ms", "p99 ms at " + itoa(first), "p99 ms at " + itoa(last), "p99 ratio", "target"}}
		res.readRatio, res.readP99Last = 0, 0
		for i, a := range at[0] {
			b := at[len(sizes)-1][i]
			verdict := ""
			if targetRead(a.name) {
				verdict = "met"
				if b.p99 >= 100*time.Millisecond || float64(b.p99) > 2*float64(a.p99) {
					verdict = "MISSED"
				}
				if a.p99 > 0 {
					res.readRatio = max(res.readRatio, float64(b.p99)/float64(a.p99))
				}
				res.readP99Last = max(res.readP99Last, b.p99)
			}
			tb.add(a.name, ms(a.p50), ms(b.p50), ms(a.p99), ms(b.p99), f2(float64(b.p99)/float64(a.p99)), verdict)
		}
		tb.note("target (issue 19.6): the list, /tasks, search and the case page (API and workspace) under 100 ms p99 at %s cases,", itoa(last))
		tb.note("  and p99 at %s / p99 at %s <= 2; the first p50 column is at %s cases, the second at %s", itoa(last), itoa(first), itoa(first), itoa(last))
		tb.note("the larger population is the smaller one plus older cases (the same open caseload, more history): see the seeding note above")
		tb.print(w)
	}
	fmt.Fprintf(w, "\n-- query plans (%s, %s cases):\n", driver, itoa(ss.cases))
	for _, p := range plans {
		fmt.Fprintln(w, p)
	}
	return nil
}

// targetRead says whether a read is one of issue 19.6's: the list, the inbox, search and the case page.
func targetRead(name string) bool {
	for _, p := range []string{"list:", "/tasks", "search:", "case page", "My work", "Cases", "A case page"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// readsAt is what one size measured: p99 by read, in order, and the query plans.
type readsAt struct {
	reads []measured
	plans []string
}

func (e *env) readsAt(ctx context.Context, o Options, w io.Writer, res *results, driver string, db *sql.DB, st *store.Store, ss seedStats, total int,
	now time.Time, cfg config.Config, urlNoProbe, urlProbe, urlProbeEach string) (readsAt, error) {
	var out readsAt
	// A page of closed cases from the middle of the population, and a case from
	// the middle (older than most) to open.
	var cursorSeq int64
	var midCase string
	mid := int64(total - ss.cases/2)
	if err := db.QueryRowContext(ctx, store.Rebind(driver, `SELECT seq FROM cases WHERE stage = 'Closed' AND seq <= ? ORDER BY seq DESC LIMIT 1`), mid).Scan(&cursorSeq); err != nil {
		return out, fmt.Errorf("a closed case in the middle: %w", err)
	}
	if err := db.QueryRowContext(ctx, store.Rebind(driver, `SELECT id FROM cases WHERE seq <= ? ORDER BY seq DESC LIMIT 1`), mid).Scan(&midCase); err != nil {
		return out, fmt.Errorf("a case in the middle: %w", err)
	}
	cursor := store.CursorAfter(cursorSeq)
	queries := readQueries(driver, now, ss.reportMonth, cfg.Temporal.TaskProbeAfter, cursor, cursorSeq)
	queries = append(queries, searchQueries(midCase, st)...)
	tb := &table{title: fmt.Sprintf("3. Reads at scale on %s: %d cases seeded, %d requests per query through the API, one at a time", driver, ss.cases, o.ReadRequests),
		head: []string{"query", "items", "requests", "p50 ms", "p99 ms", "max ms", "errors", "plan"}}
	var worst time.Duration
	for _, q := range queries {
		base := urlNoProbe
		switch {
		case q.probe:
			base = urlProbe
		case q.probeEach:
			base = urlProbeEach
		}
		cl := newAPIClient(base)
		lat := &Latencies{}
		errs, items := 0, 0
		var firstErr error
		for range 3 { // warm-up: connections, caches, the statement's plan
			_, _ = cl.expect(ctx, q.method(), q.path, q.token, q.body, []int{http.StatusOK})
		}
		until := time.Now().Add(readBudget)
		for i := 0; i < o.ReadRequests && (i < 20 || time.Now().Before(until)); i++ {
			t := time.Now()
			b, err := cl.expect(ctx, q.method(), q.path, q.token, q.body, []int{http.StatusOK})
			if err != nil {
				errs++
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			lat.Add(time.Since(t))
			if i == 0 {
				items = countItems(b)
			}
		}
		flags, text, err := explain(ctx, db, driver, q.sql)
		if err != nil {
			return out, fmt.Errorf("explaining %s: %w", q.name, err)
		}
		out.plans = append(out.plans, fmt.Sprintf("-- %s\n%s", q.name, text))
		out.reads = append(out.reads, measured{q.name, lat.Quantile(.5), lat.Quantile(.99)})
		tb.add(q.name, itoa(items), itoa(lat.Len()+errs), ms(lat.Quantile(.5)), ms(lat.Quantile(.99)), ms(lat.Quantile(1)), itoa(errs), flags)
		if firstErr != nil {
			tb.note("%s: first error: %v", q.name, firstErr)
		}
		if q.list && lat.Quantile(.99) > worst {
			worst = lat.Quantile(.99)
		}
	}
	res.listP99[driver] = worst
	tb.note("seeded in %s: %d active (%d overdue, %d waiting on the system), %d payments, %d search terms; no timeline events;",
		ss.took.Round(time.Second), ss.active, ss.overdue, ss.system, ss.payments, ss.terms)
	tb.note("  %s cases a year, the newest registered now; a case closes within 16 months; names drawn as real ones (few common, many rare)", itoa(int(casesPerDay*365)))
	if driver == "postgres" {
		tb.note("VACUUM ANALYZE after seeding (as autovacuum would)")
	} else {
		tb.note("no ANALYZE after seeding: Homeward never runs it (nor PRAGMA optimize) on SQLite")
	}
	tb.note("each query: 3 warm-up requests, then %d requests or %s, whichever ends first", o.ReadRequests, readBudget)
	tb.note("worst list p99: %s ms (target < 20 ms); the task probe asks Temporal about up to 100 quiet cases: by default in the", ms(worst))
	tb.note("  background at most every %s, /stuck answering from its last answer; the last /stuck row runs it in each request", cfg.Temporal.TaskProbeEvery)
	tb.note("plan: FULL SCAN = the whole table is read; SORT = the matching rows are sorted before the page is cut; index walk = an index")
	tb.note("  read in list order, filtering rows until the page is full (fast when many rows match, the whole index when few do);")
	tb.note("  ok = an index serves filter and order. Postgres: the store runs these reads unprepared (custom plans only)")
	tb.print(w)
	return out, nil
}

// projection is the list queries' SELECT: every column of cases but the personal
// ones, which store/list.go omits.
func projection(ctx context.Context, db *sql.DB) (string, error) {
	rows, err := db.QueryContext(ctx, "SELECT * FROM cases LIMIT 0")
	if err != nil {
		return "", err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", err
	}
	personal := []string{"beneficiary", "household", "vulnerabilities", "consent", "state"}
	var keep []string
	for _, c := range cols {
		if !slices.Contains(personal, c) {
			keep = append(keep, c)
		}
	}
	return "SELECT " + strings.Join(keep, ", ") + " FROM cases", nil
}

func countItems(b []byte) int {
	var v struct {
		Items   []json.RawMessage `json:"items"`
		Returns []json.RawMessage `json:"returns"`
	}
	_ = json.Unmarshal(b, &v)
	return len(v.Items) + len(v.Returns)
}

func serve(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}

// projected is a read's list of columns (the store's and the benchmark's orders differ).
var projected = regexp.MustCompile(`^SELECT [a-z_, ]+ FROM cases`)

// explain returns the plans of the statements and a verdict on them.
func explain(ctx context.Context, db *sql.DB, driver string, qs []planSQL) (string, string, error) {
	var verdicts []string
	var text strings.Builder
	for _, q := range qs {
		stmt := "EXPLAIN QUERY PLAN " + q.q
		if driver == "postgres" {
			stmt = "EXPLAIN " + q.q
		}
		rows, err := db.QueryContext(ctx, store.Rebind(driver, stmt), q.args...)
		if err != nil {
			return "", "", fmt.Errorf("%s: %w", q.label, err)
		}
		lines, err := store.PlanLines(rows)
		if err != nil {
			return "", "", err
		}
		fmt.Fprintf(&text, "[%s] %s\n", q.label, projected.ReplaceAllString(q.q, "SELECT <all but personal columns> FROM cases"))
		for _, l := range lines {
			fmt.Fprintf(&text, "    %s\n", l)
		}
		v := verdict(driver, q.label, lines)
		if driver == "postgres" {
			// The store runs its reads unprepared (pgx's QueryExecModeExec, store/list.go
			// readDB): Postgres plans them for their values on every execution, as here,
			// and never switches them to a generic plan.
			fmt.Fprintf(&text, "  (run unprepared: planned for its values on every execution, no generic plan)\n")
		}
		verdicts = append(verdicts, v)
	}
	return strings.Join(verdicts, "; "), strings.TrimRight(text.String(), "\n"), nil
}

func verdict(driver, label string, lines []string) string {
	var flags []string
	subqueries := map[string]bool{} // SQLite: a SCAN of these reads a subquery's rows, not a table
	for _, l := range lines {
		t := strings.TrimLeft(l, " ->|`-")
		f := strings.Fields(t)
		switch driver {
		case "sqlite":
			if len(f) >= 2 && (f[0] == "CO-ROUTINE" || f[0] == "MATERIALIZE") {
				subqueries[f[1]] = true
			}
			if len(f) >= 2 && f[0] == "SCAN" && !subqueries[f[1]] && !strings.HasPrefix(f[1], "(") {
				if i := strings.Index(t, "INDEX "); i >= 0 {
					flags = append(flags, "index walk("+strings.Fields(t[i+6:])[0]+")")
				} else {
					flags = append(flags, "FULL SCAN("+f[1]+")")
				}
			}
			if strings.Contains(t, "USE TEMP B-TREE") {
				flags = append(flags, "SORT")
			}
		case "postgres":
			if strings.HasPrefix(t, "Seq Scan on ") || strings.HasPrefix(t, "Parallel Seq Scan on ") {
				i := slices.Index(f, "on")
				flags = append(flags, "FULL SCAN("+f[i+1]+")")
			}
			if strings.HasPrefix(t, "Index Scan") && strings.Contains(t, "using cases_seq_key") {
				flags = append(flags, "index walk(cases_seq_key)")
			}
			if strings.HasPrefix(t, "Sort ") && !strings.HasPrefix(t, "Sort Key") { // Merge Append has a Sort Key, no sort
				flags = append(flags, "SORT")
			}
		}
	}
	if len(flags) == 0 {
		flags = []string{"ok"}
	}
	return label + ": " + strings.Join(slices.Compact(flags), "+")
}
