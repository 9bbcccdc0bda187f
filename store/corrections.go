package store

import (
	"context"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Correction is a case's personal data after a correction (in the clear: the
// store seals it), and what follows from it.
type Correction struct {
	CaseID          string
	Beneficiary     string // JSON
	Household       string // JSON
	Vulnerabilities string // JSON
	AreaRegion      string
	AreaDistrict    string
	Vulnerable      bool
	// Sex and AgeBand: the coarse profile the statistics count from now on.
	Sex            string
	AgeBand        string
	BeneficiaryKey string
	// Fields names what changed (e.g. beneficiary.family_name): the timeline and
	// the audit trail name them, never the values.
	Fields []string
	By     AuditEntry
	At     time.Time
}

// CorrectCase writes a correction of a case's personal data in one
// transaction: the sealed columns, the identity key, the blind indexes, a
// timeline line and an audit entry that name the fields changed. A new identity
// that is another active case's is ErrActiveCaseExists.
func (s *Store) CorrectCase(ctx context.Context, c Correction) error {
	row := Case{Beneficiary: c.Beneficiary, Household: c.Household, Vulnerabilities: c.Vulnerabilities, State: "{}"}
	if err := s.seal(&row); err != nil {
		return err
	}
	fields := strings.Join(c.Fields, ", ")
	audit := c.By
	audit.CaseID, audit.At, audit.Part, audit.Action, audit.Detail = c.CaseID, c.At, "personal_data", "correct", "fields="+strings.Join(c.Fields, ",")
	ev := TimelineEvent{CaseID: c.CaseID, EventKey: "correction:" + c.CaseID + ":" + c.At.Format(time.RFC3339Nano) + ":" + c.By.RequestID,
		Type: "corrected", ActorUser: c.By.ActorUser, ActorRole: c.By.ActorRole, Summary: "Data corrected: " + fields, At: c.At}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Case{}).Where("id = ? AND anonymised_at IS NULL", c.CaseID).Updates(map[string]any{
			"beneficiary": row.Beneficiary, "household": row.Household, "vulnerabilities": row.Vulnerabilities,
			"area_region": c.AreaRegion, "area_district": c.AreaDistrict, "vulnerable": c.Vulnerable,
			"sex": c.Sex, "age_band": c.AgeBand, "beneficiary_key": c.BeneficiaryKey})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		var seq int64
		if err := tx.Model(&Case{}).Where("id = ?", c.CaseID).Select("seq").Scan(&seq).Error; err != nil {
			return err
		}
		if err := replaceSearchTerms(tx, c.CaseID, s.searchTerms(c.CaseID, seq, c.Beneficiary, c.Household)); err != nil {
			return err
		}
		if err := tx.Create(&ev).Error; err != nil {
			return err
		}
		return tx.Create(&audit).Error
	})
	if err != nil && duplicate(err) {
		return ErrActiveCaseExists
	}
	return err
}
