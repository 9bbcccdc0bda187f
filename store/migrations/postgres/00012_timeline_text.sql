-- +goose Up
-- What a person wrote with an action (counselling and visit notes, clearance,
-- plan-decision and withdrawal comments, a transfer's reason): sealed at rest
-- under the name timeline_events.text, like the case's other sensitive columns;
-- empty for the lines that carry none. Anonymisation empties it.
ALTER TABLE timeline_events ADD COLUMN text text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE timeline_events DROP COLUMN text;
