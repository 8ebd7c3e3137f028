// Ring 3: `wrangler dev` started the way a user starts it (its [build] step
// runs `make build`), local D1 migrated with `wrangler d1 migrations apply`,
// one client created and one token fetched and verified with jose — on D1
// alone with bring-your-own keys, and on D1 with the token path on read
// replicas with managed keys — and the
// `[[ratelimits]]` of wrangler.toml running: a flood of wrong secrets is
// refused with 429.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { createClient, startWranglerDev } from "../../scripts/wrangler-dev.mjs";
import { shippedRateLimits } from "../e2e/harness.mjs";

for (const [storage, keyMode] of [["d1", "byok"], ["d1-replicas", "managed"]]) {
  test(`wrangler dev (${storage}, ${keyMode} keys): create a client, fetch a token, verify it with jose`, async () => {
    const dev = await startWranglerDev({ storage, keyMode });
    try {
      const c = await createClient(dev.base, dev.secrets.ADMIN_API_KEY, {
        name: "smoke",
        grants: [{ audience: "https://api.example.com", scopes: ["read"] }],
      });
      const r = await fetch(`${dev.base}/oauth2/token`, {
        method: "POST",
        headers: {
          authorization: `Basic ${Buffer.from(`${c.client_id}:${c.client_secret}`).toString("base64")}`,
          "content-type": "application/x-www-form-urlencoded",
        },
        body: "grant_type=client_credentials",
      });
      assert.equal(r.status, 200, dev.output());
      const t = await r.json();
      const { payload } = await jwtVerify(t.access_token, createRemoteJWKSet(new URL(`${dev.base}/.well-known/jwks.json`)), {
        issuer: dev.base,
        audience: "https://api.example.com",
        typ: "at+jwt",
      });
      assert.equal(payload.client_id, c.client_id);
      assert.equal(payload.scope, "read");

      const wrong = () =>
        fetch(`${dev.base}/oauth2/token`, {
          method: "POST",
          headers: {
            authorization: `Basic ${Buffer.from(`${c.client_id}:wrong`).toString("base64")}`,
            "content-type": "application/x-www-form-urlencoded",
          },
          body: "grant_type=client_credentials",
        });
      const { limit } = shippedRateLimits().AUTH_FAILURE_RATE_LIMIT.simple;
      const statuses = [];
      for (let i = 0; i <= limit; i++) statuses.push((await wrong()).status);
      assert.deepEqual(statuses, [...Array(limit).fill(401), 429], dev.output());
    } finally {
      await dev.stop();
    }
  });
}
