package store

import (
	"context"
	"database/sql"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"
	"gorm.io/gorm/schema"
)

// Filter selects cases for the list, the inbox and the stuck view.
type Filter struct {
	Stage           string
	Status          string
	CountryOfReturn string
	Office          string // sending or receiving office
	Vulnerable      *bool
	Overdue         *bool
	WaitingOn       string
	// Offices limits the result to cases of these offices (sending or receiving);
	// nil means every office (a manager).
	Offices []string
	// Approver limits the result to cases waiting on approvers or decided by this user.
	Approver string
	// OwnedBy limits the result to cases this user owns (at any office); Unowned
	// to cases without an owner at the offices of Offices (nil: at any office).
	OwnedBy string
	Unowned bool
	Limit   int
	Cursor  string // opaque: the seq of the last case of the previous page
}

// personal are the columns lists never read: they hold personal data (sealed),
// or what only the case's workflow needs (its rules).
var personal = []string{"beneficiary", "household", "vulnerabilities", "consent", "state", "start_rules"}

// Page is one page of cases, newest first, and the cursor of the next page. Its
// cases carry no personal data: lists show summaries.
type Page struct {
	Cases      []Case
	NextCursor string
}

// The reads below (the list, the inbox, the stuck view, the quiet cases, the
// monthly report) are written so that an index serves both their filter and their
// order, on both dialects (migration 00006_read_indexes; TestReadsUseTheirIndexes
// checks the plans):
//
//   - A case is of an office when it is its sending or its receiving office. No
//     single index serves that OR in list order, so a list filtered by office is
//     the UNION ALL of two branches, one per office column, each read newest first
//     from an index that leads with its column (cases_sending_seq and
//     cases_receiving_seq, or their overdue-only partial twins) until the page is
//     full; the second branch leaves out the first's cases, so each case comes
//     once. The cursor (seq < ?) applies to both.
//   - The constant parts of partial indexes' predicates are written into the SQL
//     text, never bound: a planner matches a partial index only against the
//     statement's text (SQLite), or the values it plans with (Postgres, whose
//     generic plan of a prepared statement knows none).
//   - On Postgres these statements run unprepared (readDB): their best plan
//     depends on the values (an office that is never a sending office, a rare
//     waiting_on), and pgx's cached prepared statements switch to a generic plan
//     after five runs, which walks the whole seq index for them.

// cond is one side of a WHERE clause: conditions joined by AND, with their
// arguments (GORM placeholders: ?, and IN ? for a slice).
type cond struct {
	sql  []string
	args []any
}

func (c *cond) add(sql string, args ...any) {
	c.sql = append(c.sql, sql)
	c.args = append(c.args, args...)
}

func (c cond) where() string {
	if len(c.sql) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(c.sql, " AND ")
}

// with returns a copy of c with one more condition.
func (c cond) with(sql string, args ...any) cond {
	return cond{sql: append(slices.Clone(c.sql), sql), args: append(slices.Clone(c.args), args...)}
}

// flag is a boolean column's test, written as partial indexes' predicates
// write it (SQLite: overdue = 1; Postgres: overdue), with the value in the text.
func (s *Store) flag(col string, v bool) string {
	switch {
	case s.driver == "postgres" && v:
		return col
	case s.driver == "postgres":
		return "NOT " + col
	case v:
		return col + " = 1"
	}
	return col + " = 0"
}

// stuckSQL is the stuck view's condition, as the partial index cases_stuck has it.
func (s *Store) stuckSQL() string {
	return "status = 'active' AND (" + s.flag("overdue", true) + " OR waiting_on = 'system' OR blocked <> '')"
}

// where returns the filter's conditions as one branch, or as two when split is
// set and the filter names an office: cases whose sending office it is, and
// cases whose receiving office it is and sending office is not. Together they
// are the filter's cases, each once.
func (s *Store) where(f Filter, split bool) []cond {
	var c cond
	if f.Stage != "" {
		c.add("stage = ?", f.Stage)
	}
	if f.Status != "" {
		c.add("status = ?", f.Status)
	}
	if f.CountryOfReturn != "" {
		c.add("country_of_return = ?", f.CountryOfReturn)
	}
	if f.Vulnerable != nil {
		c.add("vulnerable = ?", *f.Vulnerable)
	}
	if f.Overdue != nil {
		c.add(s.flag("overdue", *f.Overdue))
	}
	if f.WaitingOn != "" {
		c.add("waiting_on = ?", f.WaitingOn)
	}
	if f.Approver != "" {
		c.add("(waiting_on = 'approver' OR id IN ("+decidedBySQL+"))", f.Approver)
	}
	ownerCond(f, &c)
	switch {
	case !split || (f.Office == "" && f.Offices == nil):
		if f.Office != "" {
			c.add("(sending_office = ? OR receiving_office = ?)", f.Office, f.Office)
		}
		if f.Offices != nil {
			c.add("(sending_office IN ? OR receiving_office IN ?)", f.Offices, f.Offices)
		}
		return []cond{c}
	case f.Office != "":
		if f.Offices != nil {
			c.add("(sending_office IN ? OR receiving_office IN ?)", f.Offices, f.Offices)
		}
		return []cond{c.with("sending_office = ?", f.Office),
			c.with("receiving_office = ? AND sending_office <> ?", f.Office, f.Office)}
	default:
		return []cond{c.with("sending_office IN ?", f.Offices),
			c.with("receiving_office IN ? AND sending_office NOT IN ?", f.Offices, f.Offices)}
	}
}

