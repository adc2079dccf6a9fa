-- Review of address links: every resolution of a record's link by a person, kept with
-- the old and new code and link; and indexes for listing the review queue by status.
CREATE TABLE link_resolutions (
    id          BIGSERIAL PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('residents', 'housing', 'enterprises')),
    record_id   TEXT NOT NULL,
    old_code    TEXT,
    old_link    TEXT NOT NULL,
    new_code    TEXT NOT NULL,
    new_link    TEXT NOT NULL,
    note        TEXT NOT NULL DEFAULT '',
    resolved_by TEXT,
    resolved_at BIGINT NOT NULL
);
CREATE INDEX link_resolutions_record ON link_resolutions (kind, record_id);
CREATE INDEX residents_link ON residents (link);
CREATE INDEX housing_link ON housing (link);
CREATE INDEX enterprises_link ON enterprises (link);
