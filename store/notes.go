package store

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// Note is a free note on a case. Its text is sealed at rest.
type Note struct {
	ID         string `gorm:"primaryKey"`
	CaseID     string
	AuthorUser string
	AuthorRole string
	At         time.Time
	Text       string
}

// TableName keeps GORM on the migrated table.
func (Note) TableName() string { return "case_notes" }

// noteColumn is the name a note's text is sealed under (bound to the ciphertext).
const noteColumn = "case_notes.text"

// AddNote stores a note, its line in the timeline (type note_added, no text)
// and its audit entry, together.
func (s *Store) AddNote(ctx context.Context, n Note, audit AuditEntry) error {
	sealed, err := s.sealer.Seal(noteColumn, n.Text)
	if err != nil {
		return err
	}
	row := n
	row.Text = sealed
	audit.CaseID = n.CaseID
	ev := TimelineEvent{CaseID: n.CaseID, EventKey: "note:" + n.ID, Type: "note_added", ActorUser: n.AuthorUser,
		ActorRole: n.AuthorRole, Summary: "Note added", At: n.At}
	return s.createWithEvent(ctx, &row, ev, audit)
}

// Notes returns a case's notes, oldest first, their text opened.
func (s *Store) Notes(ctx context.Context, caseID string) ([]Note, error) {
	var ns []Note
	if err := s.db.WithContext(ctx).Where("case_id = ?", caseID).Order("at, id").Find(&ns).Error; err != nil {
		return nil, err
	}
	for i := range ns {
		text, err := s.sealer.Open(noteColumn, ns[i].Text)
		if err != nil {
			return nil, err
		}
		ns[i].Text = text
	}
	return ns, nil
}

// createWithEvent stores a row of the case file with its timeline event and its
// audit entry, all or nothing.
func (s *Store) createWithEvent(ctx context.Context, row any, ev TimelineEvent, audit AuditEntry) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(row).Error; err != nil {
			return err
		}
		if err := tx.Create(&ev).Error; err != nil {
			return err
		}
		return tx.Create(&audit).Error
	})
}