// listColumns is the lists' projection: every column of cases but the personal ones.
var listColumns = sync.OnceValue(func() string {
	sch, err := schema.Parse(&Case{}, &sync.Map{}, schema.NamingStrategy{})
	if err != nil {
		panic(err)
	}
	var cols []string
	for _, c := range sch.DBNames {
		if !slices.Contains(personal, c) {
			cols = append(cols, c)
		}
	}
	return strings.Join(cols, ", ")
})

// selectSQL reads the branches in order, limit rows: one statement, or the
// UNION ALL of the branches merged in order (order then names result columns).
// SQLite merges the branches as they come, each read in order from its index,
// and stops at the limit. Postgres merges them in order (Merge Append) only when
// each branch is ordered and cut at the limit itself.
func (s *Store) selectSQL(branches []cond, order string, limit int) (string, []any) {
	one := func(c cond) string { return "SELECT " + listColumns() + " FROM cases" + c.where() }
	if len(branches) == 1 {
		return one(branches[0]) + " ORDER BY " + order + " LIMIT ?", append(branches[0].args, limit)
	}
	var parts []string
	var args []any
	for i, b := range branches {
		if s.driver == "postgres" {
			parts = append(parts, "SELECT * FROM ("+one(b)+" ORDER BY "+order+" LIMIT ?) b"+strconv.Itoa(i))
			args = append(append(args, b.args...), limit)
		} else {
			parts = append(parts, one(b))
			args = append(args, b.args...)
		}
	}
	return strings.Join(parts, " UNION ALL ") + " ORDER BY " + order + " LIMIT ?", append(args, limit)
}

// listSQL is ListCases' statement.
func (s *Store) listSQL(f Filter) (string, []any, error) {
	branches := s.where(f, true)
	if f.Cursor != "" {
		after, err := parseCursor(f.Cursor)
		if err != nil {
			return "", nil, err
		}
		for i := range branches {
			branches[i].add("seq < ?", after)
		}
	}
	q, args := s.selectSQL(branches, "seq DESC", f.Limit+1)
	return q, args, nil
}

// ListCases returns one page of cases, newest first.
func (s *Store) ListCases(ctx context.Context, f Filter) (Page, error) {
	q, args, err := s.listSQL(f)
	if err != nil {
		return Page{}, err
	}
	return s.page(ctx, f.Limit, q, args...)
}

// page runs a list's statement, which reads one case more than limit, and cuts
// it into a page and the cursor of the next one.
func (s *Store) page(ctx context.Context, limit int, q string, args ...any) (Page, error) {
	var cases []Case
	if err := s.readDB(ctx).Raw(q, args...).Scan(&cases).Error; err != nil {
		return Page{}, err
	}
	var p Page
	if len(cases) > limit {
		cases = cases[:limit]
		p.NextCursor = CursorAfter(cases[len(cases)-1].Seq)
	}
	p.Cases = cases
	return p, nil
}

// CursorAfter is the cursor of the page that follows the case numbered seq.
func CursorAfter(seq int64) string { return cursorPrefix + strconv.FormatInt(seq, 36) }

// cursorPrefix marks the cursors this store gives out.
const cursorPrefix = "c1."

// parseCursor reads a cursor this store gave out: the prefix and a positive case number.
func parseCursor(c string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimPrefix(c, cursorPrefix), 36, 64)
	if !strings.HasPrefix(c, cursorPrefix) || err != nil || n <= 0 {
		return 0, ErrBadCursor
	}
	return n, nil
}

// ErrBadCursor says a list cursor was not one this API gave out.
var ErrBadCursor = errorString("bad cursor")

type errorString string

func (e errorString) Error() string { return string(e) }

// dueOrder is the inbox's order, oldest due date first and undated last, as the
// index cases_inbox has it.
const dueOrder = "stage_due_at IS NULL, stage_due_at, seq"

// dueSQL is Due's statement. With one role, the index cases_inbox (waiting_on,
// then the inbox's order, then the offices) serves filter and order: it is read
// in order and the office test needs no row.
func (s *Store) dueSQL(f Filter, waitingOn []string) (string, []any) {
	c := s.where(f, false)[0]
	c.add("status = 'active'")
	c.add("(waiting_from IS NULL OR waiting_from <= ?)", time.Now().UTC()) // a wait not yet open (a visit before its due date)
	// A wait only one of the case's offices may answer is in that office's inbox alone.
	switch {
	case f.Offices != nil:
		c.add("(waiting_office = '' OR waiting_office IN ?)", f.Offices)
	case f.Office != "":
		c.add("(waiting_office = '' OR waiting_office = ?)", f.Office)
	}
	if len(waitingOn) == 1 {
		c.add("waiting_on = ?", waitingOn[0])
	} else {
		c.add("waiting_on IN ?", waitingOn)
	}
	return s.selectSQL([]cond{c}, dueOrder, f.Limit)
}

