-- +goose Up
-- The API's request whose action a timeline line is the first of: a retry whose
-- first answer was lost finds its action applied, even in a later run.
ALTER TABLE timeline_events ADD COLUMN request_key text NOT NULL DEFAULT '';
CREATE INDEX timeline_request ON timeline_events (case_id, request_key) WHERE request_key <> '';

-- +goose Down
DROP INDEX timeline_request;
ALTER TABLE timeline_events DROP COLUMN request_key;
