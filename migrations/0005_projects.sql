-- Projects: tenants inside one deployment (docs/storage.md). A client may
-- belong to one; the foreign key keeps a project that still has clients
-- from being deleted, and a client from joining a deleted project.
CREATE TABLE IF NOT EXISTS projects (
    id          TEXT PRIMARY KEY,          -- "prj_" + 32 hex digits, or chosen
    name        TEXT NOT NULL,
    description TEXT,
    created_at  INTEGER NOT NULL,          -- Unix seconds
    updated_at  INTEGER NOT NULL,          -- Unix seconds
    version     INTEGER NOT NULL DEFAULT 1 -- compare-and-swap, as for clients
);
ALTER TABLE clients ADD COLUMN project_id TEXT REFERENCES projects(id);
-- Listing a project's clients in id order (GET /admin/clients?project_id=).
CREATE INDEX IF NOT EXISTS clients_by_project ON clients (project_id, id);
