-- +goose Up
-- My work's counts of active cases per stage of an office: each office's cases
-- counted from an index of their own, never the whole table.
CREATE INDEX cases_active_sending_stage ON cases (sending_office, stage) WHERE status = 'active';
CREATE INDEX cases_active_receiving_stage ON cases (receiving_office, stage, sending_office) WHERE status = 'active';
CREATE INDEX cases_active_stage ON cases (stage) WHERE status = 'active';

-- +goose Down
DROP INDEX cases_active_stage;
DROP INDEX cases_active_receiving_stage;
DROP INDEX cases_active_sending_stage;
