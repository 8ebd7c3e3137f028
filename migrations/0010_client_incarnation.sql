-- Each client's incarnation (docs/storage.md): "inc_" + 32 hex digits drawn
-- when it is created, carried by its tokens as client_incarnation and
-- compared by every conditional write, so neither an old token nor an old
-- read survives the client being deleted and created again under the same
-- id. Clients created before this have none (NULL), as their tokens do.
ALTER TABLE clients ADD COLUMN incarnation TEXT;
