package store

import (
	"context"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
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
	Limit    int
	Cursor   string // opaque: the seq of the last case of the previous page
}

// personal are the columns lists never read: they hold personal data (sealed).
var personal = []string{"beneficiary", "household", "vulnerabilities", "consent", "state"}

// Page is one page of cases, newest first, and the cursor of the next page. Its
// cases carry no personal data: lists show summaries.
type Page struct {
	Cases      []Case
	NextCursor string
}

func (f Filter) apply(q *gorm.DB) *gorm.DB {
	if f.Stage != "" {
		q = q.Where("stage = ?", f.Stage)
	}
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if f.CountryOfReturn != "" {
		q = q.Where("country_of_return = ?", f.CountryOfReturn)
	}
	if f.Office != "" {
		q = q.Where("(sending_office = ? OR receiving_office = ?)", f.Office, f.Office)
	}
	if f.Vulnerable != nil {
		q = q.Where("vulnerable = ?", *f.Vulnerable)
	}
	if f.Overdue != nil {
		q = q.Where("overdue = ?", *f.Overdue)
	}
	if f.WaitingOn != "" {
		q = q.Where("waiting_on = ?", f.WaitingOn)
	}
	if f.Offices != nil {
		q = q.Where("(sending_office IN ? OR receiving_office IN ?)", f.Offices, f.Offices)
	}
	if f.Approver != "" {
		q = q.Where("(waiting_on = 'approver' OR id IN ("+decidedBySQL+"))", f.Approver)
	}
	return q
}

// ListCases returns one page of cases, newest first.
func (s *Store) ListCases(ctx context.Context, f Filter) (Page, error) {
	q := f.apply(s.db.WithContext(ctx).Model(&Case{}))
	if f.Cursor != "" {
		after, err := parseCursor(f.Cursor)
		if err != nil {
			return Page{}, err
		}
		q = q.Where("seq < ?", after)
	}
	var cases []Case
	if err := q.Omit(personal...).Order("seq DESC").Limit(f.Limit + 1).Find(&cases).Error; err != nil {
		return Page{}, err
	}
	var p Page
	if len(cases) > f.Limit {
		cases = cases[:f.Limit]
		p.NextCursor = cursorPrefix + strconv.FormatInt(cases[len(cases)-1].Seq, 36)
	}
	p.Cases = cases
	return p, nil
}

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

// Due returns active cases waiting on one of the roles, oldest due date first: the inbox.
func (s *Store) Due(ctx context.Context, f Filter, waitingOn []string) ([]Case, error) {
	var cases []Case
	q := f.apply(s.db.WithContext(ctx).Model(&Case{})).Where("status = 'active' AND waiting_on IN ?", waitingOn)
	err := q.Omit(personal...).Order("stage_due_at IS NULL, stage_due_at, seq").Limit(f.Limit).Find(&cases).Error
	return cases, err
}

// Stuck returns active cases that are overdue, blocked or waiting on the system,
// longest first.
func (s *Store) Stuck(ctx context.Context, f Filter) ([]Case, error) {
	var cases []Case
	q := f.apply(s.db.WithContext(ctx).Model(&Case{})).
		Where("status = 'active' AND (overdue = ? OR waiting_on = 'system' OR blocked <> '')", true)
	err := q.Omit(personal...).Order("stage_entered_at, seq").Limit(f.Limit).Find(&cases).Error
	return cases, err
}

// Quiet returns active cases whose file has not changed since before, stalest
// first: where to look for a workflow that has stopped making progress.
func (s *Store) Quiet(ctx context.Context, before time.Time, limit int) ([]Case, error) {
	var cases []Case
	err := s.db.WithContext(ctx).Omit(personal...).Where("status = 'active' AND updated_at < ?", before).
		Order("updated_at").Limit(limit).Find(&cases).Error
	return cases, err
}

// decidedBySQL selects the cases a user decided on (plan decisions, clearances).
const decidedBySQL = "SELECT case_id FROM timeline_events WHERE actor_user = ? AND type IN ('plan_decision', 'clearance')"

// DecidedBy says whether the user decided on the case.
func (s *Store) DecidedBy(ctx context.Context, caseID, user string) (bool, error) {
	var n int64
	err := s.db.WithContext(ctx).Raw("SELECT COUNT(*) FROM ("+decidedBySQL+" AND case_id = ?) d", user, caseID).Scan(&n).Error
	return n > 0, err
}
