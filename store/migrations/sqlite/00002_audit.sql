-- +goose Up
-- The audit trail: who read or changed a case's personal data. Append-only: the
-- application has no code path that updates or deletes it, and the database
-- refuses both.
CREATE TABLE audit_log (
    id          integer PRIMARY KEY AUTOINCREMENT,
    at          datetime NOT NULL,
    actor_user  text NOT NULL,
    actor_role  text NOT NULL,
    case_id     text NOT NULL,
    part        text NOT NULL,
    action      text NOT NULL,
    request_id  text NOT NULL DEFAULT ''
);
CREATE INDEX audit_case ON audit_log (case_id, at, id);

-- +goose StatementBegin
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER audit_log_no_delete;
DROP TRIGGER audit_log_no_update;
DROP TABLE audit_log;
