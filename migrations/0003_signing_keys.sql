-- Managed signing keys (KEY_MODE "managed"): the whole key set as one
-- document, replaced by compare-and-swap on `version` (docs/storage.md).
CREATE TABLE IF NOT EXISTS key_set (
    id          INTEGER PRIMARY KEY CHECK (id = 1),   -- a single row
    version     INTEGER NOT NULL,                      -- +1 on every write
    keys        TEXT NOT NULL,                         -- JSON [ManagedKey], private parts sealed
    updated_at  INTEGER NOT NULL                       -- Unix seconds
);
