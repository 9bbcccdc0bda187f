-- +goose Up
-- When the person withdrew their consent to data processing (POST /cases/{id}/consent):
-- the case closes, and the retention schedule anonymises it at its next run
-- instead of waiting for retention.after.
ALTER TABLE cases ADD COLUMN consent_withdrawn_at timestamptz;

-- +goose Down
ALTER TABLE cases DROP COLUMN consent_withdrawn_at;
