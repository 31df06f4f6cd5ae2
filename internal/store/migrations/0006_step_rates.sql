-- The rate of call_api steps with maxPerSecond, shared by every node: per
-- (automation, step), the GCRA "theoretical arrival time" (microseconds
-- since the Unix epoch) after the last slot handed out, and the interval
-- between slots it was computed with. Rows hold no history: a lost row only
-- forgets the last slot.
CREATE TABLE IF NOT EXISTS step_rates (
    org_id        TEXT NOT NULL,
    automation_id TEXT NOT NULL,
    step_id       TEXT NOT NULL,
    interval_us   BIGINT NOT NULL,
    tat           BIGINT NOT NULL,
    PRIMARY KEY (org_id, automation_id, step_id)
);
