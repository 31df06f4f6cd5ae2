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
