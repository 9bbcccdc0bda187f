package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/homeward/homeward/contract"
)

// RegistryOutbox is a row of the registry's outbox.
type RegistryOutbox struct {
	CaseID        string `gorm:"primaryKey"`
	Seq           int64  `gorm:"primaryKey"`
	Record        string // JSON of contract.CaseRecord
	CreatedAt     time.Time
	Attempts      int
	NextAttemptAt time.Time
	LeaseOwner    string
	LeaseUntil    *time.Time
	SentAt        *time.Time
	// Refused is the registry's message when it refused the change (4xx): the
	// change is done with, and the case's next ones go on.
	Refused string
}

func (RegistryOutbox) TableName() string { return "registry_outbox" }

// Key is the idempotency key the registry gets the change under: the same on
// every attempt, from any worker, so a change sent twice (a relay that died
// between sending and marking it sent) has one effect.
func (o RegistryOutbox) Key() string { return fmt.Sprintf("%s/registry/%d", o.CaseID, o.Seq) }

// CaseRecord decodes the change.
func (o RegistryOutbox) CaseRecord() (contract.CaseRecord, error) {
	var r contract.CaseRecord
	err := json.Unmarshal([]byte(o.Record), &r)
	return r, err
}

// queueRegistry writes a case-file change's registry changes into the outbox, in
// the change's transaction. A change written again (a retried write) is queued once.
func queueRegistry(tx *gorm.DB, caseID string, changes []contract.RegistryChange, now time.Time) error {
	if len(changes) == 0 {
		return nil
	}
	rows := make([]RegistryOutbox, len(changes))
	for i, c := range changes {
		b, err := json.Marshal(c.Record)
		if err != nil {
			return err
		}
		rows[i] = RegistryOutbox{CaseID: caseID, Seq: c.Seq, Record: string(b), CreatedAt: now, NextAttemptAt: now}
	}
	return tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&rows).Error
}

// OnRegistryQueued has f told, in this process, when a case-file write queued
// changes for the registry, so the relay sends them without waiting for its next
// look. f must not block.
func (s *Store) OnRegistryQueued(f func()) { s.queued.Store(&f) }

// ClaimRegistryChanges takes up to limit changes to send now, for owner (a relay),
// until now+lease: of each case only the oldest change not yet sent, and only if
// no other relay holds it. The claim of each is one conditional update, so two
// relays (two worker processes) never hold the same change, and a case's next
// change is claimed only once the one before is sent: the order per case holds.
// A relay that dies loses its claim when the lease ends.
func (s *Store) ClaimRegistryChanges(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]RegistryOutbox, error) {
	db := s.db.WithContext(ctx)
	type head struct {
		CaseID string
		Seq    int64
	}
	var heads []head
	err := db.Raw(`SELECT o.case_id, o.seq FROM registry_outbox o
		WHERE o.sent_at IS NULL AND o.next_attempt_at <= ? AND (o.lease_until IS NULL OR o.lease_until < ?)
		AND NOT EXISTS (SELECT 1 FROM registry_outbox p WHERE p.case_id = o.case_id AND p.sent_at IS NULL AND p.seq < o.seq)
		ORDER BY o.next_attempt_at, o.case_id LIMIT ?`, now, now, limit).Scan(&heads).Error
	if err != nil {
		return nil, err
	}
	var out []RegistryOutbox
	until := now.Add(lease)
	for _, h := range heads {
		res := db.Model(&RegistryOutbox{}).
			Where("case_id = ? AND seq = ? AND sent_at IS NULL AND (lease_until IS NULL OR lease_until < ?)", h.CaseID, h.Seq, now).
			Updates(map[string]any{"lease_owner": owner, "lease_until": until})
		if res.Error != nil {
			return out, res.Error
		}
		if res.RowsAffected == 0 {
			continue // another relay took it meanwhile
		}
		var row RegistryOutbox
		if err := db.Where("case_id = ? AND seq = ?", h.CaseID, h.Seq).Take(&row).Error; err != nil {
			return out, err
		}
		out = append(out, row)
	}
	return out, nil
}

// RegistryChangeSent marks a change sent: the registry has it.
func (s *Store) RegistryChangeSent(ctx context.Context, caseID string, seq int64, at time.Time) error {
	return s.db.WithContext(ctx).Model(&RegistryOutbox{}).Where("case_id = ? AND seq = ?", caseID, seq).
		Updates(map[string]any{"sent_at": at, "lease_until": nil, "lease_owner": ""}).Error
}

// RegistryChangeRefused marks a change that the registry refused (4xx: the same
// request would be refused again) as done with, keeping the registry's message.
func (s *Store) RegistryChangeRefused(ctx context.Context, caseID string, seq int64, at time.Time, message string) error {
	return s.db.WithContext(ctx).Model(&RegistryOutbox{}).Where("case_id = ? AND seq = ?", caseID, seq).
		Updates(map[string]any{"sent_at": at, "refused": message, "lease_until": nil, "lease_owner": ""}).Error
}

// RegistryChangeFailed releases a change that could not be sent now (the registry
// unavailable), to be tried again from next on.
func (s *Store) RegistryChangeFailed(ctx context.Context, caseID string, seq int64, next time.Time) error {
	return s.db.WithContext(ctx).Model(&RegistryOutbox{}).Where("case_id = ? AND seq = ?", caseID, seq).
		Updates(map[string]any{"attempts": gorm.Expr("attempts + 1"), "next_attempt_at": next, "lease_until": nil, "lease_owner": ""}).Error
}

// RegistryBacklog counts the changes not yet sent, and says when the oldest of
// them was queued (zero when none waits).
func (s *Store) RegistryBacklog(ctx context.Context) (int64, time.Time, error) {
	var n int64
	db := s.db.WithContext(ctx).Model(&RegistryOutbox{}).Where("sent_at IS NULL")
	if err := db.Count(&n).Error; err != nil || n == 0 {
		return n, time.Time{}, err
	}
	var oldest RegistryOutbox
	err := s.db.WithContext(ctx).Where("sent_at IS NULL").Order("created_at").Take(&oldest).Error
	return n, oldest.CreatedAt, err
}

// RegistryChanges lists a case's outbox, oldest first (tests, the erasure's checks).
func (s *Store) RegistryChanges(ctx context.Context, caseID string) ([]RegistryOutbox, error) {
	var rows []RegistryOutbox
	err := s.db.WithContext(ctx).Where("case_id = ?", caseID).Order("seq").Find(&rows).Error
	return rows, err
}
