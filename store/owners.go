package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
)

// Owner is the caseworker who owns a case at one of its offices.
type Owner struct {
	CaseID     string `gorm:"primaryKey"`
	Office     string `gorm:"primaryKey"`
	UserName   string
	AssignedBy string
	AssignedAt time.Time
}

// TableName keeps GORM on the migrated table.
func (Owner) TableName() string { return "case_owners" }

// ErrOwned says the case already has an owner at that office (a caseworker may
// take only an unassigned case).
var ErrOwned = errors.New("the case already has an owner at this office")

// SetOwner makes user the owner of the case at the office (an empty user
// removes the owner), with a timeline line and an audit entry, together. With
// onlyIfUnassigned, an office that has an owner (another or the same user)
// refuses it (ErrOwned).
func (s *Store) SetOwner(ctx context.Context, o Owner, onlyIfUnassigned bool, audit AuditEntry) error {
	summary := "Owner at " + o.Office + ": " + o.UserName
	if o.UserName == "" {
		summary = "Owner at " + o.Office + " removed"
	}
	ev := TimelineEvent{CaseID: o.CaseID, EventKey: "owner:" + o.CaseID + ":" + o.Office + ":" + o.AssignedAt.Format(time.RFC3339Nano),
		Type: "owner_assigned", ActorUser: audit.ActorUser, ActorRole: audit.ActorRole, Summary: summary, At: o.AssignedAt}
	audit.CaseID = o.CaseID
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&Owner{}).Where("case_id = ? AND office = ?", o.CaseID, o.Office).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 && onlyIfUnassigned {
			return ErrOwned
		}
		if err := tx.Where("case_id = ? AND office = ?", o.CaseID, o.Office).Delete(&Owner{}).Error; err != nil {
			return err
		}
		if o.UserName != "" {
			if err := tx.Create(&o).Error; err != nil {
				if duplicate(err) {
					return ErrOwned // taken at the same moment
				}
				return err
			}
		}
		if err := tx.Create(&ev).Error; err != nil {
			return err
		}
		return tx.Create(&audit).Error
	})
}

// Owners returns the owners of cases, by case ID, then by office.
func (s *Store) Owners(ctx context.Context, caseIDs ...string) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	if len(caseIDs) == 0 {
		return out, nil
	}
	var os []Owner
	if err := s.db.WithContext(ctx).Where("case_id IN ?", caseIDs).Find(&os).Error; err != nil {
		return nil, err
	}
	for _, o := range os {
		if out[o.CaseID] == nil {
			out[o.CaseID] = map[string]string{}
		}
		out[o.CaseID][o.Office] = o.UserName
	}
	return out, nil
}

// ownerCond is the Filter's owner condition, if any.
func ownerCond(f Filter, c *cond) {
	switch {
	case f.OwnedBy != "":
		c.add("id IN (SELECT case_id FROM case_owners WHERE user_name = ?)", f.OwnedBy)
	case f.Unowned && f.Offices != nil:
		c.add("id NOT IN (SELECT case_id FROM case_owners WHERE office IN ?)", f.Offices)
	case f.Unowned:
		c.add("id NOT IN (SELECT case_id FROM case_owners)")
	}
}
