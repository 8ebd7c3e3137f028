// Ring 2: API resources, on the configured backend.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { useWorker } from "./harness.mjs";

const ctx = useWorker();
const STORAGE = ctx.storage;

describe(`API resources (${STORAGE})`, () => {
  test("before any resource is registered, grants are free-form", async () => {
    const c = await ctx.api.createClient({ grants: [{ audience: "urn:anything", scopes: ["x"] }] });
    assert.equal((await ctx.api.admin("DELETE", `/admin/clients/${c.client_id}`)).status, 204);
  });

  test("register, constrain grants, cap TTL, list scopes, refuse deletion in use", async () => {
    const created = await ctx.api.admin("POST", "/admin/resources", {
      identifier: "https://billing.example.com",
      name: "Billing",
      token_ttl: 300,
      scopes: [{ name: "invoices:read", description: "Read invoices" }, { name: "invoices:write" }],
    });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const rid = created.json.id;
    assert.equal((await ctx.api.admin("GET", `/admin/resources/${rid}`)).json.identifier, "https://billing.example.com");
    assert.equal((await ctx.api.admin("GET", "/admin/resources")).json.resources.length, 1);
    const dup = await ctx.api.admin("POST", "/admin/resources", { identifier: "https://billing.example.com", name: "Dup" });
    assert.equal(dup.status, 409);

    const unknownAud = await ctx.api.admin("POST", "/admin/clients", { name: "c", grants: [{ audience: "https://nope.example.com", scopes: [] }] });
    assert.equal(unknownAud.status, 400);
    assert.equal(unknownAud.json.field, "grants[0].audience");
    const unknownScope = await ctx.api.admin("POST", "/admin/clients", { name: "c", grants: [{ audience: "https://billing.example.com", scopes: ["refunds"] }] });
    assert.equal(unknownScope.status, 400);
    assert.equal(unknownScope.json.field, "grants[0].scopes[0]");

    const c = await ctx.api.createClient({ grants: [{ audience: "https://billing.example.com", scopes: ["invoices:read"] }] });
    const t = await ctx.api.token({ basic: [c.client_id, c.client_secret], form: "grant_type=client_credentials" });
    assert.equal(t.status, 200);
    assert.equal(t.json.expires_in, 300, "the resource's token_ttl caps the 3600 s default");
    const jwks = createRemoteJWKSet(new URL(`${ctx.w.base}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(t.json.access_token, jwks, { issuer: ctx.w.base, audience: "https://billing.example.com", typ: "at+jwt" });
    assert.equal(payload.exp - payload.iat, 300);
    assert.equal(payload.scope, "invoices:read");

    const meta = await (await fetch(`${ctx.w.base}/.well-known/oauth-authorization-server`)).json();
    assert.deepEqual(meta.scopes_supported, ["invoices:read", "invoices:write"]);

    const del = await ctx.api.admin("DELETE", `/admin/resources/${rid}`);
    assert.equal(del.status, 409);
    assert.deepEqual(del.json.clients, [c.client_id]);
    const narrow = await ctx.api.admin("PATCH", `/admin/resources/${rid}`, { scopes: [{ name: "invoices:write" }] });
    assert.equal(narrow.status, 409, "invoices:read is still granted");
    assert.deepEqual(narrow.json.clients, [c.client_id]);

    assert.equal((await ctx.api.admin("DELETE", `/admin/clients/${c.client_id}`)).status, 204);
    assert.equal((await ctx.api.admin("DELETE", `/admin/resources/${rid}`)).status, 204);
    assert.equal((await ctx.api.admin("GET", `/admin/resources/${rid}`)).status, 404);
  });

  test("resource validation names the field", async () => {
    for (const [body, field] of [
      [{ name: "x" }, "identifier"],
      [{ identifier: "not-absolute", name: "x" }, "identifier"],
      [{ identifier: "https://v.example.com", name: "x", scopes: [{ name: "has space" }] }, "scopes[0].name"],
      [{ identifier: "https://v.example.com", name: "x", token_ttl: 1 }, "token_ttl"],
    ]) {
      const r = await ctx.api.admin("POST", "/admin/resources", body);
      assert.equal(r.status, 400);
      assert.equal(r.json.field, field);
    }
  });

  // The token path reads a client together with the resources its grants
  // name (docs/storage.md); one resource row that does not read must not
  // stand in the way of the client's tokens for its other audiences.
  test("a resource row that does not read refuses only tokens for its own audience", async () => {
    const good = "https://good.example.com";
    const bad = "https://unreadable.example.com";
    const ids = [];
    for (const identifier of [good, bad]) {
      const r = await ctx.api.admin("POST", "/admin/resources", { identifier, name: "r", scopes: [{ name: "read" }], token_ttl: 300 });
      assert.equal(r.status, 201, JSON.stringify(r.json));
      ids.push(r.json.id);
    }
    const c = await ctx.api.createClient({ grants: [{ audience: good, scopes: ["read"] }, { audience: bad, scopes: ["read"] }] });
    const db = await ctx.w.mf.getD1Database("DB");
    const { scopes } = await db.prepare("SELECT scopes FROM resources WHERE identifier = ?").bind(bad).first();
    await db.prepare("UPDATE resources SET scopes = 'not json' WHERE identifier = ?").bind(bad).run();
    try {
      const token = (resource) => ctx.api.token({ basic: [c.client_id, c.client_secret], form: `grant_type=client_credentials&resource=${encodeURIComponent(resource)}` });
      const fine = await token(good);
      assert.equal(fine.status, 200, JSON.stringify(fine.json));
      assert.equal(fine.json.expires_in, 300);
      const broken = await token(bad);
      assert.equal(broken.status, 500);
      assert.equal(broken.json.error, "server_error");
    } finally {
      await db.prepare("UPDATE resources SET scopes = ? WHERE identifier = ?").bind(scopes, bad).run();
      assert.equal((await ctx.api.admin("DELETE", `/admin/clients/${c.client_id}`)).status, 204);
      for (const id of ids) assert.equal((await ctx.api.admin("DELETE", `/admin/resources/${id}`)).status, 204);
    }
  });

  // The longest identifier the API accepts (512 characters) must work end
  // to end on both backends: on KV its index key used to exceed KV's
  // 512-byte key limit, and creating it, or any token for it, answered 500.
  test("an identifier at the 512-character limit works end to end", async () => {
    const base = "https://long.example.com/";
    const identifier = base + "a".repeat(512 - base.length);
    assert.equal(identifier.length, 512);
    const created = await ctx.api.admin("POST", "/admin/resources", { identifier, name: "long", scopes: [{ name: "read" }], token_ttl: 300 });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const again = await ctx.api.admin("POST", "/admin/resources", { identifier, name: "twice" });
    assert.equal(again.status, 409, "the identifier is still unique");
    const c = await ctx.api.createClient({ grants: [{ audience: identifier, scopes: ["read"] }] });
    const t = await ctx.api.token({ basic: [c.client_id, c.client_secret], form: `grant_type=client_credentials&resource=${encodeURIComponent(identifier)}` });
    assert.equal(t.status, 200, JSON.stringify(t.json));
    assert.equal(t.json.expires_in, 300, "the resource's token_ttl caps it: the lookup by audience found it");
    assert.equal((await ctx.api.admin("DELETE", `/admin/clients/${c.client_id}`)).status, 204);
    assert.equal((await ctx.api.admin("DELETE", `/admin/resources/${created.json.id}`)).status, 204);
  });
});
