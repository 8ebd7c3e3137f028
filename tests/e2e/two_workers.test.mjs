// Ring 2: the two Workers of a deployment (docs/architecture.md, "Two
// Workers") and the token service's RPC method, at their edges: the admin
// Worker answers nothing but the admin API, whoever reaches it; and a JS
// Worker calling `verify` with what JS makes easy to get wrong — no
// options, NaN, an Authorization header past any token's size — gets a
// TypeError or the RFC 6750 refusal, never an accepted token or a crash.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { EDGE_AUDIENCE, boundJsWorker, clientFor, startWithEdgeApi } from "./harness.mjs";

const STORAGE = process.env.M2M_STORAGE ?? "d1";

// A caller of `verify` that reports what the call did: its value, or the
// class and message of what it threw.
const CALLER = `
export default {
  async fetch(request, env) {
    const { authorization, options, omit } = await request.json();
    if (options?.maxTokenAge === "NaN") options.maxTokenAge = NaN;
    try {
      const answer = omit ? await env.AUTH.verify(authorization) : await env.AUTH.verify(authorization, options);
      return Response.json({ answer });
    } catch (e) {
      return Response.json({ threw: e.constructor.name, message: String(e.message) });
    }
  },
};`;

describe(`two Workers, and the RPC's edges (${STORAGE})`, () => {
  let w;
  let api;
  before(async () => {
    w = await startWithEdgeApi({
      bindings: { STORAGE },
      edges: [],
      extraWorkers: [boundJsWorker("caller", { script: CALLER })],
    });
    api = clientFor(w);
  });
  after(() => w?.close());

  const call = async (body) => (await fetch(w.edge.caller, { method: "POST", body: JSON.stringify(body) })).json();
  // JSON cannot carry NaN: the caller Worker puts it in for "NaN".
  const nanCall = async (authorization) => call({ authorization, options: { audience: EDGE_AUDIENCE, maxTokenAge: "NaN" } });

  test("the admin Worker answers the admin API only: every other path is 404, whoever reaches it", async () => {
    const admin = await w.mf.getWorker("admin");
    for (const path of ["/oauth2/token", "/.well-known/jwks.json", "/.well-known/openid-configuration", "/oauth2/revocations"]) {
      const r = await admin.fetch(`http://127.0.0.1${path}`, path === "/oauth2/token" ? { method: "POST" } : {});
      assert.equal(r.status, 404, path);
      assert.equal((await r.json()).error, "not_found");
    }
    // Through the token service, the same Worker serves the admin API.
    assert.equal((await api.admin("GET", "/admin/clients")).status, 200);
  });

  test("verify without options, or with options JS cannot carry, rejects with a TypeError; a huge header is a 401", async () => {
    const c = await api.createClient({ grants: [{ audience: EDGE_AUDIENCE, scopes: ["orders:read"] }] });
    const t = await api.token({ basic: [c.client_id, c.client_secret], form: "grant_type=client_credentials" });
    const token = t.json.access_token;
    assert.equal((await call({ authorization: `Bearer ${token}`, options: { audience: EDGE_AUDIENCE } })).answer.valid, true);

    const none = await call({ authorization: `Bearer ${token}`, omit: true });
    assert.equal(none.threw, "TypeError", JSON.stringify(none));
    const nullAge = await call({ authorization: `Bearer ${token}`, options: { audience: EDGE_AUDIENCE, maxTokenAge: null } });
    assert.equal(nullAge.threw, "TypeError", JSON.stringify(nullAge));
    assert.match(nullAge.message, /maxTokenAge/);
    assert.equal((await nanCall(`Bearer ${token}`)).threw, "TypeError");

    const huge = await call({ authorization: `Bearer ${"\\".repeat(9000)}`, options: { audience: EDGE_AUDIENCE, realm: "orders" } });
    assert.equal(huge.answer?.valid, false, JSON.stringify(huge));
    assert.equal(huge.answer.status, 401);
    assert.equal(huge.answer.error, "invalid_token");
  });
});
