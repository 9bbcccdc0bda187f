-- +goose Up
-- The audit trail: who read or changed a case's personal data. Append-only: the
-- application has no code path that updates or deletes it, and the database
-- refuses both.
CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL,
    actor_user  text NOT NULL,
    actor_role  text NOT NULL,
    case_id     text NOT NULL,
    part        text NOT NULL,
    action      text NOT NULL,
    request_id  text NOT NULL DEFAULT ''
);
CREATE INDEX audit_case ON audit_log (case_id, at, id);

-- +goose StatementBegin
CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

-- +goose Down
DROP TRIGGER audit_log_no_update ON audit_log;
DROP FUNCTION audit_log_append_only();
DROP TABLE audit_log;
