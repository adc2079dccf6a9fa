-- The closed loop's write path: per-year event sequences, idempotency records, the
-- change outbox the live feed replays from, and photos. History stays in event_steps,
-- which is only ever appended to.
CREATE TABLE event_sequences (
    year BIGINT PRIMARY KEY,
    next BIGINT NOT NULL
);
CREATE TABLE idempotency_keys (
    key        TEXT PRIMARY KEY,
    event_code TEXT NOT NULL,
    request    TEXT NOT NULL,
    response   TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE event_changes (
    seq        BIGSERIAL PRIMARY KEY,
    event_code TEXT NOT NULL,
    action     TEXT NOT NULL,
    payload    TEXT NOT NULL,
    at         BIGINT NOT NULL
);
CREATE TABLE event_photos (
    id           BIGSERIAL PRIMARY KEY,
    event_code   TEXT NOT NULL,
    content_type TEXT NOT NULL,
    width        BIGINT NOT NULL,
    height       BIGINT NOT NULL,
    bytes        BYTEA NOT NULL,
    thumb        BYTEA NOT NULL,
    uploaded_at  BIGINT NOT NULL
);
CREATE INDEX event_photos_event ON event_photos (event_code);
