package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// IdempotentRequest is the memory of a mutation sent with an Idempotency-Key: a
// retry with the same key is answered again from it and causes no second effect.
// It keeps no personal data: what is needed to answer again (the status, the case,
// the kind of answer and the created object's ID); the API re-reads the answer
// through its audited read path. It goes with its case (retention erases it).
type IdempotentRequest struct {
	Key         string `gorm:"primaryKey"`
	Fingerprint string
	Status      int
	CaseID      string
	// Kind says how to answer again (the API's Remembered* constants); empty for an
	// answer stored whole in Body before migration 00013 (those were dropped then).
	Kind string
	// ObjectID is the created note's or document's ID.
	ObjectID  string
	Body      string
	CreatedAt time.Time
}

// idempotentBody is the sealed column of a remembered answer: what remains in it
// (a registration's case ID) is sealed like the rest.
const idempotentBody = "idempotent_requests.body"

// RememberedResponse returns the stored answer for a key, or ErrNotFound.
// AppliedRequest says whether the case's workflow took an action sent under the
// request key (the first line of its action carries it): a retry whose first
// answer was lost, and so never remembered, finds it here.
func (s *Store) AppliedRequest(ctx context.Context, caseID, key string) (bool, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&TimelineEvent{}).Where("case_id = ? AND request_key = ?", caseID, key).
		Limit(1).Count(&n).Error
	return n > 0, err
}

func (s *Store) RememberedResponse(ctx context.Context, key string) (*IdempotentRequest, error) {
	var r IdempotentRequest
	if err := s.db.WithContext(ctx).Where("key = ?", key).Take(&r).Error; err != nil {
		return nil, notFound(err)
	}
	body, err := s.sealer.Open(idempotentBody, r.Body) // one stored before sealing opens as it is
	if err != nil {
		return nil, err
	}
	r.Body = body
	return &r, nil
}

// RememberResponse stores the answer for a key, sealed; the first answer stored wins.
func (s *Store) RememberResponse(ctx context.Context, r IdempotentRequest) error {
	body, err := s.sealer.Seal(idempotentBody, r.Body)
	if err != nil {
		return err
	}
	r.Body = body
	err = s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&r).Error
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return nil
	}
	return err
}
