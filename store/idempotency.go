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

// RememberedResponse returns the stored answer for a key, or ErrNotFound.
func (s *Store) RememberedResponse(ctx context.Context, key string) (*IdempotentRequest, error) {
	var r IdempotentRequest
	if err := s.db.WithContext(ctx).Where("key = ?", key).Take(&r).Error; err != nil {
		return nil, notFound(err)
	}
	return &r, nil
}

// RememberResponse stores the answer for a key; the first answer stored wins.
func (s *Store) RememberResponse(ctx context.Context, r IdempotentRequest) error {
	err := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&r).Error
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return nil
	}
	return err
}
