-- What a project's own admin clients may grant (docs/storage.md): grants
-- as JSON text, [{"audience": …, "scopes": […]}]. Existing projects get
-- none: until the root key sets them, their admins can grant no API (the
-- secure default, as Auth0's client grants start empty).
ALTER TABLE projects ADD COLUMN allowed_grants TEXT NOT NULL DEFAULT '[]';
