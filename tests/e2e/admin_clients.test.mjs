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
    const row = await (await ctx.w.mf.getD1Database("DB")).prepare("SELECT * FROM clients WHERE id = ?").bind(c.client_id).first();
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

  // Another isolate deactivates the client by writing storage directly;
  // this isolate has the active record in its read cache. Its later edit
  // of the description must not reactivate the client
  // (crates/core/tests/admin_clients.rs has the same race on the host).
  test("an edit never undoes a deactivation made elsewhere", async () => {
    const c = await ctx.api.createClient();
    const basic = [c.client_id, c.client_secret];
    assert.equal((await ctx.api.token({ basic, form: "grant_type=client_credentials" })).status, 200, "cached as active");
    const db = await ctx.w.mf.getD1Database("DB");
    await db.prepare("UPDATE clients SET status = 'inactive', version = version + 1 WHERE id = ?").bind(c.client_id).run();
    const edited = await ctx.api.admin("PATCH", `/admin/clients/${c.client_id}`, { description: "nightly" });
    assert.equal(edited.status, 200);
    assert.equal(edited.json.status, "inactive");
    assert.equal(edited.json.description, "nightly");
    assert.equal((await ctx.api.admin("GET", `/admin/clients/${c.client_id}`)).json.status, "inactive");
  });

  test("ETag and If-Match: a change based on an old version is refused with 412", async () => {
    const c = await ctx.api.createClient();
    const path = `/admin/clients/${c.client_id}`;
    const read = await ctx.api.admin("GET", path);
    const etag = read.headers.get("etag");
    assert.match(etag, /^"\d+"$/);
    const ifMatch = (tag, method, body) =>
      fetch(`${ctx.w.base}${path}`, {
        method,
        headers: { authorization: `Bearer ${ctx.w.secrets.ADMIN_API_KEY}`, "if-match": tag, ...(body ? { "content-type": "application/json" } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
    const first = await ifMatch(etag, "PATCH", { name: "first" });
    assert.equal(first.status, 200);
    assert.notEqual(first.headers.get("etag"), etag);
    const second = await ifMatch(etag, "PATCH", { name: "second" });
    assert.equal(second.status, 412);
    assert.equal((await second.json()).error, "precondition_failed");
    assert.equal((await ctx.api.admin("GET", path)).json.name, "first");
    assert.equal((await ifMatch(etag, "DELETE")).status, 412);
    assert.equal((await ifMatch(first.headers.get("etag"), "DELETE")).status, 204);
  });

  test("concurrent edits of one client all land or answer 409, none is lost silently", async () => {
    const c = await ctx.api.createClient({ custom_claims: {} });
    const path = `/admin/clients/${c.client_id}`;
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => ctx.api.admin("PATCH", path, { description: `edit ${i}` })),
    );
    for (const r of results) assert.ok([200, 409].includes(r.status), `status ${r.status}`);
    const final = (await ctx.api.admin("GET", path)).json;
    const landed = results.filter((r) => r.status === 200).map((r) => r.json.description);
    assert.ok(landed.includes(final.description), "the stored description is one that was answered 200");
  });
  // The races the KV layout of earlier versions lost (docs/storage.md):
  // every write is one conditional statement on D1's primary, so of two
  // creates of one chosen id exactly one lands, and a deactivation racing
  // an edit always stands.
  test("concurrent_creates_of_one_chosen_id_give_one_201_and_one_409", async () => {
    for (const p of ["race-a", "race-b"]) assert.equal((await ctx.api.admin("POST", "/admin/projects", { id: `${p}-${STORAGE}`, name: p })).status, 201);
    for (let i = 0; i < 10; i++) {
      const id = `race-${STORAGE}-${i}`;
      const body = (p) => ({ client_id: id, name: p, project_id: `${p}-${STORAGE}`, grants: [{ audience: "https://api.example.com", scopes: ["read"] }] });
      const results = await Promise.all([ctx.api.admin("POST", "/admin/clients", body("race-a")), ctx.api.admin("POST", "/admin/clients", body("race-b"))]);
      assert.deepEqual(results.map((r) => r.status).sort(), [201, 409], `try ${i}`);
      const won = results.find((r) => r.status === 201).json;
      const stored = (await ctx.api.admin("GET", `/admin/clients/${id}`)).json;
      assert.equal(stored.project_id, won.project_id, "the record is the one answered 201");
      const token = await ctx.api.token({ basic: [id, won.client_secret], form: "grant_type=client_credentials" });
      assert.equal(token.status, 200, "and its secret works");
    }
  });

  test("a deactivation racing an edit always stands", async () => {
    for (let i = 0; i < 10; i++) {
      const c = await ctx.api.createClient();
      const path = `/admin/clients/${c.client_id}`;
      const results = await Promise.all([
        ctx.api.admin("PATCH", path, { status: "inactive" }),
        ctx.api.admin("PATCH", path, { description: `edit ${i}` }),
      ]);
      assert.equal(results[0].status, 200, `try ${i}`);
      assert.ok([200, 409].includes(results[1].status), `try ${i}: ${results[1].status}`);
      assert.equal((await ctx.api.admin("GET", path)).json.status, "inactive", `try ${i}: the deactivation was undone`);
    }
  });
});
