-- The closed loop's write path: per-year event sequences, idempotency records, the
-- change outbox the live feed replays from, and photos. History stays in event_steps,
-- which is only ever appended to.
CREATE TABLE event_sequences (
    year INTEGER PRIMARY KEY,
    next INTEGER NOT NULL
);
CREATE TABLE idempotency_keys (
    key        TEXT PRIMARY KEY,
    event_code TEXT NOT NULL,
    request    TEXT NOT NULL,
    response   TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE event_changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    event_code TEXT NOT NULL,
    action     TEXT NOT NULL,
    payload    TEXT NOT NULL,
    at         INTEGER NOT NULL
);
CREATE TABLE event_photos (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    event_code   TEXT NOT NULL,
    content_type TEXT NOT NULL,
    width        INTEGER NOT NULL,
    height       INTEGER NOT NULL,
    bytes        BLOB NOT NULL,
    thumb        BLOB NOT NULL,
    uploaded_at  INTEGER NOT NULL
);
CREATE INDEX event_photos_event ON event_photos (event_code);
