-- +goose Up
-- Each search term carries its case's seq, indexed after the hash, so a search
-- reads a term's cases newest first straight from the index.
-- Terms of a case no longer there (a registration undone, before cases were never
-- deleted) index nothing.
DELETE FROM case_search_terms WHERE NOT EXISTS (SELECT 1 FROM cases WHERE cases.id = case_search_terms.case_id);
ALTER TABLE case_search_terms ADD COLUMN case_seq integer NOT NULL DEFAULT 0;
UPDATE case_search_terms SET case_seq = (SELECT seq FROM cases WHERE cases.id = case_search_terms.case_id);
CREATE UNIQUE INDEX case_search_terms_seq ON case_search_terms (hash, kind, case_seq);
DROP INDEX case_search_terms_hash;
-- A writer that does not know the column (the release before this one) gets
-- its terms' seq filled in.
-- +goose StatementBegin
CREATE TRIGGER case_search_terms_seq AFTER INSERT ON case_search_terms WHEN NEW.case_seq = 0
BEGIN
    UPDATE case_search_terms SET case_seq = (SELECT seq FROM cases WHERE cases.id = NEW.case_id)
        WHERE case_id = NEW.case_id AND kind = NEW.kind AND hash = NEW.hash;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER case_search_terms_seq;
CREATE INDEX case_search_terms_hash ON case_search_terms (hash, kind, case_id);
DROP INDEX case_search_terms_seq;
ALTER TABLE case_search_terms DROP COLUMN case_seq;
