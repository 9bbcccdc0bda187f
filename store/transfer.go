package store

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// Transfer moves a case to another receiving office (and area of return).
type Transfer struct {
	CaseID       string
	From, To     string // receiving offices
	AreaRegion   string
	AreaDistrict string
	By           AuditEntry
	At           time.Time
}

// TransferCase writes a transfer the workflow took, in one transaction: the
// case's receiving office and area of return, the old office's owner dropped
// (the case is no longer theirs), and an audit entry naming the offices. The
// timeline's line is the workflow's (transferred). A case no longer at From
// (transferred meanwhile) is ErrConflict.
func (s *Store) TransferCase(ctx context.Context, t Transfer) error {
	audit := t.By
	audit.CaseID, audit.At, audit.Part, audit.Action = t.CaseID, t.At, "case_file", "transfer"
	audit.Detail = "from=" + t.From + ",to=" + t.To
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Case{}).Where("id = ? AND receiving_office = ?", t.CaseID, t.From).Updates(map[string]any{
			"receiving_office": t.To, "area_region": t.AreaRegion, "area_district": t.AreaDistrict})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrConflict
		}
		if err := tx.Where("case_id = ? AND office = ?", t.CaseID, t.From).Delete(&Owner{}).Error; err != nil {
			return err
		}
		return tx.Create(&audit).Error
	})
}
