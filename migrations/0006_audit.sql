-- The audit trail (docs/storage.md): one row per admin change, and failed
-- admin authentications counted per minute. Pruned by the Cron Trigger
-- (AUDIT_RETENTION_DAYS; minute counts after at most 7 days).
CREATE TABLE IF NOT EXISTS audit_events (
    id             TEXT PRIMARY KEY,   -- 14-digit Unix milliseconds, "-", 16 hex digits: sorts by time
    at             INTEGER NOT NULL,   -- Unix seconds
    actor          TEXT NOT NULL,      -- "root" or the admin client's id
    project_id     TEXT,               -- the project the change concerns, if any (no foreign key: events outlive projects)
    action         TEXT NOT NULL,      -- e.g. client.create, client.rotation.start, keys.rotate
    target         TEXT NOT NULL,      -- the id of what was changed
    changed_fields TEXT NOT NULL       -- JSON array of field names (never values)
);
CREATE INDEX IF NOT EXISTS audit_by_project ON audit_events (project_id, id);
CREATE INDEX IF NOT EXISTS audit_by_time ON audit_events (at);
CREATE TABLE IF NOT EXISTS audit_auth_failures (
    minute INTEGER PRIMARY KEY,        -- Unix seconds / 60
    count  INTEGER NOT NULL
);
