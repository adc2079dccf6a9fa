-- The unified address register, the records linked to it, and the events.
-- Integers are epoch seconds or counts; the in-memory index is built from these tables.
CREATE TABLE areas (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    level       TEXT NOT NULL CHECK (level IN ('district', 'township', 'community', 'grid')),
    parent_code TEXT,
    kind        TEXT NOT NULL,
    geojson     TEXT NOT NULL
);
CREATE TABLE roads (
    id      INTEGER PRIMARY KEY,
    name    TEXT NOT NULL,
    class   TEXT NOT NULL,
    geojson TEXT NOT NULL
);
CREATE TABLE buildings (
    code          TEXT PRIMARY KEY,
    label         TEXT NOT NULL,
    grid_code     TEXT NOT NULL,
    road          TEXT,
    door          INTEGER,
    compound      TEXT,
    building_no   INTEGER,
    village_group INTEGER,
    house_no      INTEGER,
    kind          TEXT NOT NULL,
    floors        INTEGER NOT NULL,
    lon           REAL NOT NULL,
    lat           REAL NOT NULL
);
CREATE TABLE units (
    code          TEXT PRIMARY KEY,
    building_code TEXT NOT NULL,
    unit_no       INTEGER,
    floor         INTEGER,
    room          INTEGER,
    label         TEXT NOT NULL
);
CREATE INDEX units_building ON units (building_code);
CREATE TABLE housing (
    id           TEXT PRIMARY KEY,
    address      TEXT NOT NULL,
    address_code TEXT,
    link         TEXT NOT NULL,
    floor_area   REAL,
    occupancy    TEXT NOT NULL
);
CREATE INDEX housing_address ON housing (address_code);
CREATE TABLE residents (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    sex          TEXT NOT NULL,
    birth_date   TEXT NOT NULL,
    id_number    TEXT NOT NULL,
    phone        TEXT,
    registration TEXT NOT NULL,
    household_id TEXT,
    relation     TEXT,
    address      TEXT NOT NULL,
    address_code TEXT,
    link         TEXT NOT NULL,
    key_groups   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX residents_address ON residents (address_code);
CREATE TABLE enterprises (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    credit_code  TEXT NOT NULL,
    industry     TEXT NOT NULL,
    size         TEXT NOT NULL,
    employees    INTEGER NOT NULL,
    address      TEXT NOT NULL,
    address_code TEXT,
    link         TEXT NOT NULL
);
CREATE TABLE events (
    code                  TEXT PRIMARY KEY,
    category              TEXT NOT NULL,
    source                TEXT NOT NULL,
    status                TEXT NOT NULL,
    risk_tier             TEXT NOT NULL,
    title                 TEXT NOT NULL,
    description           TEXT NOT NULL,
    lon                   REAL NOT NULL,
    lat                   REAL NOT NULL,
    address_code          TEXT,
    grid_code             TEXT NOT NULL,
    reported_at           INTEGER NOT NULL,
    deadline              INTEGER NOT NULL,
    mediation_org         TEXT,
    diversion             TEXT,
    resolved_by_mediation INTEGER NOT NULL,
    escalated             INTEGER NOT NULL,
    closed_at             INTEGER,
    version               INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
);
CREATE INDEX events_grid ON events (grid_code);
CREATE INDEX events_reported ON events (reported_at);
CREATE TABLE event_steps (
    event_code  TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    from_status TEXT,
    to_status   TEXT NOT NULL,
    note        TEXT NOT NULL,
    PRIMARY KEY (event_code, seq)
);
CREATE TABLE import_reports (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    file            TEXT NOT NULL,
    imported_at     INTEGER NOT NULL,
    encoding        TEXT NOT NULL,
    rows_total      INTEGER NOT NULL,
    rows_loaded     INTEGER NOT NULL,
    rows_duplicate  INTEGER NOT NULL,
    rows_rejected   INTEGER NOT NULL,
    linked_unit     INTEGER NOT NULL,
    linked_building INTEGER NOT NULL,
    ambiguous       INTEGER NOT NULL,
    unmatched       INTEGER NOT NULL,
    pending         INTEGER NOT NULL
);
CREATE TABLE import_errors (
    report_id INTEGER NOT NULL,
    line      INTEGER NOT NULL,
    message   TEXT NOT NULL
);
