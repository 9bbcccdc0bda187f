-- +goose Up
-- Who owns a case at each of its offices: one caseworker at the sending office,
-- one at the receiving office. No row: unassigned there.
CREATE TABLE case_owners (
    case_id     text NOT NULL REFERENCES cases (id),
    office      text NOT NULL,
    user_name   text NOT NULL,
    assigned_by text NOT NULL,
    assigned_at datetime NOT NULL,
    PRIMARY KEY (case_id, office)
);
CREATE INDEX case_owners_user ON case_owners (user_name, case_id);

-- +goose Down
DROP TABLE case_owners;