// Due returns active cases waiting on one of the roles, oldest due date first: the inbox.
func (s *Store) Due(ctx context.Context, f Filter, waitingOn []string) ([]Case, error) {
	q, args := s.dueSQL(f, waitingOn)
	var cases []Case
	err := s.readDB(ctx).Raw(q, args...).Scan(&cases).Error
	return cases, err
}

// stuckQuery is Stuck's statement: the partial index cases_stuck holds exactly
// these cases, in this order.
func (s *Store) stuckQuery(f Filter) (string, []any) {
	c := s.where(f, false)[0]
	c.add(s.stuckSQL())
	return s.selectSQL([]cond{c}, "stage_entered_at, seq", f.Limit)
}

// Stuck returns active cases that are overdue, blocked or waiting on the system,
// longest first.
func (s *Store) Stuck(ctx context.Context, f Filter) ([]Case, error) {
	q, args := s.stuckQuery(f)
	var cases []Case
	err := s.readDB(ctx).Raw(q, args...).Scan(&cases).Error
	return cases, err
}

// quietSQL is Quiet's statement (index cases_quiet).
func (s *Store) quietSQL(before time.Time, limit int) (string, []any) {
	var c cond
	c.add("status = 'active' AND updated_at < ?", before)
	return s.selectSQL([]cond{c}, "updated_at", limit)
}

// Quiet returns active cases whose file has not changed since before, stalest
// first: where to look for a workflow that has stopped making progress.
func (s *Store) Quiet(ctx context.Context, before time.Time, limit int) ([]Case, error) {
	q, args := s.quietSQL(before, limit)
	var cases []Case
	err := s.readDB(ctx).Raw(q, args...).Scan(&cases).Error
	return cases, err
}

// NotStarted returns up to limit cases registered before the given time whose
// workflow is not known to have started (index cases_to_start), oldest first:
// the list's columns, nothing personal opened.
func (s *Store) NotStarted(ctx context.Context, before time.Time, limit int) ([]Case, error) {
	var c cond
	c.add("run_id = '' AND created_at < ?", before)
	q, args := s.selectSQL([]cond{c}, "created_at", limit)
	var cases []Case
	err := s.readDB(ctx).Raw(q, args...).Scan(&cases).Error
	return cases, err
}

// readDB is the database for the statements above. On Postgres they run as
// unnamed statements (pgx's QueryExecModeExec: one round trip, as a cached
// statement takes), which Postgres plans for their values each time; every other
// statement keeps pgx's statement cache.
func (s *Store) readDB(ctx context.Context) *gorm.DB {
	db := s.db.WithContext(ctx)
	if s.driver == "postgres" {
		db.Statement.ConnPool = customPlans{db.Statement.ConnPool}
	}
	return db
}

// customPlans runs queries through pgx with QueryExecModeExec, passed as the
// first argument (pgx reads it as an option, database/sql passes it through).
type customPlans struct{ gorm.ConnPool }

func (p customPlans) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return p.ConnPool.QueryContext(ctx, query, append([]any{pgx.QueryExecModeExec}, args...)...)
}

func (p customPlans) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return p.ConnPool.QueryRowContext(ctx, query, append([]any{pgx.QueryExecModeExec}, args...)...)
}

// decidedBySQL selects the cases a user decided on (plan decisions, clearances,
// the donor's decisions, payments' validations and prices they recorded).
const decidedBySQL = "SELECT case_id FROM timeline_events WHERE actor_user = ? AND type IN " +
	"('plan_decision', 'clearance', 'donor_decision', 'payment_validation', 'price_decision')"

// DecidedBy says whether the user decided on the case.
func (s *Store) DecidedBy(ctx context.Context, caseID, user string) (bool, error) {
	var n int64
	err := s.db.WithContext(ctx).Raw("SELECT COUNT(*) FROM ("+decidedBySQL+" AND case_id = ?) d", user, caseID).Scan(&n).Error
	return n > 0, err
}

// StageCount is how many active cases are in a stage.
type StageCount struct {
	Stage string
	Cases int64
}

// ActiveByStage counts the active cases in each stage, of the offices (nil: all):
// the cases they send and those they receive, each once. The counts are kept by
// the database as the cases change (active_stage_counts, migration 00030), so
// this reads a row per office pair and stage, however many cases are open.
func (s *Store) ActiveByStage(ctx context.Context, offices []string) ([]StageCount, error) {
	q := "SELECT stage, SUM(cases) AS cases FROM active_stage_counts"
	var args []any
	if offices != nil {
		q += " WHERE sending_office IN ? OR receiving_office IN ?"
		args = append(args, offices, offices)
	}
	var out []StageCount
	err := s.readDB(ctx).Raw(q+" GROUP BY stage HAVING SUM(cases) > 0 ORDER BY stage", args...).Scan(&out).Error
	return out, err
}
