-- Live events across replicas (internal/events/pgevents): one counter that numbers
-- every event in commit order, so a Last-Event-ID means the same on every replica,
-- and the bodies of events too large for a NOTIFY payload (8000 bytes).

-- +goose Up
CREATE TABLE event_seq (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    id  bigint NOT NULL
);
INSERT INTO event_seq (id) VALUES (0);

CREATE TABLE event_payloads (
    id         bigint PRIMARY KEY,
    payload    text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE event_payloads;
DROP TABLE event_seq;
