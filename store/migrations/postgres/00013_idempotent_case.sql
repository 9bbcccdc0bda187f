-- +goose Up
-- A remembered answer (issue 18, #7) no longer holds the answer itself, which could
-- be a whole case view, a note's text or a file's name: it holds what is needed to
-- answer again (the status, the case, what kind of answer, and the created note's
-- or document's ID), and the API re-reads the answer through its audited read path.
-- case_id lets the memory go with the case when retention anonymises it.
ALTER TABLE idempotent_requests ADD COLUMN case_id text NOT NULL DEFAULT '';
ALTER TABLE idempotent_requests ADD COLUMN kind text NOT NULL DEFAULT '';
ALTER TABLE idempotent_requests ADD COLUMN object_id text NOT NULL DEFAULT '';
-- A registration's memory held the case's ID only: it stays, tied to its case.
UPDATE idempotent_requests SET kind = 'registration',
    case_id = COALESCE((SELECT c.id FROM cases c WHERE 'register:' || c.idempotency_key = idempotent_requests.key), '')
    WHERE key LIKE 'register:%';
-- Every other answer remembered before held personal data in full: dropped. A
-- client repeating such a request now is answered as a new request (the workflow
-- still refuses a second effect of an action or fact; a note or document would be
-- added again).
DELETE FROM idempotent_requests WHERE kind = '';
CREATE INDEX idempotent_requests_case ON idempotent_requests (case_id);

-- +goose Down
DROP INDEX idempotent_requests_case;
ALTER TABLE idempotent_requests DROP COLUMN object_id;
ALTER TABLE idempotent_requests DROP COLUMN kind;
ALTER TABLE idempotent_requests DROP COLUMN case_id;
