-- Case ownership and the steps of the closed loop the source names (issue 20): every
-- accepted event has an owner account and an owning unit; large-risk events a
-- case-package leader (包案领导); leaders supervise (督办); closure records the
-- reporter's satisfaction; an event may be closed as a duplicate of another; follow-up
-- visits (回访) and joint reviews (会商) are kept in their own tables; alerts_read holds
-- which alerts each account has read. Every new events column is nullable, so import
-- files without them still load.
ALTER TABLE events ADD COLUMN owner TEXT;
ALTER TABLE events ADD COLUMN owner_display TEXT;
ALTER TABLE events ADD COLUMN owner_unit_kind TEXT;
ALTER TABLE events ADD COLUMN owner_unit TEXT;
ALTER TABLE events ADD COLUMN case_leader TEXT;
ALTER TABLE events ADD COLUMN supervision_note TEXT;
ALTER TABLE events ADD COLUMN supervision_deadline TEXT;
ALTER TABLE events ADD COLUMN supervision_by TEXT;
ALTER TABLE events ADD COLUMN supervision_at BIGINT;
ALTER TABLE events ADD COLUMN satisfaction TEXT;
ALTER TABLE events ADD COLUMN duplicate_of TEXT;
ALTER TABLE events ADD COLUMN next_visit TEXT;
ALTER TABLE events ADD COLUMN large_since BIGINT;
CREATE INDEX events_owner ON events (owner);
CREATE INDEX event_steps_actor ON event_steps (actor, at);
ALTER TABLE users ADD COLUMN display_name TEXT;
CREATE TABLE event_visits (
    id         BIGSERIAL PRIMARY KEY,
    event_code TEXT NOT NULL,
    at         BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    next_visit TEXT,
    by_user    TEXT NOT NULL
);
CREATE INDEX event_visits_event ON event_visits (event_code);
CREATE TABLE event_reviews (
    id           BIGSERIAL PRIMARY KEY,
    event_code   TEXT NOT NULL,
    at           BIGINT NOT NULL,
    participants TEXT NOT NULL,
    conclusion   TEXT NOT NULL,
    by_user      TEXT NOT NULL,
    recorded_at  BIGINT NOT NULL
);
CREATE INDEX event_reviews_event ON event_reviews (event_code);
CREATE TABLE alerts_read (
    user_id    BIGINT NOT NULL,
    event_code TEXT NOT NULL,
    kind       TEXT NOT NULL,
    alert_at   BIGINT NOT NULL,
    read_at    BIGINT NOT NULL,
    PRIMARY KEY (user_id, event_code, kind, alert_at)
);
