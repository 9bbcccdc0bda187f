-- +goose Up
-- The fees the partners charged each case, as their answers had them (workflow
-- version 7 on), with the programme's agreed rate when there is one: the monthly
-- fee reconciliation reads a month's fees from charged_at. Nothing personal: a
-- partner kind, a partner's reference, amounts.
CREATE TABLE service_fees (
    fee_key         text PRIMARY KEY,
    case_id         text NOT NULL REFERENCES cases (id),
    partner         text NOT NULL,
    service         text NOT NULL,
    reference       text NOT NULL DEFAULT '',
    amount_cents    bigint NOT NULL,
    currency        text NOT NULL,
    agreed_cents    bigint,
    agreed_currency text NOT NULL DEFAULT '',
    charged_at      timestamptz NOT NULL
);
CREATE INDEX service_fees_charged ON service_fees (charged_at);
CREATE INDEX service_fees_case ON service_fees (case_id);

-- +goose Down
DROP TABLE service_fees;
