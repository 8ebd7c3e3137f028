// Ring 2, paired with crates/core/tests/audit.rs: the audit trail in
// workerd, on the configured backend.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { clientFor, startWorker, useWorker } from "./harness.mjs";

const ctx = useWorker();
const STORAGE = ctx.storage;
const grants = [{ audience: "https://api.example.com", scopes: ["read"] }];

describe(`audit trail (${STORAGE})`, () => {
  test("admin changes appear with actor, project, action, target and field names; a project admin's show it as the actor", async () => {
    const p = `audit-${STORAGE}`;
    assert.equal((await ctx.api.admin("POST", "/admin/projects", { id: p, name: "Audit", allowed_grants: grants })).status, 201);
    const audience = `${ctx.w.base}/admin`;
    const admin = await ctx.api.admin("POST", "/admin/clients", { project_id: p, name: "ci", grants: [{ audience, scopes: ["clients:write", "audit:read"] }] });
    const t = await ctx.api.token({ basic: [admin.json.client_id, admin.json.client_secret], form: `grant_type=client_credentials&resource=${encodeURIComponent(audience)}` });
    const token = t.json.access_token;
    const made = await fetch(`${ctx.w.base}/admin/clients`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "worker", grants }),
    });
    assert.equal(made.status, 201);
    const worker = await made.json();
    assert.equal((await ctx.api.admin("PATCH", `/admin/clients/${worker.client_id}`, { name: "worker-2" })).status, 200);

    const trail = await fetch(`${ctx.w.base}/admin/audit`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(trail.status, 200);
    const { events } = await trail.json();
    assert.ok(events.every((e) => e.project_id === p), JSON.stringify(events));
    const byToken = events.find((e) => e.action === "client.create" && e.target === worker.client_id);
    assert.equal(byToken.actor, admin.json.client_id);
    assert.deepEqual(byToken.changed_fields, ["grants", "name"]);
    const byRoot = events.find((e) => e.action === "client.update" && e.target === worker.client_id);
    assert.equal(byRoot.actor, "root");
    assert.deepEqual(byRoot.changed_fields, ["name"]);
    assert.ok(!JSON.stringify(events).includes(worker.client_secret));
  });

  test("failed admin authentications are counted per minute; bad queries are 400", async () => {
    for (let i = 0; i < 3; i++) {
      assert.equal((await fetch(`${ctx.w.base}/admin/clients`, { headers: { authorization: "Bearer wrong-key" } })).status, 401);
    }
    const r = await ctx.api.admin("GET", "/admin/audit/auth-failures");
    assert.equal(r.status, 200);
    const total = r.json.minutes.reduce((n, m) => n + m.count, 0);
    assert.ok(total >= 3, JSON.stringify(r.json));
    for (const q of ["?since=yesterday", "?limit=0", "?project_id=a%20b"]) {
      const bad = await ctx.api.admin("GET", `/admin/audit${q}`);
      assert.equal(bad.status, 400, q);
    }
    assert.equal((await ctx.api.admin("POST", "/admin/audit")).status, 405);
  });
});

describe(`failed admin authentications without a write per request (${STORAGE})`, () => {
  // A worker of its own: one fresh isolate and empty storage.
  let w;
  let api;
  before(async () => {
    w = await startWorker({ bindings: { STORAGE } });
    api = clientFor(w);
  });
  after(() => w?.close());

  /** The failure counts as written to storage, summed. */
  async function written() {
    const row = await (await w.mf.getD1Database("DB")).prepare("SELECT COALESCE(SUM(count), 0) AS n FROM audit_auth_failures").first();
    return row.n;
  }

  async function served() {
    const r = await api.admin("GET", "/admin/audit/auth-failures");
    assert.equal(r.status, 200);
    return r.json.minutes.reduce((n, m) => n + m.count, 0);
  }

  const fail = async () =>
    assert.equal((await fetch(`${w.base}/admin/clients`, { headers: { authorization: "Bearer wrong-key" } })).status, 401);

  test("30 bad keys cost one write; the isolate serves all 30 at once, and its next failure 10 s on writes the rest", async () => {
    for (let i = 0; i < 30; i++) await fail();
    assert.equal(await written(), 1, "the first at once, the others held");
    assert.equal(await served(), 30);
    await sleep(10_500);
    await fail();
    assert.equal(await written(), 31);
    assert.equal(await served(), 31);
  });
});
