package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// StartTimeout bounds CreateCase's call of start (a Temporal round trip, with the
// SDK's retries). It must stay well under UnstartedAfter.
const StartTimeout = 20 * time.Second

// UnstartedAfter is how long after its creation a case row may still have no run
// ID while its registration is under way. Past it, the registration stopped
// between its steps (see CreateCase) and the case must be settled.
const UnstartedAfter = time.Minute

// Unstarted says whether a case row is a registration not known to have started:
// its workflow's run ID is not recorded yet.
func (c *Case) Unstarted() bool { return c.RunID == "" }

// DeleteUnstartedCase removes a case row whose workflow did not start, and says
// whether there was one. A row with a run ID is left alone: its workflow started.
// (An unstarted case has no timeline, payments or audit entries.)
func (s *Store) DeleteUnstartedCase(ctx context.Context, id string) (bool, error) {
	res := s.db.WithContext(ctx).Where("id = ? AND run_id = ''", id).Delete(&Case{})
	return res.RowsAffected > 0, res.Error
}

// RecordStart records that a case's workflow started: its run ID (unless the
// workflow's first write recorded it already) and the registration's audit
// entries, together.
// A registration settled this way (its process stopped between its steps) gets
// its search terms here too.
func (s *Store) RecordStart(ctx context.Context, id, runID string, audit []AuditEntry) error {
	c, err := s.CaseByID(ctx, id)
	if err != nil {
		return err
	}
	return s.recordStart(ctx, id, runID, audit, s.searchTerms(id, c.Beneficiary, c.Household))
}

// recordStart is RecordStart that also writes the case's search terms.
func (s *Store) recordStart(ctx context.Context, id, runID string, audit []AuditEntry, terms []SearchTerm) error {
	if len(audit) == 0 && len(terms) == 0 {
		return s.db.WithContext(ctx).Model(&Case{}).Where("id = ? AND run_id = ''", id).UpdateColumn("run_id", runID).Error
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Model(&Case{}).Where("id = ? AND run_id = ''", id).UpdateColumn("run_id", runID).Error; err != nil {
			return err
		}
		if len(terms) > 0 {
			if err := replaceSearchTerms(tx, id, terms); err != nil {
				return err
			}
		}
		if len(audit) == 0 {
			return nil
		}
		return tx.Create(&audit).Error
	})
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
