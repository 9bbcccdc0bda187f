-- +goose Up
-- The rule set a case was registered under (contract.Rules as JSON): its workflow
-- starts with them whenever it starts, even if the configuration changed between
-- the registration and the start (the API's sweeper).
ALTER TABLE cases ADD COLUMN start_rules text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE cases DROP COLUMN start_rules;
