-- The forces on the ground: patrol teams, their members and patrols (with GPS tracks),
-- the 1+1+4+N forces of every grid, the grid work list (admission catalogue) and the
-- admitted tasks dispatched to grids with their history. Phones are stored encrypted
-- (personal::crypto), like residents'.
CREATE TABLE patrol_teams (
    code      TEXT PRIMARY KEY,
    name      TEXT NOT NULL,
    kind      TEXT NOT NULL,
    area_code TEXT NOT NULL
);
CREATE TABLE patrol_members (
    id        TEXT PRIMARY KEY,
    team_code TEXT NOT NULL,
    name      TEXT NOT NULL,
    phone     TEXT,
    duty      TEXT NOT NULL
);
CREATE INDEX patrol_members_team ON patrol_members (team_code);
CREATE TABLE patrols (
    code       TEXT PRIMARY KEY,
    team_code  TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    ended_at   INTEGER NOT NULL,
    findings   TEXT NOT NULL,
    logged_by  TEXT,
    geojson    TEXT NOT NULL
);
CREATE INDEX patrols_started ON patrols (started_at);
CREATE TABLE grid_forces (
    id        TEXT PRIMARY KEY,
    grid_code TEXT NOT NULL,
    role      TEXT NOT NULL,
    name      TEXT NOT NULL,
    phone     TEXT,
    full_time INTEGER NOT NULL
);
CREATE INDEX grid_forces_grid ON grid_forces (grid_code);
CREATE TABLE work_items (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    department  TEXT NOT NULL,
    legal_basis TEXT NOT NULL,
    frequency   TEXT NOT NULL,
    minutes     INTEGER NOT NULL
);
CREATE TABLE grid_tasks (
    code        TEXT PRIMARY KEY,
    grid_code   TEXT NOT NULL,
    item_code   TEXT NOT NULL,
    assignee_id TEXT,
    note        TEXT NOT NULL,
    status      TEXT NOT NULL,
    due_at      INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    created_by  TEXT NOT NULL,
    version     INTEGER NOT NULL
);
CREATE INDEX grid_tasks_grid ON grid_tasks (grid_code);
CREATE TABLE grid_task_steps (
    task_code TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    at        INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    note      TEXT NOT NULL,
    PRIMARY KEY (task_code, seq)
);
