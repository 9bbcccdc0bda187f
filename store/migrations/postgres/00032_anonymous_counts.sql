-- +goose Up
-- What the statistics count of the anonymised cases, with nothing of any one
-- case: when a case is anonymised, its counted timeline lines and its payments
-- are added to these counts, by month and by what the tables break them down
-- by, and no longer count where they were (the lines lose their profile; the
-- payments go). Nobody who holds a case's reference can find its sex, age band
-- or vulnerability, and the monthly and quarterly tables and the budgets add up
-- as before. fact is what a line counts as, or 'paid' for a payment; month is
-- the first instant of its UTC month. The cases anonymised before get theirs
-- when the API starts (store.CutAnonymisedFacts).
CREATE TABLE anonymous_counts (
    month             timestamptz NOT NULL,
    fact              text NOT NULL,
    country_of_return text NOT NULL,
    programme         text NOT NULL,
    sex               text NOT NULL,
    age_band          text NOT NULL,
    vulnerable        boolean NOT NULL,
    currency          text NOT NULL,
    reason            text NOT NULL,
    n                 bigint NOT NULL,
    cents             bigint NOT NULL,
    PRIMARY KEY (month, fact, country_of_return, programme, sex, age_band, vulnerable, currency, reason)
);
-- A period's counts are read from one range of this covering index.
CREATE INDEX anonymous_counts_month ON anonymous_counts (month, fact, country_of_return, programme, sex, age_band,
    vulnerable, currency, reason, n, cents);

-- +goose Down
DROP TABLE anonymous_counts;
