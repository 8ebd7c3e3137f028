// Ring 2: broken configuration fails with server_error, never a panic.
import { test } from "node:test";
import assert from "node:assert/strict";
import { clientFor, postChunked, startWorker, workerdMemory } from "./harness.mjs";

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

test(`unusable storage (D1 without tables) is a server_error (${STORAGE})`, async () => {
  const w = await startWorker({ bindings: { STORAGE }, migrate: false });
  try {
    const r = await clientFor(w).token({ basic: ["m2m_00000000000000000000000000000000", "x"], form: "grant_type=client_credentials" });
    assert.equal(r.status, 500);
    assert.equal(r.json.error, "server_error");
    assert.ok(!JSON.stringify(r.json).toLowerCase().includes("sql"));
  } finally {
    await w.close();
  }
});

// Earlier versions could keep everything in KV; a worker still configured
// so must not serve from an empty D1 as if nothing had happened.
test("STORAGE=kv (the removed KV layout) is a server_error, never served from an empty D1", async () => {
  const w = await startWorker({ bindings: { STORAGE: "kv" } });
  try {
    const r = await clientFor(w).token({ basic: ["m2m_00000000000000000000000000000000", "x"], form: "grant_type=client_credentials" });
    assert.equal(r.status, 500);
    assert.equal(r.json.error, "server_error");
    assert.ok(!JSON.stringify(r.json).includes("migrate"), "the detail goes to the log, not the response");
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

// The same header reaches the app in the Worker as in the host tests
// (crates/core/tests/admin_clients.rs, admin_key_with_commas_and_spaces):
// an ADMIN_API_KEY holding commas and spaces authenticates; two
// Authorization headers (joined with ", " by the Fetch API) do not.
test(`an ADMIN_API_KEY with commas and spaces works as it does on the host (${STORAGE})`, async () => {
  const key = "k,ey with, commas and  spaces, long enough";
  const w = await startWorker({ bindings: { STORAGE, ADMIN_API_KEY: key } });
  try {
    const ok = await fetch(`${w.base}/admin/clients`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(ok.status, 200);
    const headers = new Headers();
    headers.append("authorization", `Bearer ${key}`);
    headers.append("authorization", `Bearer ${key}`);
    const repeated = await fetch(`${w.base}/admin/clients`, { headers });
    assert.equal(repeated.status, 401);
  } finally {
    await w.close();
  }
});

// A chunked body carries no Content-Length to refuse it by; it is read at
// most 16 KiB + 1 bytes far and then abandoned, on the token endpoint and
// the admin API alike, so no client can make the isolate buffer it all.
test(`a chunked multi-megabyte body is refused with 413 and not buffered (${STORAGE})`, async () => {
  const w = await startWorker({ bindings: { STORAGE } });
  try {
    const api = clientFor(w);
    await api.createClient(); // warm: the isolate and its storage are up
    const endpoints = [
      ["/oauth2/token", { "content-type": "application/x-www-form-urlencoded" }],
      ["/admin/clients", { "content-type": "application/json", authorization: `Bearer ${w.secrets.ADMIN_API_KEY}` }],
    ];
    // A client that waits between chunks reads the answer: 413, after far
    // less than the 1 MB it meant to send.
    for (const [path, headers] of endpoints) {
      const r = await postChunked(`${w.base}${path}`, headers, 1024 * 1024, { pauseMs: 200 });
      assert.equal(r.status, 413, `${path}: ${JSON.stringify(r)}`);
      assert.equal(r.json.error, "invalid_request");
      assert.ok(r.sent < 1024 * 1024, `${path}: answered after ${r.sent} bytes`);
    }
    // A client that blasts 64 MB gets the 413 or, once the body is
    // abandoned, a closed connection; either way the worker's memory stays
    // flat (reading the body whole raised workerd's peak by ~260 MB).
    const before = workerdMemory();
    for (const [path, headers] of endpoints) {
      const r = await postChunked(`${w.base}${path}`, headers, 64 * 1024 * 1024);
      assert.ok(r.reset || r.status === 413, `${path}: ${JSON.stringify(r)}`);
    }
    const grewMb = (workerdMemory().peak - before.peak) / 1024;
    assert.ok(grewMb < 24, `workerd's peak resident memory grew by ${grewMb.toFixed(1)} MB`);
    assert.equal((await api.admin("GET", "/admin/clients")).status, 200, "and it still serves");
  } finally {
    await w.close();
  }
});
