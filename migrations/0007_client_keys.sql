-- private_key_jwt (RFC 7523 §2.2): a client's public JWK set (docs/storage.md),
-- and the assertion ids already used, so each assertion authenticates once.
ALTER TABLE clients ADD COLUMN jwks TEXT;      -- JSON JWK set; NULL for a client with a secret

-- Single use (RFC 7523 §3 point 7): one row per used assertion `jti`, kept
-- until the assertion expires. The primary key makes the first use win:
-- of two requests with one assertion, exactly one INSERT adds a row.
-- Pruned by the Cron Trigger. Used with either STORAGE: KV cannot do this.
CREATE TABLE IF NOT EXISTS used_assertions (
    key        TEXT PRIMARY KEY,   -- "<client_id> <jti>" (or "<issuer> <jti>" for federated tokens)
    expires_at INTEGER NOT NULL    -- Unix seconds: the assertion's exp (+ leeway)
);
CREATE INDEX IF NOT EXISTS used_assertions_by_expiry ON used_assertions (expires_at);
