// Ring 2: DPoP (RFC 9449) as openid-client (oauth4webapi underneath) does
// it at its defaults: a token bound to the client's key at the token
// endpoint (ES256 and RS256 proofs), then presented with a proof per
// request to both edge APIs — the Rust one (m2m_edge_verify's
// verify_dpop) and the JS one (the token service's RPC verifier) — which
// refuse it without its proof, with a proof for another request, with a
// replayed proof, and as a bearer token.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { SignJWT, decodeJwt, exportJWK, generateKeyPair } from "jose";
import * as oidc from "openid-client";
import { EDGE_AUDIENCE, EDGE_ISSUER, boundJsWorker, clientFor, startWithEdgeApi } from "./harness.mjs";

const STORAGE = process.env.M2M_STORAGE ?? "d1";
const root = join(dirname(fileURLToPath(import.meta.url)), "../..");

describe(`DPoP with openid-client against both edge APIs (${STORAGE})`, () => {
  let w;
  let api;
  /** The requests openid-client sent, with their headers. */
  const sent = [];
  before(async () => {
    w = await startWithEdgeApi({
      bindings: { STORAGE },
      extraWorkers: [boundJsWorker("edge-api-js", { scriptPath: join(root, "examples/edge-api-js/index.js") }, { ISSUER: EDGE_ISSUER, AUDIENCE: EDGE_AUDIENCE })],
    });
    api = clientFor(w);
  });
  after(() => w?.close());

  /** openid-client from discovery alone; the issuer's public URL is served by the local worker. */
  const configFor = (client) =>
    oidc.discovery(new URL(EDGE_ISSUER), client.client_id, client.client_secret, undefined, {
      execute: [oidc.allowInsecureRequests],
      [oidc.customFetch]: (url, options) => {
        sent.push({ url, headers: new Headers(options.headers), method: options.method });
        return fetch(url.replace(EDGE_ISSUER, w.base), options);
      },
    });
  const ordersClient = () =>
    api.createClient({ grants: [{ audience: EDGE_AUDIENCE, scopes: ["orders:read", "orders:write"] }] });

  /** A bound token got by openid-client with a fresh key pair of `alg`, and what it needs to use it. */
  const boundToken = async (alg = "ES256", client) => {
    const config = await configFor(client ?? (await ordersClient()));
    const dpop = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair(alg));
    const tokens = await oidc.clientCredentialsGrant(config, { resource: EDGE_AUDIENCE, scope: "orders:read" }, { DPoP: dpop });
    return { config, dpop, tokens };
  };

  test("discovery names the proof algorithms; ES256 and RS256 proofs bind the token to their key", async () => {
    const metadata = await (await fetch(`${w.base}/.well-known/oauth-authorization-server`)).json();
    assert.deepEqual(metadata.dpop_signing_alg_values_supported, ["ES256", "RS256"]);
    for (const alg of ["ES256", "RS256"]) {
      const { tokens } = await boundToken(alg);
      assert.equal(tokens.token_type, "dpop", alg); // oauth4webapi lower-cases it
      const claims = decodeJwt(tokens.access_token);
      assert.equal(claims.cnf.jkt.length, 43, alg);
      const proof = sent.findLast((r) => r.url.endsWith("/oauth2/token")).headers.get("dpop");
      assert.ok(proof, "openid-client sent a DPoP header");
    }
  });

  for (const edge of ["edge-api", "edge-api-js"]) {
    test(`${edge}: the bound token works with its proof, and not without it, elsewhere, twice or as a bearer token`, async () => {
      const { config, dpop, tokens } = await boundToken();
      const url = new URL(`${w.edge[edge]}/orders`);
      const r = await oidc.fetchProtectedResource(config, tokens.access_token, url, "GET", undefined, undefined, { DPoP: dpop });
      assert.equal(r.status, 200, await r.clone().text());
      const used = sent.findLast((s) => s.url === url.href);
      assert.match(used.headers.get("authorization"), /^DPoP /);
      const proof = used.headers.get("dpop");

      const call = (headers, method = "GET", path = "/orders") => fetch(`${w.edge[edge]}${path}`, { method, headers });
      const refusal = async (response) => ({
        status: response.status,
        challenge: response.headers.get("www-authenticate"),
        error: (await response.json()).error,
      });
      // Replayed as it was.
      let answer = await refusal(await call({ authorization: `DPoP ${tokens.access_token}`, dpop: proof }));
      assert.equal(answer.status, 401);
      assert.equal(answer.error, "invalid_dpop_proof");
      assert.match(answer.challenge, /^DPoP realm="orders", algs="ES256 RS256", error="invalid_dpop_proof"/);
      // No proof; the proof of a GET for a POST; as a bearer token.
      answer = await refusal(await call({ authorization: `DPoP ${tokens.access_token}` }));
      assert.deepEqual([answer.status, answer.error], [401, "invalid_dpop_proof"]);
      answer = await refusal(await call({ authorization: `DPoP ${tokens.access_token}`, dpop: proof }, "POST"));
      assert.deepEqual([answer.status, answer.error], [401, "invalid_dpop_proof"]);
      answer = await refusal(await call({ authorization: `Bearer ${tokens.access_token}` }));
      assert.deepEqual([answer.status, answer.error], [401, "invalid_token"]);
      assert.match(answer.challenge, /^DPoP /);
      // A fresh proof from the client still works: the refusals used nothing up.
      const again = await oidc.fetchProtectedResource(config, tokens.access_token, url, "GET", undefined, undefined, { DPoP: dpop });
      assert.equal(again.status, 200);
      // A bearer token still works where DPoP is not required.
      const client = await ordersClient();
      const bearer = await api.token({ basic: [client.client_id, client.client_secret], form: `grant_type=client_credentials&resource=${EDGE_AUDIENCE}` });
      assert.equal(bearer.json.token_type, "Bearer");
      assert.equal((await call({ authorization: `Bearer ${bearer.json.access_token}` })).status, 200);
    });
  }

  test("a client registered with dpop_bound_access_tokens gets no token without a proof", async () => {
    const client = await api.createClient({
      grants: [{ audience: EDGE_AUDIENCE, scopes: ["orders:read"] }],
      dpop_bound_access_tokens: true,
    });
    assert.equal(client.dpop_bound_access_tokens, true);
    const config = await configFor(client);
    await assert.rejects(oidc.clientCredentialsGrant(config, { resource: EDGE_AUDIENCE }), (e) => e.error === "invalid_dpop_proof");
    const { tokens } = await boundToken("ES256", client);
    assert.equal(tokens.token_type, "dpop");
  });
});

