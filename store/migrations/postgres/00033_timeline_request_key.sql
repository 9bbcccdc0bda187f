-- +goose NO TRANSACTION
-- +goose Up
-- The API's request whose action a timeline line is the first of (a hash of the
-- client's Idempotency-Key with the caller, route and case): a retry whose first
-- answer was lost finds its action applied, even once the case has continued in a
-- new run of its workflow, where Temporal no longer knows the update. The index
-- is built without blocking the timeline's writes.
ALTER TABLE timeline_events ADD COLUMN IF NOT EXISTS request_key text NOT NULL DEFAULT '';
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
               WHERE c.relname = 'timeline_request' AND NOT i.indisvalid) THEN
        DROP INDEX timeline_request;
    END IF;
END $$;
-- +goose StatementEnd
CREATE INDEX CONCURRENTLY IF NOT EXISTS timeline_request ON timeline_events (case_id, request_key) WHERE request_key <> '';

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS timeline_request;
ALTER TABLE timeline_events DROP COLUMN IF EXISTS request_key;
