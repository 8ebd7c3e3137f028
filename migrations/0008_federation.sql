-- Workload identity federation (docs/storage.md): the trusted issuers as
-- one versioned set, each client's federated credentials, and the failures
-- per credential an operator reads when a workload cannot get tokens.
ALTER TABLE clients ADD COLUMN federated_credentials TEXT;   -- JSON array; NULL when none

CREATE TABLE IF NOT EXISTS trusted_issuers (
    id      INTEGER PRIMARY KEY CHECK (id = 1),   -- one row: the whole set
    version INTEGER NOT NULL,                     -- +1 per write; writes are compare-and-swap on it
    issuers TEXT NOT NULL                         -- JSON array of trusted issuers
);

CREATE TABLE IF NOT EXISTS federation_failures (
    client_id   TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    credential  TEXT NOT NULL,                    -- the federated credential's name
    count       INTEGER NOT NULL,
    last_reason TEXT NOT NULL,                    -- why the last attempt failed (never a token)
    last_at     INTEGER NOT NULL,                 -- Unix seconds
    PRIMARY KEY (client_id, credential)
);
