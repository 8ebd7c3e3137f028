// Ring 2: the token path on D1 read replicas (D1_READ_REPLICAS), against a
// replica that lags. Local D1 has no replicas, so the built worker runs
// behind the test-only shim of scripts/latency-model/ (shim.mjs around
// model.mjs), which answers Sessions API reads from a second database
// (REPLICA) whenever it is as new as the session needs, as D1 promises, and
// which this test syncs by hand.
// A write made straight into the primary stands for another location's.
// What must hold (README, "Storage"): the token path does read the replica;
// no read reflects the primary older than REPLICA_ANCHOR_SECS (10 s); the
// isolate that made a change sees it at once; a client the replica lacks
// is read from the primary, and so is the rest of that request; nothing an
// admin decision rests on is read from a replica.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { clientFor, startWorker } from "./harness.mjs";

const root = new URL("../../", import.meta.url).pathname;
const REPLICA_ANCHOR_SECS = 10;
const STORAGE = process.env.M2M_STORAGE ?? "d1";

/**
 * The token service behind the shim on D1 read replicas, with no isolate
 * cache (CLIENT_CACHE_TTL 0: every request reads its client), and the sync
 * of its replica with the primary.
 */
async function replicated() {
  const w = await startWorker({
    bindings: { STORAGE: "d1-replicas", CLIENT_CACHE_TTL: "0" },
    script: join(root, "scripts/latency-model/shim.mjs"),
    replica: true,
  });
  const sync = async () => assert.equal((await fetch(`${w.base}/__replica/sync`, { method: "POST" })).status, 200);
  return { w, api: clientFor(w), sync };
}

describe(`the token path on lagging read replicas (${STORAGE} run)`, () => {
  let w;
  let api;
  let sync;
  let primary;
  before(async () => {
    ({ w, api, sync } = await replicated());
    primary = await w.mf.getD1Database("DB");
  });
  after(() => w?.close());

  const token = async (c, form = "grant_type=client_credentials") => api.token({ basic: [c.client_id, c.client_secret], form });
  /** Deactivate behind the worker's back, as another location's admin would. */
  const deactivateElsewhere = (id) => primary.prepare("UPDATE clients SET status = 'inactive', version = version + 1 WHERE id = ?").bind(id).run();

  test("the isolate that deactivates a client refuses it at once, whatever the replica holds", async () => {
    const c = await api.createClient();
    await sync();
    assert.equal((await token(c)).status, 200);
    assert.equal((await api.admin("PATCH", `/admin/clients/${c.client_id}`, { status: "inactive" })).status, 200);
    // The replica still holds the active client.
    assert.equal((await token(c)).status, 401);
  });

  test("the token path reads the replica, and never one older than the anchor bound", async () => {
    const c = await api.createClient();
    await sync();
    assert.equal((await token(c)).status, 200, "anchors at the primary");
    await deactivateElsewhere(c.client_id);
    assert.equal((await token(c)).status, 200, "served by the replica, which has not seen the change yet");
    await new Promise((r) => setTimeout(r, REPLICA_ANCHOR_SECS * 1000 + 500));
    assert.equal((await token(c)).status, 401, `after ${REPLICA_ANCHOR_SECS} s the isolate anchors at the primary again`);
  });

  test("admin reads and admin tokens never rest on a replica", async () => {
    const admin = await api.createClient({ name: "reader", grants: [{ audience: `${w.base}/admin`, scopes: ["clients:read", "clients:write"] }] });
    const adminToken = (await api.token({ basic: [admin.client_id, admin.client_secret], form: `grant_type=client_credentials&resource=${encodeURIComponent(`${w.base}/admin`)}` })).json.access_token;
    const target = await api.createClient();
    await sync();
    const read = (path, t) => fetch(`${w.base}${path}`, { headers: { authorization: `Bearer ${t}` } });
    assert.equal((await read("/admin/clients", adminToken)).status, 200);
    // Another location deactivates the target and the admin client; the replica has neither change.
    await deactivateElsewhere(target.client_id);
    await deactivateElsewhere(admin.client_id);
    assert.equal((await read("/admin/clients", adminToken)).status, 401, "the caller's client is read from the primary");
    const shown = await api.admin("GET", `/admin/clients/${target.client_id}`);
    assert.equal(shown.json.status, "inactive", "admin reads come from the primary");
    const edited = await api.admin("PATCH", `/admin/clients/${target.client_id}`, { description: "edited" });
    assert.equal(edited.json.status, "inactive", "an edit never rests on a replica's older record");
  });

  test("a client the replica lacks is read from the primary, and so is the rest of that request", async () => {
    const audience = "https://capped.example.com";
    const x = await api.createClient({ grants: [{ audience, scopes: ["read"] }] });
    await sync();
    assert.equal((await token(x)).json.expires_in, 3600, "anchors; no resource caps the audience yet");
    // Another location registers a resource capping the audience at 300 s,
    // and creates client y (x's secret, for the test); the replica has neither.
    await primary
      .prepare("INSERT INTO resources (id, identifier, name, scopes, token_ttl, created_at, updated_at, version) VALUES (?, ?, 'Capped', ?, 300, 1, 1, 1)")
      .bind("api_00000000000000000000000000c0ffee", audience, JSON.stringify([{ name: "read", description: "" }]))
      .run();
    await primary
      .prepare("INSERT INTO clients (id, name, description, grants, custom_claims, token_ttl, status, secret_hash, secret_last_four, next_secret_hash, next_secret_last_four, created_at, updated_at, version, project_id, jwks, federated_credentials, incarnation) SELECT 'replica-y', name, description, grants, custom_claims, token_ttl, status, secret_hash, secret_last_four, next_secret_hash, next_secret_last_four, created_at, updated_at, 1, project_id, jwks, federated_credentials, 'inc_0000000000000000000000000000a1b2' FROM clients WHERE id = ?")
      .bind(x.client_id)
      .run();
    const y = await token({ client_id: "replica-y", client_secret: x.client_secret });
    assert.equal(y.status, 200, JSON.stringify(y.json));
    assert.equal(y.json.expires_in, 300, "the resource was read from the primary with the client, not from the replica");
  });
});

describe(`the token path's reads, counted (${STORAGE} run)`, () => {
  let w;
  let api;
  let sync;
  before(async () => {
    ({ w, api, sync } = await replicated());
  });
  after(() => w?.close());

  /** A token for `resource`; its lifetime, and the round trips the shim counted. */
  const token = async (c, resource) => {
    const t = await api.token({ basic: [c.client_id, c.client_secret], form: `grant_type=client_credentials&resource=${encodeURIComponent(resource)}` });
    assert.equal(t.status, 200, JSON.stringify(t.json));
    return { expiresIn: t.json.expires_in, trips: t.headers.get("x-latency-model-round-trips") };
  };

  test("a client the isolate does not hold is read with the resources its grants name: one round trip", async () => {
    const plain = await api.createClient({ grants: [{ audience: "https://plain.example.com", scopes: ["read"] }] });
    await sync();
    assert.deepEqual(await token(plain, "https://plain.example.com"), { expiresIn: 3600, trips: "1" }, "no resource registered");
    const identifier = "https://trips.example.com";
    const registered = await api.admin("POST", "/admin/resources", { identifier, name: "trips", scopes: [{ name: "read" }], token_ttl: 300 });
    assert.equal(registered.status, 201);
    const capped = await api.createClient({ grants: [{ audience: identifier, scopes: ["read"] }] });
    await sync();
    assert.deepEqual(await token(capped, identifier), { expiresIn: 300, trips: "1" }, "the resource read with the client caps the lifetime");
  });
});
