-- +goose Up
-- My work's counts of active cases per stage, kept as the cases change rather
-- than counted from the cases at each read: one row per sending office,
-- receiving office and stage, written by triggers on cases in the transaction
-- that changes the case, so no write path can forget it.
CREATE TABLE active_stage_counts (
    sending_office   text NOT NULL,
    receiving_office text NOT NULL,
    stage            text NOT NULL,
    cases            integer NOT NULL,
    PRIMARY KEY (sending_office, receiving_office, stage)
);
INSERT INTO active_stage_counts (sending_office, receiving_office, stage, cases)
    SELECT sending_office, receiving_office, stage, COUNT(*) FROM cases WHERE status = 'active'
    GROUP BY sending_office, receiving_office, stage;

-- +goose StatementBegin
CREATE TRIGGER cases_active_stage_count_insert AFTER INSERT ON cases WHEN NEW.status = 'active'
BEGIN
    INSERT INTO active_stage_counts (sending_office, receiving_office, stage, cases)
        VALUES (NEW.sending_office, NEW.receiving_office, NEW.stage, 1)
        ON CONFLICT (sending_office, receiving_office, stage) DO UPDATE SET cases = cases + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER cases_active_stage_count_update AFTER UPDATE OF status, stage, sending_office, receiving_office ON cases
    WHEN (OLD.status = 'active' OR NEW.status = 'active') AND (OLD.status, OLD.stage, OLD.sending_office, OLD.receiving_office)
        IS NOT (NEW.status, NEW.stage, NEW.sending_office, NEW.receiving_office)
BEGIN
    UPDATE active_stage_counts SET cases = cases - 1 WHERE OLD.status = 'active'
        AND sending_office = OLD.sending_office AND receiving_office = OLD.receiving_office AND stage = OLD.stage;
    INSERT INTO active_stage_counts (sending_office, receiving_office, stage, cases)
        SELECT NEW.sending_office, NEW.receiving_office, NEW.stage, 1 WHERE NEW.status = 'active'
        ON CONFLICT (sending_office, receiving_office, stage) DO UPDATE SET cases = cases + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER cases_active_stage_count_delete AFTER DELETE ON cases WHEN OLD.status = 'active'
BEGIN
    UPDATE active_stage_counts SET cases = cases - 1
        WHERE sending_office = OLD.sending_office AND receiving_office = OLD.receiving_office AND stage = OLD.stage;
END;
-- +goose StatementEnd

DROP INDEX cases_active_sending_stage;
DROP INDEX cases_active_receiving_stage;

-- +goose Down
CREATE INDEX cases_active_sending_stage ON cases (sending_office, stage) WHERE status = 'active';
CREATE INDEX cases_active_receiving_stage ON cases (receiving_office, stage, sending_office) WHERE status = 'active';
DROP TRIGGER cases_active_stage_count_delete;
DROP TRIGGER cases_active_stage_count_update;
DROP TRIGGER cases_active_stage_count_insert;
DROP TABLE active_stage_counts;
