-- Key groups on the six lists (六大清单) with tracking and help (跟踪帮扶): one row per
-- person and list (a resident may be on two lists), with the responsible grid worker
-- and police officer (ids of grid_forces), the follow-up plan (a visit every N days),
-- the status (stable / attention / alert) and the record of visits, counselling and
-- help. Names, ID numbers and phones stay in residents: these rows hold only codes.
CREATE TABLE key_group_people (
    id               TEXT PRIMARY KEY,
    resident_id      TEXT NOT NULL,
    list             TEXT NOT NULL,
    grid_code        TEXT NOT NULL,
    worker_id        TEXT NOT NULL,
    police_id        TEXT NOT NULL,
    visit_every_days BIGINT NOT NULL,
    status           TEXT NOT NULL,
    enrolled_at      BIGINT NOT NULL,
    last_visit_at    BIGINT,
    version          BIGINT NOT NULL
);
CREATE INDEX key_group_people_grid ON key_group_people (grid_code);
CREATE INDEX key_group_people_resident ON key_group_people (resident_id);
CREATE TABLE key_group_visits (
    id           TEXT PRIMARY KEY,
    person_id    TEXT NOT NULL,
    at           BIGINT NOT NULL,
    kind         TEXT NOT NULL,
    actor        TEXT NOT NULL,
    status_after TEXT NOT NULL,
    note         TEXT NOT NULL
);
CREATE INDEX key_group_visits_person ON key_group_visits (person_id, at);
