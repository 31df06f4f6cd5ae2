-- Idempotency keys of API writes (the Idempotency-Key header of
-- POST /collections/{key}/records): written in the transaction of the
-- record they created, so a client that retries after an answer it did not
-- get (a 503 while the commit's outcome was unknown, a dropped connection)
-- gets the same record instead of a second one. Kept a day, then pruned.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    org_id       TEXT NOT NULL,
    idem_key     TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    record_id    TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (org_id, idem_key)
);
CREATE INDEX IF NOT EXISTS idempotency_keys_created ON idempotency_keys (created_at);
