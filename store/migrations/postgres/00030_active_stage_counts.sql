-- +goose Up
-- My work's counts of active cases per stage, kept as the cases change rather
-- than counted from the cases at each read (a count that grows with the open
-- caseload): one row per sending office, receiving office and stage, written by
-- a trigger on cases in the transaction that changes the case, so no write
-- path can forget it. An office's counts sum its rows, sending or receiving.
-- No case changes between the count below and the trigger that keeps it, and
-- the old indexes go at the end: the strongest lock at once (held about a second
-- at a million cases: the count reads the partial indexes), so no reader that
-- goes on to write can deadlock with this migration; given up after 10 s rather
-- than queueing every read behind a long one.
SET LOCAL lock_timeout = '10s';
LOCK TABLE cases IN ACCESS EXCLUSIVE MODE;
CREATE TABLE active_stage_counts (
    sending_office   text NOT NULL,
    receiving_office text NOT NULL,
    stage            text NOT NULL,
    cases            bigint NOT NULL,
    PRIMARY KEY (sending_office, receiving_office, stage)
);
INSERT INTO active_stage_counts (sending_office, receiving_office, stage, cases)
    SELECT sending_office, receiving_office, stage, COUNT(*) FROM cases WHERE status = 'active'
    GROUP BY sending_office, receiving_office, stage;

-- +goose StatementBegin
CREATE FUNCTION active_stage_count_add(s text, r text, st text, n bigint) RETURNS void AS $$
    INSERT INTO active_stage_counts AS c (sending_office, receiving_office, stage, cases) VALUES (s, r, st, n)
    ON CONFLICT (sending_office, receiving_office, stage) DO UPDATE SET cases = c.cases + n;
$$ LANGUAGE sql;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION active_stage_count() RETURNS trigger AS $$
DECLARE
    was_active boolean := TG_OP <> 'INSERT' AND OLD.status = 'active';
    now_active boolean := TG_OP <> 'DELETE' AND NEW.status = 'active';
BEGIN
    IF was_active AND now_active AND (OLD.sending_office, OLD.receiving_office, OLD.stage) = (NEW.sending_office, NEW.receiving_office, NEW.stage) THEN
        RETURN NULL;
    END IF;
    -- Two rows change in a fixed order (the lower key first), so two cases moving
    -- opposite ways between the same rows cannot deadlock.
    IF was_active AND now_active AND (OLD.sending_office, OLD.receiving_office, OLD.stage) > (NEW.sending_office, NEW.receiving_office, NEW.stage) THEN
        PERFORM active_stage_count_add(NEW.sending_office, NEW.receiving_office, NEW.stage, 1);
        PERFORM active_stage_count_add(OLD.sending_office, OLD.receiving_office, OLD.stage, -1);
        RETURN NULL;
    END IF;
    IF was_active THEN
        PERFORM active_stage_count_add(OLD.sending_office, OLD.receiving_office, OLD.stage, -1);
    END IF;
    IF now_active THEN
        PERFORM active_stage_count_add(NEW.sending_office, NEW.receiving_office, NEW.stage, 1);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd

-- Run at commit (deferred), so a counter row is locked for the commit alone, not
-- for the whole transaction that changes the case. It runs as whoever changes
-- the case (GrantApplication gives the application's role the counts as every
-- table); run as the owner, it would hand the owner's rights to any role able to
-- put a table of its own earlier on the search path.
CREATE CONSTRAINT TRIGGER cases_active_stage_count AFTER INSERT OR DELETE OR UPDATE OF status, stage, sending_office, receiving_office
    ON cases DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION active_stage_count();

DROP INDEX cases_active_sending_stage;
DROP INDEX cases_active_receiving_stage;

-- +goose Down
CREATE INDEX cases_active_sending_stage ON cases (sending_office, stage) WHERE status = 'active';
CREATE INDEX cases_active_receiving_stage ON cases (receiving_office, stage, sending_office) WHERE status = 'active';
DROP TRIGGER cases_active_stage_count ON cases;
DROP FUNCTION active_stage_count();
DROP FUNCTION active_stage_count_add(text, text, text, bigint);
DROP TABLE active_stage_counts;
