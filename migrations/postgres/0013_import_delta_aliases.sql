-- Monthly deltas (issue 23): what each import file updated and retired, and the keys
-- of retired records (so retiring again is a repeat, not an unknown key).
ALTER TABLE import_reports ADD COLUMN rows_updated BIGINT NOT NULL DEFAULT 0;
ALTER TABLE import_reports ADD COLUMN rows_retired BIGINT NOT NULL DEFAULT 0;
CREATE TABLE import_retired (
    kind       TEXT NOT NULL,
    record_id  TEXT NOT NULL,
    retired_at BIGINT NOT NULL,
    file       TEXT NOT NULL,
    PRIMARY KEY (kind, record_id)
);
-- The road aliases and old names the centre keeps (address/src/alias.rs), edited over
-- the API by leaders and admins.
CREATE TABLE address_aliases (
    alias      TEXT PRIMARY KEY,
    canonical  TEXT NOT NULL,
    added_by   TEXT NOT NULL,
    added_at   BIGINT NOT NULL
);
