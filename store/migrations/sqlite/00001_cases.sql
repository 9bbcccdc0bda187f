-- +goose Up
-- Case numbers come from a counter, so references are short and the list has a stable order.
CREATE TABLE counters (
    name  text PRIMARY KEY,
    value bigint NOT NULL
);

CREATE TABLE cases (
    id               text PRIMARY KEY,
    seq              bigint NOT NULL UNIQUE,
    reference        text NOT NULL UNIQUE,
    idempotency_key  text UNIQUE,
    status           text NOT NULL,
    stage            text NOT NULL,
    waiting_on       text NOT NULL DEFAULT '',
    stage_entered_at datetime NOT NULL,
    stage_due_at     datetime,
    overdue          boolean NOT NULL DEFAULT 0,
    closure_reason   text NOT NULL DEFAULT '',
    blocked          text NOT NULL DEFAULT '',
    host_country     text NOT NULL,
    country_of_return text NOT NULL,
    area_region      text NOT NULL DEFAULT '',
    area_district    text NOT NULL DEFAULT '',
    sending_office   text NOT NULL,
    receiving_office text NOT NULL,
    programme        text NOT NULL,
    vulnerable       boolean NOT NULL DEFAULT 0,
    beneficiary      text NOT NULL,
    household        text NOT NULL,
    vulnerabilities  text NOT NULL,
    consent          text NOT NULL,
    state            text NOT NULL DEFAULT '{}',
    state_seq        bigint NOT NULL DEFAULT 0,
    committed_cents  bigint NOT NULL DEFAULT 0,
    service_charge_cents bigint NOT NULL DEFAULT 0,
    currency         text NOT NULL,
    created_by       text NOT NULL,
    workflow_id      text NOT NULL UNIQUE,
    run_id           text NOT NULL DEFAULT '',
    created_at       datetime NOT NULL,
    updated_at       datetime NOT NULL,
    plan_approved_at datetime,
    departed_at      datetime,
    closed_at        datetime
);
-- The list is newest first (by seq), with filters: each filter has an index that ends in that order.
CREATE INDEX cases_created_at ON cases (created_at);
CREATE INDEX cases_departed_at ON cases (departed_at);
CREATE INDEX cases_plan_approved_at ON cases (plan_approved_at);
CREATE INDEX cases_closed_at ON cases (closed_at);
CREATE INDEX cases_active_updated ON cases (updated_at) WHERE status = 'active';
CREATE INDEX cases_stage_seq ON cases (stage, seq DESC);
CREATE INDEX cases_status_seq ON cases (status, seq DESC);
CREATE INDEX cases_country_seq ON cases (country_of_return, seq DESC);
CREATE INDEX cases_sending_seq ON cases (sending_office, seq DESC);
CREATE INDEX cases_receiving_seq ON cases (receiving_office, seq DESC);
CREATE INDEX cases_waiting_due ON cases (waiting_on, stage_due_at) WHERE status = 'active';
CREATE INDEX cases_overdue ON cases (stage_due_at) WHERE overdue = 1;

CREATE TABLE timeline_events (
    id          integer PRIMARY KEY AUTOINCREMENT,
    case_id     text NOT NULL REFERENCES cases (id),
    event_key   text NOT NULL UNIQUE,
    type        text NOT NULL,
    actor_user  text NOT NULL DEFAULT '',
    actor_role  text NOT NULL DEFAULT '',
    summary     text NOT NULL,
    at          datetime NOT NULL
);
CREATE INDEX timeline_case ON timeline_events (case_id, at, id);

CREATE TABLE payments (
    payment_id   text PRIMARY KEY,
    case_id      text NOT NULL REFERENCES cases (id),
    item_id      text NOT NULL,
    amount_cents bigint NOT NULL,
    currency     text NOT NULL,
    payee        text NOT NULL,
    paid_at      datetime NOT NULL,
    UNIQUE (case_id, item_id)
);
CREATE INDEX payments_paid ON payments (paid_at);

CREATE TABLE idempotent_requests (
    key          text PRIMARY KEY,
    fingerprint  text NOT NULL,
    status       integer NOT NULL,
    body         text NOT NULL,
    created_at   datetime NOT NULL
);

-- +goose Down
DROP TABLE idempotent_requests;
DROP TABLE payments;
DROP TABLE timeline_events;
DROP TABLE cases;
DROP TABLE counters;
