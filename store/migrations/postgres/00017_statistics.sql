-- +goose Up
-- Statistics that do not move (issue 21): the monthly and quarterly tables count
-- what happened in the period from dated facts written once, never from where a
-- case stands now. Each timeline line that counts says what it counts as
-- (counts_as: registered, departed, arrived, plan_approved, visit_done,
-- visit_missed, closed) with the case's coarse, non-personal profile when it was
-- written (country of return, programme, sex, age band at registration,
-- vulnerable or not) and its figures (the amount committed by an approval or the
-- service charge of a departure, its currency, a closure's reason). Payments carry
-- the same profile. Anonymisation keeps these columns: the statistics add up after it.
ALTER TABLE cases ADD COLUMN sex text NOT NULL DEFAULT '';
ALTER TABLE cases ADD COLUMN age_band text NOT NULL DEFAULT '';
ALTER TABLE timeline_events ADD COLUMN counts_as text NOT NULL DEFAULT '';
ALTER TABLE timeline_events ADD COLUMN country_of_return text NOT NULL DEFAULT '';
ALTER TABLE timeline_events ADD COLUMN programme text NOT NULL DEFAULT '';
ALTER TABLE timeline_events ADD COLUMN sex text NOT NULL DEFAULT '';
ALTER TABLE timeline_events ADD COLUMN age_band text NOT NULL DEFAULT '';
ALTER TABLE timeline_events ADD COLUMN vulnerable boolean NOT NULL DEFAULT false;
ALTER TABLE timeline_events ADD COLUMN amount_cents bigint NOT NULL DEFAULT 0;
ALTER TABLE timeline_events ADD COLUMN currency text NOT NULL DEFAULT '';
ALTER TABLE timeline_events ADD COLUMN reason text NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN programme text NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN sex text NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN age_band text NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN vulnerable boolean NOT NULL DEFAULT false;

-- What was written before: the profile as the case has it now; sex and age band
-- are sealed in the beneficiary, so they stay unknown.
UPDATE timeline_events SET counts_as = CASE type WHEN 'visit' THEN 'visit_done' ELSE type END
    WHERE type IN ('registered', 'departed', 'arrived', 'visit', 'visit_missed', 'closed');
-- The approving decision is a plan's last (a plan approved takes no more).
UPDATE timeline_events SET counts_as = 'plan_approved'
    WHERE type = 'plan_decision'
      AND EXISTS (SELECT 1 FROM cases c WHERE c.id = timeline_events.case_id AND c.plan_approved_at IS NOT NULL)
      AND id = (SELECT MAX(e.id) FROM timeline_events e WHERE e.case_id = timeline_events.case_id AND e.type = 'plan_decision');
UPDATE timeline_events SET
    country_of_return = (SELECT c.country_of_return FROM cases c WHERE c.id = timeline_events.case_id),
    programme = (SELECT c.programme FROM cases c WHERE c.id = timeline_events.case_id),
    vulnerable = (SELECT c.vulnerable FROM cases c WHERE c.id = timeline_events.case_id),
    sex = 'unknown', age_band = 'unknown'
    WHERE counts_as <> '';
UPDATE timeline_events SET
    amount_cents = (SELECT c.committed_cents FROM cases c WHERE c.id = timeline_events.case_id),
    currency = (SELECT c.currency FROM cases c WHERE c.id = timeline_events.case_id)
    WHERE counts_as = 'plan_approved';
UPDATE timeline_events SET
    amount_cents = (SELECT c.service_charge_cents FROM cases c WHERE c.id = timeline_events.case_id),
    currency = (SELECT c.currency FROM cases c WHERE c.id = timeline_events.case_id)
    WHERE counts_as = 'departed';
UPDATE timeline_events SET reason = (SELECT c.closure_reason FROM cases c WHERE c.id = timeline_events.case_id)
    WHERE counts_as = 'closed';
UPDATE payments SET
    programme = (SELECT c.programme FROM cases c WHERE c.id = payments.case_id),
    vulnerable = (SELECT c.vulnerable FROM cases c WHERE c.id = payments.case_id),
    sex = 'unknown', age_band = 'unknown';

-- A period's facts are read from one range of each covering index.
CREATE INDEX timeline_counted ON timeline_events (at, counts_as, country_of_return, programme, sex, age_band,
    vulnerable, currency, reason, amount_cents) WHERE counts_as <> '';
CREATE INDEX payments_statistics ON payments (paid_at, country_of_return, programme, sex, age_band, vulnerable,
    currency, amount_cents);

-- +goose Down
DROP INDEX payments_statistics;
DROP INDEX timeline_counted;
ALTER TABLE payments DROP COLUMN vulnerable;
ALTER TABLE payments DROP COLUMN age_band;
ALTER TABLE payments DROP COLUMN sex;
ALTER TABLE payments DROP COLUMN programme;
ALTER TABLE timeline_events DROP COLUMN reason;
ALTER TABLE timeline_events DROP COLUMN currency;
ALTER TABLE timeline_events DROP COLUMN amount_cents;
ALTER TABLE timeline_events DROP COLUMN vulnerable;
ALTER TABLE timeline_events DROP COLUMN age_band;
ALTER TABLE timeline_events DROP COLUMN sex;
ALTER TABLE timeline_events DROP COLUMN programme;
ALTER TABLE timeline_events DROP COLUMN country_of_return;
ALTER TABLE timeline_events DROP COLUMN counts_as;
ALTER TABLE cases DROP COLUMN age_band;
ALTER TABLE cases DROP COLUMN sex;
