-- Operating failures (issue 11): an automation's state beside its versions.
-- failure_streak counts the runs in a row that ended failed; it is updated
-- in the transaction that finishes each run (one row, so exact under
-- concurrency and across nodes). pause_after is the current version's
-- pauseAfterFailures (0: never). paused_at is set (with paused_reason) by
-- the run whose failure reached pause_after, and cleared by resume.
ALTER TABLE automations ADD COLUMN failure_streak BIGINT NOT NULL DEFAULT 0;
ALTER TABLE automations ADD COLUMN pause_after BIGINT NOT NULL DEFAULT 20;
ALTER TABLE automations ADD COLUMN paused_at BIGINT;
ALTER TABLE automations ADD COLUMN paused_reason TEXT;
-- run_failed alerts are throttled per automation: alert_at is when the last
-- was raised, alert_failures the failed runs since (counted in the same
-- row, in the same transaction as the streak).
ALTER TABLE automations ADD COLUMN alert_at BIGINT;
ALTER TABLE automations ADD COLUMN alert_failures BIGINT NOT NULL DEFAULT 0;
-- Where alerts go, and every alert raised (one row per channel), with its
-- delivery state. Delivery is a queue job (autohook.alert) per alert.
CREATE TABLE IF NOT EXISTS alert_channels (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL,
    name       TEXT NOT NULL,
    type       TEXT NOT NULL,
    url        TEXT,
    recipients TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS alert_channels_org ON alert_channels (org_id, id);
CREATE TABLE IF NOT EXISTS alerts (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL,
    channel_id    TEXT NOT NULL,
    channel_type  TEXT NOT NULL,
    event         TEXT NOT NULL,
    payload       TEXT NOT NULL,
    status        TEXT NOT NULL,
    attempts      BIGINT NOT NULL DEFAULT 0,
    error         TEXT,
    created_at    BIGINT NOT NULL,
    sent_at       BIGINT
);
CREATE INDEX IF NOT EXISTS alerts_org ON alerts (org_id, id);
