package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"gorm.io/gorm"
)

// ErrConsentWithdrawn says the case's consent was already withdrawn.
var ErrConsentWithdrawn = errors.New("consent was already withdrawn")

// WithdrawConsent records that the person withdrew their consent to data
// processing (at withdrawnAt, recorded at): the consent column says so, the
// case is marked (consent_withdrawn_at, which the retention schedule reads: a
// closed case so marked is anonymised at its next run), with a timeline line
// and an audit entry, together. A second withdrawal is ErrConsentWithdrawn.
func (s *Store) WithdrawConsent(ctx context.Context, caseID string, withdrawnAt, at time.Time, audit AuditEntry) error {
	audit.CaseID, audit.At, audit.Part, audit.Action = caseID, at, "consent", "withdraw"
	ev := TimelineEvent{CaseID: caseID, EventKey: "consent:" + caseID, Type: "consent_withdrawn",
		ActorUser: audit.ActorUser, ActorRole: audit.ActorRole, Summary: "Consent to data processing withdrawn", At: at}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var c Case
		if err := tx.Select("id", "consent", "consent_withdrawn_at").Where("id = ?", caseID).Take(&c).Error; err != nil {
			return notFound(err)
		}
		if c.ConsentWithdrawnAt != nil {
			return ErrConsentWithdrawn
		}
		consent := map[string]any{}
		_ = json.Unmarshal([]byte(c.Consent), &consent) // anonymised or empty: rewritten whole
		consent["data_processing"] = false
		consent["withdrawn_at"] = withdrawnAt.UTC()
		b, err := json.Marshal(consent)
		if err != nil {
			return err
		}
		res := tx.Model(&Case{}).Where("id = ? AND consent_withdrawn_at IS NULL", caseID).
			Updates(map[string]any{"consent": string(b), "consent_withdrawn_at": withdrawnAt.UTC()})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrConsentWithdrawn // at the same moment
		}
		if err := tx.Create(&ev).Error; err != nil {
			return err
		}
		return tx.Create(&audit).Error
	})
}
