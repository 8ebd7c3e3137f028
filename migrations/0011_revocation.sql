-- Revocation (docs/storage.md, crates/core/src/revocation.rs): tokens
-- revoked one by one, by jti, kept until they expire; and not-before times
-- per client and per project, kept until every token they refuse has
-- expired. Both only ever widen: a write keeps the later expiry or time.
CREATE TABLE revoked_tokens (
  jti TEXT NOT NULL,
  -- '' : any token with this jti; a project id: only that project's.
  project_id TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (jti, project_id)
);
CREATE INDEX revoked_tokens_expiry ON revoked_tokens (expires_at);

CREATE TABLE token_not_before (
  -- 'client:<client id>' or 'project:<project id>'
  holder TEXT PRIMARY KEY,
  not_before INTEGER NOT NULL
);
