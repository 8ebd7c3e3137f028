// Ring 2: m2m-edge-verify natively (p256, reqwest on tokio: its `verify`
// example) against the token service in workerd — discovery, the JWKS and
// the checks over real HTTP, on the configured backend.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { useWorker } from "./harness.mjs";

const ctx = useWorker();
const AUDIENCE = "https://api.example.com";

function verify(...args) {
  const r = spawnSync("cargo", ["run", "-q", "-p", "m2m-edge-verify", "--features", "reqwest", "--example", "verify", "--", ...args], { encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test(`the native verifier accepts the service's token and refuses the wrong scope, audience and garbage (${ctx.storage})`, async () => {
  const c = await ctx.api.createClient();
  const r = await ctx.api.token({ basic: [c.client_id, c.client_secret], form: "grant_type=client_credentials" });
  assert.equal(r.status, 200);
  const token = r.json.access_token;

  const ok = verify(ctx.w.base, AUDIENCE, `Bearer ${token}`, "read");
  assert.equal(ok.code, 0, ok.err);
  const shown = JSON.parse(ok.out);
  assert.equal(shown.client_id, c.client_id);
  assert.deepEqual(shown.scopes, ["read", "write"]);

  const scope = verify(ctx.w.base, AUDIENCE, token, "admin");
  assert.equal(scope.code, 1);
  assert.match(scope.err, /^403 requires scope: admin/);
  const audience = verify(ctx.w.base, "https://other.example.com", token);
  assert.match(audience.err, /^401 wrong audience/);
  const garbage = verify(ctx.w.base, AUDIENCE, "Bearer a.b.c");
  assert.match(garbage.err, /^401 malformed token/);
  const issuer = verify(`${ctx.w.base}/`, AUDIENCE, token);
  assert.match(issuer.err, /^503 /, "discovery names another issuer (trailing slash): no keys trusted");
});
