-- Secret rotation: the pending secret's hash, and the last four characters
-- of each secret (docs/storage.md).
ALTER TABLE clients ADD COLUMN secret_last_four TEXT;
ALTER TABLE clients ADD COLUMN next_secret_hash TEXT;
ALTER TABLE clients ADD COLUMN next_secret_last_four TEXT;

-- API resources: the audiences tokens are issued for, and their scopes.
CREATE TABLE IF NOT EXISTS resources (
    id          TEXT PRIMARY KEY,          -- "api_" + 32 hex digits
    identifier  TEXT NOT NULL UNIQUE,      -- absolute URI; the tokens' aud
    name        TEXT NOT NULL,
    scopes      TEXT NOT NULL,             -- JSON [{"name": "...", "description": "..."}]
    token_ttl   INTEGER,                   -- seconds; caps tokens for this audience
    created_at  INTEGER NOT NULL,          -- Unix seconds
    updated_at  INTEGER NOT NULL           -- Unix seconds
);
