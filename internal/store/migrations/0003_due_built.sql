-- The version of a record_due automation whose due rows have been built:
-- when it is behind the automation's version, the scanner builds them.
ALTER TABLE automations ADD COLUMN due_version BIGINT NOT NULL DEFAULT 0;
