-- +goose Up
-- The workflow task that wrote a case's state, as an order (later tasks are
-- larger). A task that wrote and then failed (its worker died) is run again, and
-- may take another path with fewer steps: its writes must replace the failed
-- task's even where its step number is lower.
ALTER TABLE cases ADD COLUMN written_in bigint NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE cases DROP COLUMN written_in;
