-- Who saved each automation version, and the version a restore copied:
-- saved_by is a JSON actor, {"type":"api_key"|"user","id","name"} (NULL for
-- versions saved before it was kept, or by tools); the audit log of the
-- teams issue names its actors the same way.
ALTER TABLE automation_versions ADD COLUMN saved_by TEXT;
ALTER TABLE automation_versions ADD COLUMN restored_from BIGINT;