describe(`DPoP nonces (RFC 9449 §8) with openid-client (${STORAGE})`, () => {
  let w;
  before(async () => {
    w = await startWithEdgeApi({ bindings: { STORAGE, DPOP_NONCE_SECRET: "an-e2e-nonce-secret-of-at-least-32-characters" } });
  });
  after(() => w?.close());

  test("with DPOP_NONCE_SECRET set, openid-client retries with the server's nonce, then sends it from the start", async () => {
    const client = await clientFor(w).createClient({ grants: [{ audience: EDGE_AUDIENCE, scopes: ["orders:read"] }] });
    /** Each token request openid-client made: its proof's nonce, the answer's status, error and DPoP-Nonce. */
    const exchanges = [];
    const config = await oidc.discovery(new URL(EDGE_ISSUER), client.client_id, client.client_secret, undefined, {
      execute: [oidc.allowInsecureRequests],
      [oidc.customFetch]: async (url, options) => {
        const response = await fetch(url.replace(EDGE_ISSUER, w.base), options);
        if (url.endsWith("/oauth2/token")) {
          const proof = new Headers(options.headers).get("dpop");
          exchanges.push({
            nonce: decodeJwt(proof).nonce,
            status: response.status,
            error: response.status === 200 ? undefined : (await response.clone().json()).error,
            issued: response.headers.get("dpop-nonce"),
          });
        }
        return response;
      },
    });
    const dpop = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair("ES256"));
    const tokens = await oidc.clientCredentialsGrant(config, { resource: EDGE_AUDIENCE }, { DPoP: dpop });
    assert.equal(tokens.token_type, "dpop");
    assert.equal(exchanges.length, 2, JSON.stringify(exchanges));
    const [refused, retried] = exchanges;
    assert.deepEqual([refused.nonce, refused.status, refused.error], [undefined, 400, "use_dpop_nonce"]);
    assert.match(refused.issued, /^[A-Za-z0-9_-]{32}$/);
    assert.deepEqual([retried.nonce, retried.status], [refused.issued, 200]);
    assert.match(retried.issued, /^[A-Za-z0-9_-]{32}$/, "§8.2: the success carries the current nonce too");
    // The next grant carries the last nonce handed out from the start: one request.
    await oidc.clientCredentialsGrant(config, { resource: EDGE_AUDIENCE }, { DPoP: dpop });
    assert.deepEqual(exchanges.slice(2).map((e) => [e.nonce, e.status]), [[retried.issued, 200]]);
    // A made-up nonce is refused like a missing one.
    const forged = await fetch(`${w.base}/oauth2/token`, {
      method: "POST",
      headers: {
        authorization: `Basic ${btoa(`${client.client_id}:${client.client_secret}`)}`,
        "content-type": "application/x-www-form-urlencoded",
        dpop: await dpopProof({ htm: "POST", htu: `${EDGE_ISSUER}/oauth2/token`, nonce: "A".repeat(32) }),
      },
      body: `grant_type=client_credentials&resource=${encodeURIComponent(EDGE_AUDIENCE)}`,
    });
    assert.equal(forged.status, 400);
    assert.equal((await forged.json()).error, "use_dpop_nonce");
    assert.match(forged.headers.get("dpop-nonce"), /^[A-Za-z0-9_-]{32}$/);
  });
});

/** A DPoP proof of `claims` by a fresh ES256 key. */
async function dpopProof(claims) {
  const { publicKey, privateKey } = await generateKeyPair("ES256");
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk: await exportJWK(publicKey) })
    .setIssuedAt()
    .setJti(crypto.randomUUID())
    .sign(privateKey);
}
