-- +goose Up
-- What the statistics count of an anonymised case, cut from the case: when a
-- case is anonymised, its counted timeline lines and its payments are copied
-- here (their dates, coarse profile and figures, no case ID) and no longer count
-- where they were (the lines lose their profile; the payments go), so nobody
-- who holds a case's reference can find its sex, age band or vulnerability, and
-- the statistics add up as before. fact is what it counts as: a counted line's
-- counts_as, or 'paid' for a payment.
CREATE TABLE anonymous_facts (
    id                integer PRIMARY KEY AUTOINCREMENT,
    fact              text NOT NULL,
    at                datetime NOT NULL,
    country_of_return text NOT NULL,
    programme         text NOT NULL,
    sex               text NOT NULL,
    age_band          text NOT NULL,
    vulnerable        boolean NOT NULL,
    currency          text NOT NULL,
    reason            text NOT NULL,
    amount_cents      bigint NOT NULL
);
-- A period's facts are read from one range of this covering index.
CREATE INDEX anonymous_facts_at ON anonymous_facts (at, fact, country_of_return, programme, sex, age_band,
    vulnerable, currency, reason, amount_cents);

-- The cases anonymised before.
INSERT INTO anonymous_facts (fact, at, country_of_return, programme, sex, age_band, vulnerable, currency, reason, amount_cents)
    SELECT e.counts_as, e.at, e.country_of_return, e.programme, e.sex, e.age_band, e.vulnerable, e.currency, e.reason, e.amount_cents
    FROM timeline_events e JOIN cases c ON c.id = e.case_id WHERE c.anonymised_at IS NOT NULL AND e.counts_as <> '';
UPDATE timeline_events SET counts_as = '', country_of_return = '', programme = '', sex = '', age_band = '',
    vulnerable = false, currency = '', reason = '', amount_cents = 0
    WHERE counts_as <> '' AND case_id IN (SELECT id FROM cases WHERE anonymised_at IS NOT NULL);
INSERT INTO anonymous_facts (fact, at, country_of_return, programme, sex, age_band, vulnerable, currency, reason, amount_cents)
    SELECT 'paid', p.paid_at, p.country_of_return, p.programme, p.sex, p.age_band, p.vulnerable, p.currency, '', p.amount_cents
    FROM payments p JOIN cases c ON c.id = p.case_id WHERE c.anonymised_at IS NOT NULL;
DELETE FROM payments WHERE case_id IN (SELECT id FROM cases WHERE anonymised_at IS NOT NULL);
UPDATE cases SET vulnerable = false WHERE anonymised_at IS NOT NULL;

-- +goose Down
DROP TABLE anonymous_facts;
