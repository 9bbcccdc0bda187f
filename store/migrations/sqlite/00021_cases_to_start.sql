-- +goose Up
-- The registered cases whose workflow is not known to have started (run_id still
-- empty), for the API's sweeper: an index of their own, nearly always empty.
CREATE INDEX cases_to_start ON cases (created_at) WHERE run_id = '';

-- +goose Down
DROP INDEX cases_to_start;
