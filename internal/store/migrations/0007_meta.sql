-- Facts about the installation as a whole, by name. 'key_check' is a
-- constant sealed with the key that seals secrets (internal/keyring): a node
-- whose key does not open it refuses to start. 'probe' is the row the
-- readiness probe writes while the database refuses writes.
CREATE TABLE IF NOT EXISTS autohook_meta (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
