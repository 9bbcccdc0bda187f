-- +goose Up
-- Each payment carries its case's country of return, so that the monthly report
-- sums the month's payments by country from one index, without looking up each
-- payment's case (thousands of probes a month).
ALTER TABLE payments ADD COLUMN country_of_return text NOT NULL DEFAULT '';
UPDATE payments SET country_of_return = (SELECT c.country_of_return FROM cases c WHERE c.id = payments.case_id);
DROP INDEX payments_paid_report;
CREATE INDEX payments_paid_report ON payments (paid_at, country_of_return, currency, amount_cents);
DROP INDEX cases_id_country;

-- +goose Down
CREATE INDEX cases_id_country ON cases (id, country_of_return);
DROP INDEX payments_paid_report;
CREATE INDEX payments_paid_report ON payments (paid_at, case_id, currency, amount_cents);
ALTER TABLE payments DROP COLUMN country_of_return;
