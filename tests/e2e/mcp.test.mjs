// Ring 2: the MCP machine-to-machine profile end to end. A client that
// knows only an API's URL follows the 401's `resource_metadata` to the
// API's RFC 9728 metadata, then to the authorization server's RFC 8414
// metadata, gets a token as the MCP client-credentials extension
// (io.modelcontextprotocol/oauth-client-credentials) has it — a
// private_key_jwt assertion naming the client by `sub` alone with `aud` the
// issuer (as the MCP SDK builds it, with and without a trailing slash), or
// HTTP Basic — and as the workload identity federation draft has it (the
// JWT bearer grant, a platform's token and no client_id), and calls the
// API: the Rust edge API and the JS one alike. The draft conformance
// server's refusals are replayed against the token endpoint.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { SignJWT, exportJWK, generateKeyPair } from "jose";
import { EDGE_AUDIENCE, EDGE_ISSUER, boundJsWorker, clientFor, startWithEdgeApi } from "./harness.mjs";
import { startIssuer } from "./oidc-issuer.mjs";

const STORAGE = process.env.M2M_STORAGE ?? "d1";
const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

describe(`the MCP machine-to-machine profile (${STORAGE})`, () => {
  let w;
  let api;
  let platform;
  before(async () => {
    w = await startWithEdgeApi({
      bindings: { STORAGE },
      extraWorkers: [boundJsWorker("edge-api-js", { scriptPath: join(root, "examples/edge-api-js/index.js") }, { ISSUER: EDGE_ISSUER, AUDIENCE: EDGE_AUDIENCE })],
    });
    api = clientFor(w);
    platform = await startIssuer("/wif");
    // The draft: the assertion's aud is the token endpoint; the MCP SDK
    // sends the issuer (with a trailing slash).
    const r = await api.admin("POST", "/admin/federation/issuers", { issuer: platform.issuer, audiences: [EDGE_ISSUER, `${EDGE_ISSUER}/oauth2/token`] });
    assert.equal(r.status, 201, JSON.stringify(r.json));
  });
  after(async () => {
    await w?.close();
    await platform?.close();
  });

  /** The public URLs of the API and the issuer, served by the local workers. */
  const local = (edge) => (url) => url.replace(EDGE_AUDIENCE, w.edge[edge]).replace(EDGE_ISSUER, w.base);
  const form = (fields) => new URLSearchParams(fields).toString();

  /** What an MCP client learns from the API's URL alone: the API's metadata and its issuer's. */
  async function discover(edge) {
    const at = local(edge);
    const r = await fetch(at(`${EDGE_AUDIENCE}/orders`));
    assert.equal(r.status, 401);
    const challenge = r.headers.get("www-authenticate");
    const pointer = /resource_metadata="([^"]+)"/.exec(challenge)?.[1];
    assert.equal(pointer, `${EDGE_AUDIENCE}/.well-known/oauth-protected-resource`, challenge);
    const resource = await (await fetch(at(pointer))).json();
    assert.equal(resource.resource, EDGE_AUDIENCE, "RFC 9728 §3.3: the resource it was fetched for");
    assert.deepEqual(resource.bearer_methods_supported, ["header"]);
    const issuer = resource.authorization_servers[0];
    assert.equal(issuer, EDGE_ISSUER);
    const metadata = await (await fetch(at(`${issuer}/.well-known/oauth-authorization-server`))).json();
    assert.equal(metadata.issuer, issuer, "RFC 8414 §3.3");
    for (const method of ["private_key_jwt", "client_secret_basic"]) assert.ok(metadata.token_endpoint_auth_methods_supported.includes(method), method);
    assert.ok(metadata.token_endpoint_auth_signing_alg_values_supported.includes("ES256"));
    assert.ok(metadata.grant_types_supported.includes(JWT_BEARER));
    const token = async (body, headers = {}) => {
      const response = await fetch(at(metadata.token_endpoint), {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
        body,
      });
      return { status: response.status, json: await response.json() };
    };
    const call = async (accessToken, method = "GET") => {
      const response = await fetch(at(`${resource.resource}/orders`), { method, headers: { authorization: `Bearer ${accessToken}` } });
      return { status: response.status, challenge: response.headers.get("www-authenticate") };
    };
    return { resource, metadata, token, call };
  }

  for (const edge of ["edge-api", "edge-api-js"]) {
    test(`${edge}: client credentials from discovery alone, private_key_jwt (aud the issuer, with or without a slash) and Basic`, async () => {
      const { resource, metadata, token, call } = await discover(edge);
      const { publicKey, privateKey } = await generateKeyPair("ES256");
      const client = await api.createClient({
        token_endpoint_auth_method: "private_key_jwt",
        jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: "mcp", alg: "ES256" }] },
        grants: [{ audience: EDGE_AUDIENCE, scopes: ["orders:read"] }],
      });
      for (const aud of [metadata.issuer, `${metadata.issuer}/`]) {
        const assertion = await new SignJWT({})
          .setProtectedHeader({ alg: "ES256", kid: "mcp" })
          .setIssuer(client.client_id)
          .setSubject(client.client_id)
          .setAudience(aud)
          .setIssuedAt()
          .setExpirationTime("2m")
          .setJti(crypto.randomUUID())
          .sign(privateKey);
        // No client_id: the assertion's sub names the client.
        const r = await token(form({ grant_type: "client_credentials", client_assertion_type: ASSERTION_TYPE, client_assertion: assertion,
                                     resource: resource.resource, scope: "orders:read" }));
        assert.equal(r.status, 200, `${aud}: ${JSON.stringify(r.json)}`);
        assert.equal((await call(r.json.access_token)).status, 200);
        // Step-up: the 403 names the scope and the metadata (MCP's scope challenge).
        const write = await call(r.json.access_token, "POST");
        assert.equal(write.status, 403);
        assert.match(write.challenge, /error="insufficient_scope".*scope="orders:write".*resource_metadata="https:\/\/orders\.example\.com\/\.well-known\/oauth-protected-resource"/);
      }

      const secretClient = await api.createClient({ grants: [{ audience: EDGE_AUDIENCE, scopes: ["orders:read"] }] });
      const basic = `Basic ${Buffer.from(`${secretClient.client_id}:${secretClient.client_secret}`).toString("base64")}`;
      const r = await token(form({ grant_type: "client_credentials", resource: resource.resource }), { authorization: basic });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.equal((await call(r.json.access_token)).status, 200);
      const wrong = await token(form({ grant_type: "client_credentials" }), { authorization: `Basic ${Buffer.from(`${secretClient.client_id}:nope`).toString("base64")}` });
      assert.deepEqual([wrong.status, wrong.json.error], [401, "invalid_client"]);
    });
  }

  test("workload identity federation: the JWT bearer grant without client_id, as the draft conformance server checks it", async () => {
    const { resource, metadata, token, call } = await discover("edge-api");
    const subject = `workload-${STORAGE}`;
    await api.createClient({
      client_id: `mcp-wif-${STORAGE}`,
      grants: [{ audience: EDGE_AUDIENCE, scopes: ["orders:read"] }],
      federated_credentials: [{ name: "conformance", issuer: platform.issuer, subject }],
    });
    const mint = (claims = {}, options = {}) => platform.mint({ sub: subject, ...claims }, { audience: `${metadata.issuer}/`, ...options });
    const grant = (assertion, extra = {}) => token(form({ grant_type: JWT_BEARER, ...(assertion ? { assertion } : {}), resource: resource.resource, ...extra }));

    for (const audience of [`${metadata.issuer}/`, metadata.issuer, metadata.token_endpoint]) {
      const r = await grant(await mint({}, { audience }));
      assert.equal(r.status, 200, `${audience}: ${JSON.stringify(r.json)}`);
      assert.equal((await call(r.json.access_token)).status, 200);
    }
    const refusals = [
      ["no assertion", await grant(undefined), 400, "invalid_request"],
      ["expired", await grant(await mint({}, { expiresIn: "-2m" })), 400, "invalid_grant"],
      ["wrong aud", await grant(await mint({}, { audience: "https://wrong.example" })), 400, "invalid_grant"],
      ["bad signature", await grant((await mint()).replace(/.{8}$/, "AAAAAAAA")), 400, "invalid_grant"],
      ["no client's workload", await grant(await mint({ sub: "someone-else" })), 400, "invalid_grant"],
      ["wrong grant", await token(form({ grant_type: "password", resource: resource.resource })), 400, "unsupported_grant_type"],
    ];
    for (const [why, r, status, error] of refusals) assert.deepEqual([r.status, r.json.error], [status, error], `${why}: ${JSON.stringify(r.json)}`);

    // Two clients the token could stand for: it names neither.
    await api.createClient({
      client_id: `mcp-wif-twin-${STORAGE}`,
      grants: [{ audience: EDGE_AUDIENCE, scopes: ["orders:read"] }],
      federated_credentials: [{ name: "conformance", issuer: platform.issuer, subject }],
    });
    const ambiguous = await grant(await mint());
    assert.deepEqual([ambiguous.status, ambiguous.json.error], [400, "invalid_grant"], JSON.stringify(ambiguous.json));
    // Naming one still works.
    const named = await grant(await mint(), { client_id: `mcp-wif-twin-${STORAGE}` });
    assert.equal(named.status, 200, JSON.stringify(named.json));
  });
});
