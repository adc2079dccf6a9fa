-- Accounts, sessions, grid scopes, the audit chain, and the blind index of ID numbers.
-- residents.id_number and residents.phone now hold AEAD ciphertext (see
-- server/src/personal/crypto.rs for the format); id_number_bidx is the keyed hash used
-- for exact lookup.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL,
    mediation_org TEXT,
    created_at    INTEGER NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE user_grids (
    user_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    grid_code TEXT NOT NULL,
    PRIMARY KEY (user_id, grid_code)
);
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    role      TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    reason    TEXT,
    client    TEXT,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
ALTER TABLE residents ADD COLUMN id_number_bidx TEXT;
CREATE INDEX residents_bidx ON residents (id_number_bidx);
CREATE INDEX residents_household ON residents (household_id);
