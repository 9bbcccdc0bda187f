-- +goose Up
-- A keyed hash of who the beneficiary is (names, date of birth, nationality), so
-- that a second active case for the same person is found without storing or
-- comparing the values themselves (they are sealed at rest).
ALTER TABLE cases ADD COLUMN beneficiary_key text NOT NULL DEFAULT '';
CREATE UNIQUE INDEX cases_beneficiary_key ON cases (beneficiary_key) WHERE status = 'active' AND beneficiary_key <> '';

-- +goose Down
DROP INDEX cases_beneficiary_key;
ALTER TABLE cases DROP COLUMN beneficiary_key;
