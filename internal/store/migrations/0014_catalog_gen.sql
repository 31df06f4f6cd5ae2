-- The generation of an organisation's definitions (collections, automations)
-- and secrets: bumped in the transaction of every change to them, so that a
-- node caching them can tell, with one small read, whether its copy is
-- still current (internal/store/gen.go).
ALTER TABLE organisations ADD COLUMN catalog_gen BIGINT NOT NULL DEFAULT 0;
