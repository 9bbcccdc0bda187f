package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// StartTimeout bounds one start of a case's workflow (a Temporal round trip, with
// the SDK's retries).
const StartTimeout = 20 * time.Second

// Unstarted says whether a case is registered but its workflow not known to have
// started: its run ID is not recorded yet (see CreateCase).
func (c *Case) Unstarted() bool { return c.RunID == "" }

// RecordStart records a case's run ID, unless the workflow's first case-file
// write has recorded it already.
func (s *Store) RecordStart(ctx context.Context, id, runID string) error {
	return s.db.WithContext(ctx).Model(&Case{}).Where("id = ? AND run_id = ''", id).UpdateColumn("run_id", runID).Error
}

// CasesToStart returns up to limit registered cases whose workflow is not known
// to have started, registered before the given time, oldest first.
func (s *Store) CasesToStart(ctx context.Context, before time.Time, limit int) ([]Case, error) {
	var ids []string
	if err := s.db.WithContext(ctx).Model(&Case{}).Where("run_id = '' AND created_at < ?", before).
		Order("created_at").Limit(limit).Pluck("id", &ids).Error; err != nil {
		return nil, err
	}
	out := make([]Case, 0, len(ids))
	for _, id := range ids {
		c, err := s.CaseByID(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, *c)
	}
	return out, nil
}

// ActiveCaseOf returns the person's active case, or ErrNotFound.
func (s *Store) ActiveCaseOf(ctx context.Context, beneficiaryKey string) (*Case, error) {
	return s.caseWhere(ctx, "beneficiary_key = ? AND status = 'active'", beneficiaryKey)
}

// duplicate says whether err is a unique key's refusal. GORM translates
// Postgres's; its SQLite dialect knows only mattn's driver, not modernc's.
func duplicate(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return errors.Is(err, gorm.ErrDuplicatedKey)
}
