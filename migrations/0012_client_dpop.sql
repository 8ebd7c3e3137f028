-- RFC 9449 §5.2 (docs/storage.md): 1 when every token request of the
-- client must carry a DPoP proof, so that each of its tokens is bound to
-- the client's key. Existing clients: 0, as before.
ALTER TABLE clients ADD COLUMN dpop_bound_access_tokens INTEGER NOT NULL DEFAULT 0;
