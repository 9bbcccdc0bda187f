-- +goose Up
-- Free case notes. The text is personal data, sealed at rest like the case's
-- other sensitive columns; the author and the time are not.
CREATE TABLE case_notes (
    id          text PRIMARY KEY,
    case_id     text NOT NULL REFERENCES cases (id),
    author_user text NOT NULL,
    author_role text NOT NULL,
    at          datetime NOT NULL,
    text        text NOT NULL
);
CREATE INDEX case_notes_case ON case_notes (case_id, at, id);

-- +goose Down
DROP TABLE case_notes;
