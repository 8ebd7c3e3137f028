// Ring 2: broken configuration fails with server_error, never a panic.
import { test } from "node:test";
import assert from "node:assert/strict";
import { clientFor, startWorker } from "./harness.mjs";

const STORAGE = process.env.M2M_STORAGE ?? "d1";

for (const [name, SIGNING_KEYS] of [["missing", undefined], ["not JSON", "{nope"], ["wrong key type", '{"keys":[{"kty":"RSA","n":"x","e":"AQAB"}]}']]) {
  test(`SIGNING_KEYS ${name}: token and JWKS are server_error, admin still works (${STORAGE})`, async () => {
    const w = await startWorker({ bindings: { STORAGE, KEY_MODE: "byok", SIGNING_KEYS } });
    try {
      const api = clientFor(w);
      const c = await api.createClient();
      const r = await api.token({ basic: [c.client_id, c.client_secret], form: "grant_type=client_credentials" });
      assert.equal(r.status, 500);
      assert.equal(r.json.error, "server_error");
      assert.ok(!JSON.stringify(r.json).includes("SIGNING_KEYS"));
      const j = await fetch(`${w.base}/.well-known/jwks.json`);
      assert.equal(j.status, 500);
      assert.equal((await j.json()).error, "server_error");
      // The worker keeps serving (no poisoned instance).
      const d = await fetch(`${w.base}/.well-known/openid-configuration`);
      assert.equal(d.status, 200);
    } finally {
      await w.close();
    }
  });
}

test(`unusable storage (D1 without tables / no KV binding) is a server_error (${STORAGE})`, async () => {
  const w = await startWorker({ bindings: { STORAGE }, migrate: STORAGE !== "d1", kv: STORAGE !== "kv" });
  try {
    const r = await clientFor(w).token({ basic: ["m2m_00000000000000000000000000000000", "x"], form: "grant_type=client_credentials" });
    assert.equal(r.status, 500);
    assert.equal(r.json.error, "server_error");
    assert.ok(!JSON.stringify(r.json).toLowerCase().includes("sql"));
  } finally {
    await w.close();
  }
});

test("invalid DEFAULT_TOKEN_TTL is a server_error everywhere", async () => {
  const w = await startWorker({ bindings: { STORAGE, DEFAULT_TOKEN_TTL: "forever" } });
  try {
    const r = await fetch(`${w.base}/.well-known/jwks.json`);
    assert.equal(r.status, 500);
    assert.equal((await r.json()).error, "server_error");
  } finally {
    await w.close();
  }
});
