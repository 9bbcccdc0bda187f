package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// IdempotentRequest is the stored answer to a mutation sent with an Idempotency-Key:
// a retry with the same key gets this answer and causes no second effect.
type IdempotentRequest struct {
	Key         string `gorm:"primaryKey"`
	Fingerprint string
	Status      int
	Body        string
	CreatedAt   time.Time
}

// idempotentBody is the sealed column of a remembered answer: an answer can hold a
// case's personal data (a case view, a note's text, a file's name).
const idempotentBody = "idempotent_requests.body"

// RememberedResponse returns the stored answer for a key, or ErrNotFound.
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
