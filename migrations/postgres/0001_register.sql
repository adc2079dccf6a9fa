CREATE EXTENSION IF NOT EXISTS postgis;

-- The unified address register, the records linked to it, and the events.
-- PostGIS flavour: the same columns as the embedded store, plus real geometry columns
-- (SRID 4326) generated from them, with GiST indexes for ad-hoc spatial SQL.
-- Integers are epoch seconds or counts; the in-memory index is built from these tables.
CREATE TABLE areas (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    level       TEXT NOT NULL CHECK (level IN ('district', 'township', 'community', 'grid')),
    parent_code TEXT,
    kind        TEXT NOT NULL,
    geojson     TEXT NOT NULL,
    geom        geometry(MultiPolygon, 4326)
                GENERATED ALWAYS AS (ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON(geojson), 4326))) STORED
);
CREATE INDEX areas_geom ON areas USING GIST (geom);
CREATE TABLE roads (
    id      BIGINT PRIMARY KEY,
    name    TEXT NOT NULL,
    class   TEXT NOT NULL,
    geojson TEXT NOT NULL,
    geom    geometry(LineString, 4326)
            GENERATED ALWAYS AS (ST_SetSRID(ST_GeomFromGeoJSON(geojson), 4326)) STORED
);
CREATE INDEX roads_geom ON roads USING GIST (geom);
CREATE TABLE buildings (
    code          TEXT PRIMARY KEY,
    label         TEXT NOT NULL,
    grid_code     TEXT NOT NULL,
    road          TEXT,
    door          BIGINT,
    compound      TEXT,
    building_no   BIGINT,
    village_group BIGINT,
    house_no      BIGINT,
    kind          TEXT NOT NULL,
    floors        BIGINT NOT NULL,
    lon           DOUBLE PRECISION NOT NULL,
    lat           DOUBLE PRECISION NOT NULL,
    geom          geometry(Point, 4326)
                  GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)) STORED
);
CREATE INDEX buildings_geom ON buildings USING GIST (geom);
CREATE TABLE units (
    code          TEXT PRIMARY KEY,
    building_code TEXT NOT NULL,
    unit_no       BIGINT,
    floor         BIGINT,
    room          BIGINT,
    label         TEXT NOT NULL
);
CREATE INDEX units_building ON units (building_code);
CREATE TABLE housing (
    id           TEXT PRIMARY KEY,
    address      TEXT NOT NULL,
    address_code TEXT,
    link         TEXT NOT NULL,
    floor_area   DOUBLE PRECISION,
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
    employees    BIGINT NOT NULL,
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
    lon                   DOUBLE PRECISION NOT NULL,
    lat                   DOUBLE PRECISION NOT NULL,
    address_code          TEXT,
    grid_code             TEXT NOT NULL,
    reported_at           BIGINT NOT NULL,
    deadline              BIGINT NOT NULL,
    mediation_org         TEXT,
    diversion             TEXT,
    resolved_by_mediation BIGINT NOT NULL,
    escalated             BIGINT NOT NULL,
    closed_at             BIGINT,
    version               BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL,
    geom                  geometry(Point, 4326)
                          GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)) STORED
);
CREATE INDEX events_geom ON events USING GIST (geom);
CREATE INDEX events_grid ON events (grid_code);
CREATE INDEX events_reported ON events (reported_at);
CREATE TABLE event_steps (
    event_code  TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    from_status TEXT,
    to_status   TEXT NOT NULL,
    note        TEXT NOT NULL,
    PRIMARY KEY (event_code, seq)
);
CREATE TABLE import_reports (
    id              BIGSERIAL PRIMARY KEY,
    file            TEXT NOT NULL,
    imported_at     BIGINT NOT NULL,
    encoding        TEXT NOT NULL,
    rows_total      BIGINT NOT NULL,
    rows_loaded     BIGINT NOT NULL,
    rows_duplicate  BIGINT NOT NULL,
    rows_rejected   BIGINT NOT NULL,
    linked_unit     BIGINT NOT NULL,
    linked_building BIGINT NOT NULL,
    ambiguous       BIGINT NOT NULL,
    unmatched       BIGINT NOT NULL,
    pending         BIGINT NOT NULL
);
CREATE TABLE import_errors (
    report_id BIGINT NOT NULL,
    line      BIGINT NOT NULL,
    message   TEXT NOT NULL
);
