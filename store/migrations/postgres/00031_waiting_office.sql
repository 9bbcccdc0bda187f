-- +goose Up
-- The one office whose people a case waits on, when only one of its offices may
-- answer the wait (contract.CaseState.WaitingOffice: a donor's decision, a price,
-- a payment's validation are the sending office's); '' when either may. The inbox
-- lists the case to that office alone. Cases written before get it at their next
-- write ('' until then: either office, as before).
ALTER TABLE cases ADD COLUMN waiting_office text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE cases DROP COLUMN waiting_office;
