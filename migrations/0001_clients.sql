-- Client registry (docs/storage.md describes every column).
CREATE TABLE IF NOT EXISTS clients (
    id            TEXT PRIMARY KEY,                 -- "m2m_" + 32 hex digits
    name          TEXT NOT NULL,
    description   TEXT,
    grants        TEXT NOT NULL,                    -- JSON [{"audience": "...", "scopes": ["..."]}]
    custom_claims TEXT NOT NULL DEFAULT '{}',       -- JSON object
    token_ttl     INTEGER,                          -- seconds; NULL = DEFAULT_TOKEN_TTL
    status        TEXT NOT NULL CHECK (status IN ('active', 'inactive')),
    secret_hash   TEXT NOT NULL,                    -- hex SHA-256 of the client secret
    created_at    INTEGER NOT NULL,                 -- Unix seconds
    updated_at    INTEGER NOT NULL                  -- Unix seconds
);
