-- +goose Up
-- Blind indexes for finding cases by personal data that is sealed at rest: a
-- keyed hash (a key derived from the database key ring for this alone) of each
-- normalised value: every name token and the full name (folded for case,
-- accents and spacing), the phone number (E.164), the travel document's number
-- (upper case, no separators). Written at registration and rewritten on
-- correction; cases registered before this migration get theirs when the API
-- starts (store.BackfillSearchTerms: a migration cannot compute the hashes).
CREATE TABLE case_search_terms (
    case_id text NOT NULL,
    kind    text NOT NULL,
    hash    text NOT NULL,
    PRIMARY KEY (case_id, kind, hash)
);
CREATE INDEX case_search_terms_hash ON case_search_terms (hash, kind, case_id);

-- What an audit entry needs beyond part and action: a search's hit count. Never
-- personal data (a search's terms are not recorded).
ALTER TABLE audit_log ADD COLUMN detail text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE audit_log DROP COLUMN detail;
DROP TABLE case_search_terms;
