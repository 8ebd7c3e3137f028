// Ring 2: zero-downtime secret rotation, on the configured backend.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { useWorker } from "./harness.mjs";

const ctx = useWorker();
const STORAGE = ctx.storage;

const tokenWith = (id, secret) => ctx.api.token({ basic: [id, secret], form: "grant_type=client_credentials" });

async function assertWorks(id, secret) {
  const r = await tokenWith(id, secret);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  const jwks = createRemoteJWKSet(new URL(`${ctx.w.base}/.well-known/jwks.json`));
  const { payload } = await jwtVerify(r.json.access_token, jwks, { issuer: ctx.w.base, audience: "https://api.example.com", typ: "at+jwt" });
  assert.equal(payload.client_id, id);
}

async function assertRefused(id, secret) {
  const r = await tokenWith(id, secret);
  assert.equal(r.status, 401);
  assert.equal(r.json.error, "invalid_client");
}

describe(`secret rotation (${STORAGE})`, () => {
  test("start → both secrets work → complete → only the new one", async () => {
    const c = await ctx.api.createClient();
    const base = `/admin/clients/${c.client_id}/secrets/rotate`;
    const started = await ctx.api.admin("POST", base);
    assert.equal(started.status, 200);
    const next = started.json.next_client_secret;
    assert.match(next, /^m2msk_/);
    assert.equal(started.json.secret_rotation_pending, true);
    // The harness runs with CLIENT_CACHE_TTL's default of 5 s.
    assert.match(started.json.propagation, /within \d+ s \(CLIENT_CACHE_TTL 5 s/);
    await assertWorks(c.client_id, c.client_secret);
    await assertWorks(c.client_id, next);

    const shown = await ctx.api.admin("GET", `/admin/clients/${c.client_id}`);
    assert.equal(shown.json.secret_rotation_pending, true);
    assert.equal(shown.json.client_secret_last_four, c.client_secret.slice(-4));
    assert.equal(shown.json.next_client_secret_last_four, next.slice(-4));
    assert.ok(!JSON.stringify(shown.json).includes(next));

    const again = await ctx.api.admin("POST", base);
    assert.equal(again.status, 409);
    assert.match(again.json.error_description, /already pending/);

    const done = await ctx.api.admin("POST", `${base}/complete`);
    assert.equal(done.status, 200);
    assert.equal(done.json.secret_rotation_pending, false);
    assert.equal(done.json.client_secret_last_four, next.slice(-4));
    await assertRefused(c.client_id, c.client_secret);
    await assertWorks(c.client_id, next);
    assert.equal((await ctx.api.admin("POST", `${base}/complete`)).status, 409);
    assert.equal((await ctx.api.admin("POST", `${base}/cancel`)).status, 409);
  });

  test("start → cancel: the old secret stays, the new one is dropped", async () => {
    const c = await ctx.api.createClient();
    const base = `/admin/clients/${c.client_id}/secrets/rotate`;
    const next = (await ctx.api.admin("POST", base)).json.next_client_secret;
    const cancelled = await ctx.api.admin("POST", `${base}/cancel`);
    assert.equal(cancelled.status, 200);
    assert.equal(cancelled.json.secret_rotation_pending, false);
    await assertWorks(c.client_id, c.client_secret);
    await assertRefused(c.client_id, next);
  });

  test("rotation of an unknown client is 404", async () => {
    assert.equal((await ctx.api.admin("POST", "/admin/clients/m2m_00000000000000000000000000000000/secrets/rotate")).status, 404);
  });
});
