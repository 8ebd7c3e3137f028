-- Optimistic concurrency: every client and resource write is a
-- compare-and-swap on `version` (docs/storage.md); rows written before this
-- migration start at 1.
ALTER TABLE clients ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE resources ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
