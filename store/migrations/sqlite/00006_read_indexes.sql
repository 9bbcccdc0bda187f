-- +goose Up
-- Indexes that serve both the filter and the order of the reads (store/list.go,
-- store/report.go), so that none sorts or reads every matching case. Partial
-- indexes' predicates are written as the queries write them: SQLite matches
-- them against the statement's text (overdue = 1, status = 'active').

-- The list by office: a UNION ALL of the sending-office and the receiving-office
-- cases, each newest first. Overdue lists read only the overdue cases.
CREATE INDEX cases_overdue_sending_seq ON cases (sending_office, seq DESC) WHERE overdue = 1;
CREATE INDEX cases_overdue_receiving_seq ON cases (receiving_office, seq DESC) WHERE overdue = 1;

-- The inbox (Due): per role, oldest due date first, undated last, in the order
-- it is shown; the offices at the end filter without reading the row. It
-- replaces cases_waiting_due, whose order needed a sort of every match.
DROP INDEX cases_waiting_due;
CREATE INDEX cases_inbox ON cases (waiting_on, stage_due_at IS NULL, stage_due_at, seq, sending_office, receiving_office)
    WHERE status = 'active';

-- The stuck view: exactly its cases, longest in their stage first. status leads
-- so that SQLite, which has no statistics, prefers this index to cases_status_seq.
CREATE INDEX cases_stuck ON cases (status, stage_entered_at, seq)
    WHERE status = 'active' AND (overdue = 1 OR waiting_on = 'system' OR blocked <> '');

-- The quiet cases (Quiet), stalest first; replaces cases_active_updated, which
-- SQLite passed over for cases_status_seq and a sort of every active case.
DROP INDEX cases_active_updated;
CREATE INDEX cases_quiet ON cases (status, updated_at) WHERE status = 'active';

-- The monthly report: each date's index carries what its query counts, so the
-- month's rows are counted without reading the (wide) case rows. They replace
-- the single-column indexes of the same dates.
DROP INDEX cases_created_at;
DROP INDEX cases_departed_at;
DROP INDEX cases_closed_at;
DROP INDEX cases_plan_approved_at;
DROP INDEX payments_paid;
CREATE INDEX cases_created_report ON cases (created_at, country_of_return, stage);
CREATE INDEX cases_departed_report ON cases (departed_at, country_of_return, stage, currency, service_charge_cents);
CREATE INDEX cases_closed_report ON cases (closed_at, country_of_return, stage);
CREATE INDEX cases_approved_report ON cases (plan_approved_at, country_of_return, currency, committed_cents);
CREATE INDEX cases_id_country ON cases (id, country_of_return);
CREATE INDEX payments_paid_report ON payments (paid_at, case_id, currency, amount_cents);

-- +goose Down
DROP INDEX payments_paid_report;
DROP INDEX cases_id_country;
DROP INDEX cases_approved_report;
DROP INDEX cases_closed_report;
DROP INDEX cases_departed_report;
DROP INDEX cases_created_report;
CREATE INDEX payments_paid ON payments (paid_at);
CREATE INDEX cases_plan_approved_at ON cases (plan_approved_at);
CREATE INDEX cases_closed_at ON cases (closed_at);
CREATE INDEX cases_departed_at ON cases (departed_at);
CREATE INDEX cases_created_at ON cases (created_at);
DROP INDEX cases_quiet;
CREATE INDEX cases_active_updated ON cases (updated_at) WHERE status = 'active';
DROP INDEX cases_stuck;
DROP INDEX cases_inbox;
CREATE INDEX cases_waiting_due ON cases (waiting_on, stage_due_at) WHERE status = 'active';
DROP INDEX cases_overdue_receiving_seq;
DROP INDEX cases_overdue_sending_seq;
