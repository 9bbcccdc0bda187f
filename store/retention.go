package store

import (
	"context"
	"encoding/json"
	"time"

	"gorm.io/gorm"
)

// anonymised replaces the personal parts of a case file.
var anonymised = map[string]any{"beneficiary": `{"anonymised":true}`, "household": "[]", "vulnerabilities": "[]"}

// AnonymiseClosedBefore removes the personal data of up to limit cases closed
// before cutoff (or closed after their consent was withdrawn) and not yet anonymised, and records each in the audit trail (who:
// the retention schedule; no personal data). What the statistics count stays:
// country, offices, programme, stage, dates, amounts. It returns how many it did.
func (s *Store) AnonymiseClosedBefore(ctx context.Context, cutoff time.Time, limit int, by AuditEntry) (int, error) {
	var ids []string
	// A case whose person withdrew their consent is not kept for the retention
	// period: it is anonymised as soon as it is closed.
	err := s.db.WithContext(ctx).Model(&Case{}).
		Where("status = 'closed' AND anonymised_at IS NULL AND (closed_at < ? OR consent_withdrawn_at IS NOT NULL)", cutoff).
		Order("closed_at").Limit(limit).Pluck("id", &ids).Error
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	now := time.Now().UTC()
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for _, id := range ids {
			var c Case
			if err := tx.Where("id = ?", id).Take(&c).Error; err != nil {
				return err
			}
			if err := s.open(&c); err != nil {
				return err
			}
			st, err := c.LiveState()
			if err != nil {
				return err
			}
			if st.Screening != nil { // free text and vulnerability flags
				st.Screening.Flags, st.Screening.Mitigations = nil, nil
			}
			if st.Plan != nil { // the approvers' comments
				for i := range st.Plan.Decisions {
					st.Plan.Decisions[i].Comment = ""
				}
			}
			stateJSON, err := json.Marshal(st)
			if err != nil {
				return err
			}
			sealedState, err := s.sealer.Seal("state", string(stateJSON))
			if err != nil {
				return err
			}
			update := map[string]any{"state": sealedState, "anonymised_at": now, "beneficiary_key": ""}
			for k, v := range anonymised {
				update[k] = v
			}
			if err := tx.Model(&Case{}).Where("id = ?", id).Updates(update).Error; err != nil {
				return err
			}
			if err := eraseCaseFile(tx, id); err != nil {
				return err
			}
			entry := by
			entry.CaseID, entry.At, entry.Part, entry.Action = id, now, "personal_data", "anonymise"
			if err := tx.Create(&entry).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(ids), nil
}
