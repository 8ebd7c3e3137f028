// Ring 2: the admin API against the built worker and a real local D1.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { useWorker } from "./harness.mjs";

const ctx = useWorker();
const STORAGE = ctx.storage;

describe(`admin API (${STORAGE})`, () => {
  test("requires the admin key", async () => {
    for (const authorization of [undefined, "Bearer wrong", `Basic ${ctx.w.secrets.ADMIN_API_KEY}`]) {
      const r = await fetch(`${ctx.w.base}/admin/clients`, { headers: authorization ? { authorization } : {} });
      assert.equal(r.status, 401);
      assert.equal((await r.json()).error, "unauthorized");
    }
  });

  test("create, read, update, delete; the secret is shown once", async () => {
    const c = await ctx.api.createClient({ description: "nightly", token_ttl: 600, custom_claims: { team: "billing" } });
    assert.ok(c.client_secret);
    const path = `/admin/clients/${c.client_id}`;
    const got = await ctx.api.admin("GET", path);
    assert.equal(got.status, 200);
    assert.equal(got.json.client_secret, undefined);
    assert.equal(got.json.description, "nightly");
    assert.equal(got.json.token_ttl, 600);
    assert.deepEqual(got.json.custom_claims, { team: "billing" });
    assert.match(got.json.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const patched = await ctx.api.admin("PATCH", path, { name: "renamed", token_ttl: null });
    assert.equal(patched.status, 200);
    assert.equal(patched.json.name, "renamed");
    assert.equal(patched.json.token_ttl, null);
    assert.equal(patched.json.description, "nightly");
    // Storage holds only the hash (and the last four characters).
    const row = STORAGE === "d1"
      ? await (await ctx.w.mf.getD1Database("DB")).prepare("SELECT * FROM clients WHERE id = ?").bind(c.client_id).first()
      : JSON.parse(await (await ctx.w.mf.getKVNamespace("KV")).get(`client:${c.client_id}`));
    assert.match(row.secret_hash, /^[0-9a-f]{64}$/);
    assert.equal(row.secret_last_four, c.client_secret.slice(-4));
    assert.ok(!JSON.stringify(row).includes(c.client_secret));
    assert.equal((await ctx.api.admin("DELETE", path)).status, 204);
    assert.equal((await ctx.api.admin("GET", path)).status, 404);
    assert.equal((await ctx.api.admin("DELETE", path)).status, 404);
  });

  test("invalid fields are 400s that name the field", async () => {
    const ok = { name: "x", grants: [{ audience: "https://a.example.com", scopes: ["r"] }] };
    const cases = [
      [{ ...ok, name: "" }, "name"],
      [{ ...ok, grants: [{ audience: "not absolute", scopes: [] }] }, "grants[0].audience"],
      [{ ...ok, grants: [{ audience: "https://a.example.com", scopes: ["has space"] }] }, "grants[0].scopes[0]"],
      [{ ...ok, grants: [{ audience: "https://a.example.com", scopes: ["ctl\u0001"] }] }, "grants[0].scopes[0]"],
      [{ ...ok, token_ttl: 59 }, "token_ttl"],
      [{ ...ok, token_ttl: 86401 }, "token_ttl"],
      [{ ...ok, custom_claims: { iss: "me" } }, "custom_claims.iss"],
      [{ ...ok, favourite_colour: "blue" }, "favourite_colour"],
    ];
    for (const [body, field] of cases) {
      const r = await ctx.api.admin("POST", "/admin/clients", body);
      assert.equal(r.status, 400, field);
      assert.equal(r.json.field, field);
      assert.ok(r.json.error_description.startsWith(field));
    }
    const c = await ctx.api.createClient();
    const r = await ctx.api.admin("PATCH", `/admin/clients/${c.client_id}`, { status: "paused" });
    assert.equal(r.status, 400);
    assert.equal(r.json.field, "status");
    assert.equal((await ctx.api.admin("PATCH", "/admin/clients/m2m_00000000000000000000000000000000", { name: "y" })).status, 404);
    assert.equal((await ctx.api.admin("GET", "/admin/clients/not-an-id")).status, 404);
  });

  test("list paginates with a cursor", async () => {
    const created = [];
    for (let i = 0; i < 5; i++) created.push((await ctx.api.createClient({ name: `page-${i}` })).client_id);
    const seen = [];
    let cursor = null;
    let pages = 0;
    do {
      const r = await ctx.api.admin("GET", `/admin/clients?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      assert.equal(r.status, 200);
      assert.ok(r.json.clients.length <= 2);
      seen.push(...r.json.clients.map((c) => c.client_id));
      cursor = r.json.next_cursor;
      pages++;
    } while (cursor && pages < 100);
    for (const id of created) assert.ok(seen.includes(id));
    assert.deepEqual([...seen].sort(), seen, "ordered by id");
    assert.equal(new Set(seen).size, seen.length, "no duplicates across pages");
    assert.equal((await ctx.api.admin("GET", "/admin/clients?limit=500")).json.field, "limit");
  });
});
