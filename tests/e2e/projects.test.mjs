// Ring 2, paired with crates/core/tests/projects.rs: projects, clients in
// them, chosen ids and listing filters in workerd, on the configured backend.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { decodeJwt } from "jose";
import { useWorker } from "./harness.mjs";

const ctx = useWorker();
const STORAGE = ctx.storage;
const grants = [{ audience: "https://api.example.com", scopes: ["read"] }];

/** Every client a filtered listing returns, following next_cursor. */
async function listAll(query) {
  const names = [];
  let cursor = null;
  for (let pages = 0; pages < 50; pages++) {
    const r = await ctx.api.admin("GET", `/admin/clients?${query}&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    names.push(...r.json.clients.map((c) => c.name));
    cursor = r.json.next_cursor;
    if (!cursor) return names.sort();
  }
  throw new Error("too many pages");
}

describe(`projects (${STORAGE})`, () => {
  test("a project, its clients, their tokens carry project_id, and it cannot be deleted while it has clients", async () => {
    const created = await ctx.api.admin("POST", "/admin/projects", { id: `acme-${STORAGE}`, name: "Acme" });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const project = created.json.id;
    const c = await ctx.api.admin("POST", "/admin/clients", { project_id: project, name: "acme-sync", grants });
    assert.equal(c.status, 201, JSON.stringify(c.json));
    assert.equal(c.json.project_id, project);
    assert.equal(c.json.issuer, ctx.w.base);
    assert.equal(c.json.token_endpoint, `${ctx.w.base}/oauth2/token`);
    const t = await ctx.api.token({ basic: [c.json.client_id, c.json.client_secret], form: "grant_type=client_credentials" });
    assert.equal(t.status, 200);
    assert.equal(decodeJwt(t.json.access_token).project_id, project);

    const moved = await ctx.api.admin("PATCH", `/admin/clients/${c.json.client_id}`, { project_id: "elsewhere" });
    assert.equal(moved.status, 400);
    assert.equal(moved.json.field, "project_id");
    const missing = await ctx.api.admin("POST", "/admin/clients", { project_id: "no-such-project", name: "x", grants });
    assert.equal(missing.status, 400);

    const refused = await ctx.api.admin("DELETE", `/admin/projects/${project}`);
    assert.equal(refused.status, 409);
    assert.deepEqual(refused.json.clients, [c.json.client_id]);
    assert.equal((await ctx.api.admin("DELETE", `/admin/clients/${c.json.client_id}`)).status, 204);
    assert.equal((await ctx.api.admin("DELETE", `/admin/projects/${project}`)).status, 204);
    assert.equal((await ctx.api.admin("GET", `/admin/projects/${project}`)).status, 404);
  });

  test("a chosen client_id: created, used for tokens, 409 when taken", async () => {
    const id = `ci-pipeline-${STORAGE}`;
    const c = await ctx.api.admin("POST", "/admin/clients", { client_id: id, name: "CI", grants });
    assert.equal(c.status, 201, JSON.stringify(c.json));
    assert.equal(c.json.client_id, id);
    const t = await ctx.api.token({ basic: [id, c.json.client_secret], form: "grant_type=client_credentials" });
    assert.equal(t.status, 200);
    assert.equal((await ctx.api.admin("POST", "/admin/clients", { client_id: id, name: "CI", grants })).status, 409);
    const bad = await ctx.api.admin("POST", "/admin/clients", { client_id: "a b", name: "x", grants });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.field, "client_id");
  });

  test("listing filters: project, status, name prefix, combined, across pages", async () => {
    const p = `list-${STORAGE}`;
    assert.equal((await ctx.api.admin("POST", "/admin/projects", { id: p, name: "List" })).status, 201);
    const ids = [];
    for (const name of ["zz-billing-a", "zz-billing-b", "zz-search", "zz-billing-c"]) {
      const r = await ctx.api.admin("POST", "/admin/clients", { project_id: p, name, grants });
      ids.push(r.json.client_id);
    }
    await ctx.api.admin("POST", "/admin/clients", { name: "zz-billing-outside", grants });
    assert.equal((await ctx.api.admin("PATCH", `/admin/clients/${ids[1]}`, { status: "inactive" })).status, 200);
    assert.deepEqual(await listAll(`project_id=${p}`), ["zz-billing-a", "zz-billing-b", "zz-billing-c", "zz-search"]);
    assert.deepEqual(await listAll(`project_id=${p}&status=active&name_prefix=zz-billing`), ["zz-billing-a", "zz-billing-c"]);
    assert.deepEqual(await listAll("name_prefix=zz-billing"), ["zz-billing-a", "zz-billing-b", "zz-billing-c", "zz-billing-outside"]);
    const bad = await ctx.api.admin("GET", "/admin/clients?status=gone");
    assert.equal(bad.status, 400);
  });

  test("bad input on the project routes: 4xx JSON, never 5xx", async () => {
    for (const [method, path, body] of [
      ["POST", "/admin/projects", {}],
      ["POST", "/admin/projects", { name: "x", id: "a b" }],
      ["POST", "/admin/projects", { name: "x", extra: 1 }],
      ["POST", "/admin/projects", [1]],
      ["PATCH", "/admin/projects/nope", { name: "x" }],
      ["GET", "/admin/projects/a%20b"],
      ["PUT", "/admin/projects"],
      ["GET", "/admin/projects?limit=0"],
    ]) {
      const r = await ctx.api.admin(method, path, body);
      assert.ok(r.status >= 400 && r.status < 500, `${method} ${path}: ${r.status}`);
      assert.equal(typeof r.json.error, "string");
    }
    // A cursor the API did not issue: D1 refuses it (400); KV's cursors
    // are KV's own, and Miniflare's KV may read one as a position.
    const cursor = await ctx.api.admin("GET", "/admin/projects?cursor=a%20b");
    assert.ok(cursor.status < 500, String(cursor.status));
  });
});
