-- +goose Up
-- When a case's wait opens (a monitoring visit from its due date): until then the
-- inbox leaves the case out, though it waits on the caseworker already.
ALTER TABLE cases ADD COLUMN waiting_from timestamptz;

-- +goose Down
ALTER TABLE cases DROP COLUMN waiting_from;
