-- Autohook schema, portable between SQLite and PostgreSQL: TEXT, BIGINT,
-- INTEGER and BOOLEAN columns; times are microseconds since the Unix epoch;
-- JSON is stored as text; ids are prefixed ULIDs (time-ordered).

CREATE TABLE IF NOT EXISTS organisations (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS api_keys (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL,
    name           TEXT NOT NULL,
    prefix         TEXT NOT NULL,
    hash           TEXT NOT NULL UNIQUE,
    instance_admin BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     BIGINT NOT NULL,
    last_used_at   BIGINT,
    revoked_at     BIGINT
);
CREATE INDEX IF NOT EXISTS api_keys_org ON api_keys (org_id, id);

CREATE TABLE IF NOT EXISTS collections (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL,
    coll_key   TEXT NOT NULL,
    name       TEXT NOT NULL,
    fields     TEXT NOT NULL,
    stages     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (org_id, coll_key)
);

CREATE TABLE IF NOT EXISTS records (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL,
    collection TEXT NOT NULL,
    stage      TEXT NOT NULL,
    fields     TEXT NOT NULL,
    version    BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_collection ON records (org_id, collection, id);

CREATE TABLE IF NOT EXISTS automations (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL,
    collection   TEXT NOT NULL,
    name         TEXT NOT NULL,
    enabled      BOOLEAN NOT NULL,
    trigger_type TEXT NOT NULL,
    version      BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS automations_collection ON automations (org_id, collection, id);

-- Every saved version of an automation, immutable: runs keep the version
-- they started with.
CREATE TABLE IF NOT EXISTS automation_versions (
    automation_id  TEXT NOT NULL,
    version        BIGINT NOT NULL,
    org_id         TEXT NOT NULL,
    doc            TEXT NOT NULL,
    signing_secret TEXT,
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (automation_id, version)
);

CREATE TABLE IF NOT EXISTS runs (
    id                 TEXT PRIMARY KEY,
    org_id             TEXT NOT NULL,
    automation_id      TEXT NOT NULL,
    automation_version BIGINT NOT NULL,
    record_id          TEXT NOT NULL,
    collection         TEXT NOT NULL,
    trigger_type       TEXT NOT NULL,
    trigger_at         BIGINT NOT NULL,
    status             TEXT NOT NULL,
    seq                BIGINT NOT NULL,
    depth              INTEGER NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    finished_at        BIGINT,
    next_attempt_at    BIGINT,
    fields             TEXT NOT NULL,
    steps              TEXT NOT NULL,
    record             TEXT NOT NULL,
    previous           TEXT,
    error_class        TEXT,
    error_message      TEXT
);
CREATE INDEX IF NOT EXISTS runs_automation ON runs (org_id, automation_id, id);
CREATE INDEX IF NOT EXISTS runs_record ON runs (org_id, record_id, id);

CREATE TABLE IF NOT EXISTS attempts (
    run_id        TEXT NOT NULL,
    step          INTEGER NOT NULL,
    n             INTEGER NOT NULL,
    started_at    BIGINT NOT NULL,
    duration_us   BIGINT NOT NULL,
    request       TEXT,
    response      TEXT,
    error_class   TEXT,
    error_message TEXT,
    fields        TEXT,
    PRIMARY KEY (run_id, step, n)
);

CREATE TABLE IF NOT EXISTS secrets (
    org_id     TEXT NOT NULL,
    name       TEXT NOT NULL,
    value      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, name)
);

-- One row per (record_due automation, record) whose due time is still ahead.
CREATE TABLE IF NOT EXISTS due_triggers (
    automation_id TEXT NOT NULL,
    record_id     TEXT NOT NULL,
    org_id        TEXT NOT NULL,
    due_at        BIGINT NOT NULL,
    due_value     TEXT NOT NULL,
    PRIMARY KEY (automation_id, record_id)
);
CREATE INDEX IF NOT EXISTS due_triggers_at ON due_triggers (due_at);
