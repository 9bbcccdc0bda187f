-- +goose Up
-- The case registry's outbox: each change of a case the registry must hear of,
-- written in the same transaction as the case file's change (store.Changes), and
-- sent by the worker's relay in order per case (seq), each under the idempotency
-- key <case_id>/registry/<seq>. Nothing personal: stage, status, offices, the
-- reference. Erased with the case (retention).
CREATE TABLE registry_outbox (
    case_id         text NOT NULL,
    seq             bigint NOT NULL,
    record          text NOT NULL,
    created_at      timestamptz NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    lease_owner     text NOT NULL DEFAULT '',
    lease_until     timestamptz,
    sent_at         timestamptz,
    refused         text NOT NULL DEFAULT '',
    PRIMARY KEY (case_id, seq)
);
CREATE INDEX registry_outbox_unsent ON registry_outbox (next_attempt_at) WHERE sent_at IS NULL;

-- +goose Down
DROP TABLE registry_outbox;
