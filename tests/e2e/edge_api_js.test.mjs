// Ring 2: the JS edge API (examples/edge-api-js) verifying through the
// token service's RPC method over a service binding, in one workerd with
// the token service: claims for a good token, the RFC 6750 answers for
// the rest, and a revocation refused on the very next request.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { EDGE_AUDIENCE, EDGE_ISSUER, boundJsWorker, clientFor, startWithEdgeApi } from "./harness.mjs";

const STORAGE = process.env.M2M_STORAGE ?? "d1";
const root = join(dirname(fileURLToPath(import.meta.url)), "../..");

describe(`JS edge API over the RPC verifier (${STORAGE})`, () => {
  let w;
  let api;
  before(async () => {
    w = await startWithEdgeApi({
      bindings: { STORAGE },
      edges: [],
      extraWorkers: [boundJsWorker("edge-api-js", { scriptPath: join(root, "examples/edge-api-js/index.js") }, { ISSUER: EDGE_ISSUER, AUDIENCE: EDGE_AUDIENCE })],
    });
    api = clientFor(w);
  });
  after(() => w?.close());

  const orders = async (authorization, method = "GET") => {
    const headers = authorization === undefined ? {} : { authorization };
    const r = await fetch(`${w.edge["edge-api-js"]}/orders`, { method, headers });
    return { status: r.status, challenge: r.headers.get("www-authenticate"), json: await r.json() };
  };
  const tokenOf = async (client) => {
    const r = await api.token({ basic: [client.client_id, client.client_secret], form: "grant_type=client_credentials" });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return r.json.access_token;
  };

  test("a good token reads; the wrong scope, no token, garbage and another API's token are refused as RFC 6750 says", async () => {
    const c = await api.createClient({ grants: [{ audience: EDGE_AUDIENCE, scopes: ["orders:read"] }] });
    const token = await tokenOf(c);
    const read = await orders(`Bearer ${token}`);
    assert.equal(read.status, 200, JSON.stringify(read.json));
    assert.equal(read.json.client_id, c.client_id);
    const write = await orders(`Bearer ${token}`, "POST");
    assert.equal(write.status, 403);
    assert.equal(write.json.error, "insufficient_scope");
    assert.match(write.challenge, /^Bearer realm="orders", error="insufficient_scope".*scope="orders:write"/);
    const none = await orders(undefined);
    assert.equal(none.status, 401);
    assert.equal(none.challenge, 'Bearer realm="orders", resource_metadata="https://orders.example.com/.well-known/oauth-protected-resource"');
    const garbage = await orders("Bearer a.b.c");
    assert.equal(garbage.status, 401);
    assert.equal(garbage.json.error, "invalid_token");
    const other = await api.createClient({ grants: [{ audience: "https://api.example.com", scopes: ["orders:read"] }] });
    assert.equal((await orders(`Bearer ${await tokenOf(other)}`)).status, 401);
  });

  test("a revoked token, and a deactivated client's, are refused on the next request", async () => {
    const c = await api.createClient({ grants: [{ audience: EDGE_AUDIENCE, scopes: ["orders:read"] }] });
    const token = await tokenOf(c);
    const kept = await tokenOf(c);
    assert.equal((await orders(`Bearer ${token}`)).status, 200);
    const basic = `Basic ${Buffer.from(`${c.client_id}:${c.client_secret}`).toString("base64")}`;
    const r = await fetch(`${w.base}/oauth2/revoke`, {
      method: "POST",
      headers: { authorization: basic, "content-type": "application/x-www-form-urlencoded" },
      body: `token=${token}`,
    });
    assert.equal(r.status, 200);
    const refused = await orders(`Bearer ${token}`);
    assert.equal(refused.status, 401);
    assert.match(refused.json.error_description, /revoked/);
    assert.equal((await orders(`Bearer ${kept}`)).status, 200);
    assert.equal((await api.admin("PATCH", `/admin/clients/${c.client_id}`, { status: "inactive" })).status, 200);
    assert.equal((await orders(`Bearer ${kept}`)).status, 401);
  });
});
