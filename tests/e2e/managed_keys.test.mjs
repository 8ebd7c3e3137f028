// Ring 2: managed signing keys (no SIGNING_KEYS, a KEY_ENCRYPTION_KEY) in
// workerd, on the configured backend: the Cron Trigger creates the first
// pair (the admin Worker's), admin rotation hands over with overlap, emergency rotation revokes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { clientFor, startWorker } from "./harness.mjs";

const STORAGE = process.env.M2M_STORAGE ?? "d1";
const kek = randomBytes(32).toString("base64url");

async function jwks(w) {
  return (await fetch(`${w.base}/.well-known/jwks.json`)).json();
}

async function verifies(w, token) {
  try {
    await jwtVerify(token, createLocalJWKSet(await jwks(w)), { issuer: w.base, audience: "https://api.example.com", typ: "at+jwt" });
    return true;
  } catch {
    return false;
  }
}

test(`managed keys: cron, rotation, emergency revocation, wrong KEK (${STORAGE})`, async () => {
  const persist = mkdtempSync(join(tmpdir(), "m2m-managed-"));
  const bindings = { STORAGE, SIGNING_KEYS: undefined, KEY_ENCRYPTION_KEY: kek };
  const w = await startWorker({ bindings, persist });
  let client;
  try {
    const api = clientFor(w);
    // The Cron Trigger on an empty store creates the first pair.
    assert.equal(await w.scheduled(), "ok");
    const listed = await api.admin("GET", "/admin/keys");
    assert.equal(listed.json.mode, "managed");
    assert.deepEqual(listed.json.keys.map((k) => k.state), ["current", "next"]);
    assert.ok(!JSON.stringify(listed.json).includes("sealed"));
    assert.equal((await jwks(w)).keys.length, 2, "next is published before it signs");

    client = await api.createClient();
    const ask = async () => (await api.token({ basic: [client.client_id, client.client_secret], form: "grant_type=client_credentials" })).json.access_token;
    const first = await ask();
    assert.equal(decodeProtectedHeader(first).kid, listed.json.keys[0].kid);
    assert.ok(await verifies(w, first));

    // Scheduled run before the interval: nothing changes.
    assert.equal(await w.scheduled(), "ok");
    assert.equal(decodeProtectedHeader(await ask()).kid, listed.json.keys[0].kid);

    // Rotation: the next key signs; the old one stays published, so tokens it
    // signed verify until they expire.
    const rotated = await api.admin("POST", "/admin/keys/rotate");
    assert.equal(rotated.status, 200);
    const second = await ask();
    assert.equal(decodeProtectedHeader(second).kid, listed.json.keys[1].kid);
    assert.ok(await verifies(w, first), "a token from before the rotation still verifies");
    assert.ok(await verifies(w, second));

    // Emergency: revoke the current key; its tokens stop verifying at once.
    const revoked = await api.admin("POST", "/admin/keys/rotate", { revoke_current: true });
    assert.equal(revoked.status, 200);
    assert.equal(revoked.json.revoked_kid, decodeProtectedHeader(second).kid);
    assert.match(revoked.json.warning, /stops verifying/);
    assert.ok(!(await jwks(w)).keys.some((k) => k.kid === revoked.json.revoked_kid));
    assert.ok(!(await verifies(w, second)), "the revoked key's token no longer verifies");
    const third = await ask();
    assert.notEqual(decodeProtectedHeader(third).kid, decodeProtectedHeader(second).kid);
    assert.ok(await verifies(w, third));
    assert.ok(await verifies(w, first), "retired (not revoked) keys stay published");
  } finally {
    await w.close();
  }

  // Same storage, wrong KEY_ENCRYPTION_KEY: signing fails with server_error,
  // the JWKS still serves the public keys.
  const wrong = await startWorker({ bindings: { ...bindings, KEY_ENCRYPTION_KEY: randomBytes(32).toString("base64url") }, persist, migrate: false });
  try {
    const published = await jwks(wrong);
    assert.ok(published.keys.length >= 2);
    const r = await clientFor(wrong).token({ basic: [client.client_id, client.client_secret], form: "grant_type=client_credentials" });
    assert.equal(r.status, 500);
    assert.equal(r.json.error, "server_error");
    assert.ok(!JSON.stringify(r.json).includes("KEY_ENCRYPTION_KEY"));
  } finally {
    await wrong.close();
  }
});

test(`managed keys: the first token request creates the first pair (${STORAGE})`, async () => {
  const w = await startWorker({ bindings: { STORAGE, SIGNING_KEYS: undefined, KEY_ENCRYPTION_KEY: kek } });
  try {
    const api = clientFor(w);
    const c = await api.createClient();
    const r = await api.token({ basic: [c.client_id, c.client_secret], form: "grant_type=client_credentials" });
    assert.equal(r.status, 200);
    assert.ok(await verifies(w, r.json.access_token));
  } finally {
    await w.close();
  }
});

// Eight rotations at once: each answers 200 or 409 (lost the race, or the
// published-key cap), never 500, and the set keeps exactly one current key
// and no more published keys than the cap allows (crates/core/src/keys/rotation.rs).
test(`managed keys: concurrent rotations answer 200 or 409 and keep one current key (${STORAGE})`, async () => {
  const w = await startWorker({ bindings: { STORAGE, SIGNING_KEYS: undefined, KEY_ENCRYPTION_KEY: kek } });
  try {
    const api = clientFor(w);
    assert.equal((await api.admin("GET", "/admin/keys")).status, 200, "the first pair exists");
    const results = await Promise.all(Array.from({ length: 8 }, () => api.admin("POST", "/admin/keys/rotate")));
    const statuses = results.map((r) => r.status);
    assert.ok(statuses.every((s) => s === 200 || s === 409), `statuses: ${statuses}`);
    assert.ok(statuses.includes(200), `statuses: ${statuses}`);
    const keys = (await api.admin("GET", "/admin/keys")).json.keys;
    assert.equal(keys.filter((k) => k.state === "current").length, 1, JSON.stringify(keys));
    assert.ok((await jwks(w)).keys.length <= 5, "next + current + at most 3 retired");
  } finally {
    await w.close();
  }
});
