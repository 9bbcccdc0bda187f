-- +goose Up
-- When a closed case's personal data was removed by the retention schedule.
ALTER TABLE cases ADD COLUMN anonymised_at timestamptz;

-- +goose Down
ALTER TABLE cases DROP COLUMN anonymised_at;
