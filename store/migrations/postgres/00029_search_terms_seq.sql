-- +goose Up
-- Each search term carries its case's seq, indexed after the hash, so a search
-- reads a term's cases newest first straight from the index: Postgres can walk
-- the rarest term's cases and probe the others (or merge them), in page order,
-- instead of walking every case of the office newest first and probing each.
-- Terms of a case no longer there (a registration undone before cases were never
-- deleted) index nothing.
DELETE FROM case_search_terms WHERE NOT EXISTS (SELECT 1 FROM cases WHERE cases.id = case_search_terms.case_id);
ALTER TABLE case_search_terms ADD COLUMN case_seq bigint NOT NULL DEFAULT 0;
UPDATE case_search_terms t SET case_seq = c.seq FROM cases c WHERE c.id = t.case_id;
ALTER TABLE case_search_terms ALTER COLUMN case_seq DROP DEFAULT;
CREATE UNIQUE INDEX case_search_terms_seq ON case_search_terms (hash, kind, case_seq);
DROP INDEX case_search_terms_hash;
-- A search reads the terms from the index alone while their pages are all
-- visible; autovacuum's default waits for a fifth of the table to be new (a
-- year and more of registrations at a million cases) before it marks them, and
-- the newest terms are what a search reads first. Vacuumed every 1% instead.
ALTER TABLE case_search_terms SET (autovacuum_vacuum_insert_scale_factor = 0.01, autovacuum_vacuum_scale_factor = 0.01);

-- +goose Down
ALTER TABLE case_search_terms RESET (autovacuum_vacuum_insert_scale_factor, autovacuum_vacuum_scale_factor);
CREATE INDEX case_search_terms_hash ON case_search_terms (hash, kind, case_id);
DROP INDEX case_search_terms_seq;
ALTER TABLE case_search_terms DROP COLUMN case_seq;
