-- Teams: roles for people and API keys, invitations, the audit log.
-- Every existing user (the first organisation's admin) and API key becomes
-- an owner: they could do everything before roles.
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'owner';
ALTER TABLE api_keys ADD COLUMN role TEXT NOT NULL DEFAULT 'owner';
CREATE INDEX IF NOT EXISTS users_org ON users (org_id, id);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id);

-- Invitations, by the SHA-256 of their token; used once, before expires_at.
CREATE TABLE IF NOT EXISTS invitations (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL,
    email      TEXT NOT NULL,
    role       TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX IF NOT EXISTS invitations_org ON invitations (org_id, id);

-- The audit log: one row per change, inserted in the change's own
-- transaction. Ids sort by time (ULIDs), which paging and pruning use.
CREATE TABLE IF NOT EXISTS audit_log (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL,
    at          BIGINT NOT NULL,
    actor_type  TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    actor_name  TEXT NOT NULL,
    action      TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    target_name TEXT NOT NULL,
    details     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_org ON audit_log (org_id, id);
CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at);
