-- +goose NO TRANSACTION
-- +goose Up
-- Each search term carries its case's seq, indexed after the hash, so a search
-- reads a term's cases newest first straight from the index: Postgres can walk
-- the rarest term's cases and probe the others (or merge them), in page order,
-- instead of walking every case of the office newest first and probing each.
--
-- Written for a live database, outside one transaction, each step safe to run
-- again: no step holds a lock on the terms for longer than a batch (searches,
-- registrations and corrections go on), and a release that does not know the
-- column may still write terms while the workers and APIs are replaced (a
-- trigger fills the seq in).

-- Terms of a case no longer there (a registration undone, before cases were never
-- deleted) index nothing.
DELETE FROM case_search_terms WHERE NOT EXISTS (SELECT 1 FROM cases WHERE cases.id = case_search_terms.case_id);
ALTER TABLE case_search_terms ADD COLUMN IF NOT EXISTS case_seq bigint;

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION case_search_terms_seq() RETURNS trigger AS $$
BEGIN
    IF NEW.case_seq IS NULL THEN
        SELECT seq INTO NEW.case_seq FROM cases WHERE id = NEW.case_id;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
DROP TRIGGER IF EXISTS case_search_terms_seq ON case_search_terms;
CREATE TRIGGER case_search_terms_seq BEFORE INSERT ON case_search_terms
    FOR EACH ROW EXECUTE FUNCTION case_search_terms_seq();

-- The terms written before, 5,000 cases at a time, each batch committed.
-- +goose StatementBegin
DO $$
DECLARE
    lo   bigint := 0;
    last bigint;
BEGIN
    SELECT COALESCE(MAX(seq), 0) INTO last FROM cases;
    WHILE lo < last LOOP
        UPDATE case_search_terms t SET case_seq = c.seq FROM cases c
            WHERE c.seq > lo AND c.seq <= lo + 5000 AND t.case_id = c.id AND t.case_seq IS NULL;
        lo := lo + 5000;
        COMMIT;
    END LOOP;
END $$;
-- +goose StatementEnd

-- An index a stopped run of this migration left half built is invalid: built again.
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
               WHERE c.relname = 'case_search_terms_seq' AND NOT i.indisvalid) THEN
        DROP INDEX case_search_terms_seq;
    END IF;
END $$;
-- +goose StatementEnd
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS case_search_terms_seq ON case_search_terms (hash, kind, case_seq);
DROP INDEX CONCURRENTLY IF EXISTS case_search_terms_hash;
-- A search reads the terms from the index alone while their pages are all
-- visible; autovacuum's default waits for a fifth of the table to be new (a
-- year and more of registrations at a million cases) before it marks them, and
-- the newest terms are what a search reads first. Vacuumed every 1% instead.
ALTER TABLE case_search_terms SET (autovacuum_vacuum_insert_scale_factor = 0.01, autovacuum_vacuum_scale_factor = 0.01);

-- +goose Down
ALTER TABLE case_search_terms RESET (autovacuum_vacuum_insert_scale_factor, autovacuum_vacuum_scale_factor);
CREATE INDEX CONCURRENTLY IF NOT EXISTS case_search_terms_hash ON case_search_terms (hash, kind, case_id);
DROP INDEX CONCURRENTLY IF EXISTS case_search_terms_seq;
DROP TRIGGER IF EXISTS case_search_terms_seq ON case_search_terms;
DROP FUNCTION IF EXISTS case_search_terms_seq();
ALTER TABLE case_search_terms DROP COLUMN IF EXISTS case_seq;
