package store

import (
	"context"
	"time"
)

// AuditEntry says who read or changed which part of a case's personal data.
// Entries carry IDs and names of parts, never the data itself.
type AuditEntry struct {
	ID        int64 `gorm:"primaryKey"`
	At        time.Time
	ActorUser string
	ActorRole string
	CaseID    string
	Part      string // e.g. case_file, timeline, registration, payloads, personal_data
	Action    string // read, create, decode, anonymise
	RequestID string
	Detail    string // e.g. a search's hit count; never personal data
}

// TableName keeps GORM on the migrated table.
func (AuditEntry) TableName() string { return "audit_log" }

// Audit appends entries to the audit trail. There is no way to change or remove
// one: the store has no such method, and the database refuses it.
func (s *Store) Audit(ctx context.Context, entries ...AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	return s.db.WithContext(ctx).Create(&entries).Error
}

// AuditTrail returns a case's audit entries, oldest first.
func (s *Store) AuditTrail(ctx context.Context, caseID string) ([]AuditEntry, error) {
	var es []AuditEntry
	err := s.db.WithContext(ctx).Where("case_id = ?", caseID).Order("at, id").Find(&es).Error
	return es, err
}
