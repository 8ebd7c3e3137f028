// Ring 2: the example edge API (examples/edge-api, m2m-edge-verify with
// WebCrypto) and the token service in one workerd, keys over a service
// binding, on the configured backend. The attack suite of
// crates/verify/tests/attacks.rs, sent to the WebCrypto back end.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac, createPrivateKey, sign as nodeSign } from "node:crypto";
import { EDGE_AUDIENCE, EDGE_ISSUER, clientFor, startWithEdgeApi } from "./harness.mjs";

const STORAGE = process.env.M2M_STORAGE ?? "d1";
/** The revocation bound of one edge API here (REVOCATIONS_WITHIN), seconds; the default is 60. */
const REVOCATION_BOUND = 2;
const b64 = (data) => Buffer.from(data).toString("base64url");

/** GET or POST /orders on an edge API with this Authorization header (none if undefined). */
async function orders(base, authorization, method = "GET") {
  const headers = authorization === undefined ? {} : { authorization };
  const r = await fetch(`${base}/orders`, { method, headers });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { json = { unparsable: text }; }
  return { status: r.status, challenge: r.headers.get("www-authenticate"), json };
}

async function tokenFor(api, client, form = "grant_type=client_credentials") {
  const r = await api.token({ basic: [client.client_id, client.client_secret], form });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json.access_token;
}

function assertInvalidToken(r, why) {
  assert.equal(r.status, 401, `${why}: ${JSON.stringify(r.json)}`);
  assert.equal(r.json.error, "invalid_token", why);
  assert.match(r.challenge, /^Bearer realm="orders", error="invalid_token", error_description="[^"]+", resource_metadata="https:\/\/orders\.example\.com\/\.well-known\/oauth-protected-resource"$/, why);
}

describe(`edge API with m2m-edge-verify (${STORAGE})`, () => {
  let w;
  let api;
  let key; // the token service's signing key (bring-your-own mode), to forge precisely
  let kid;
  before(async () => {
    w = await startWithEdgeApi({
      bindings: { STORAGE },
      edges: ["edge-api", "edge-api-burst", "edge-api-acme", "edge-api-revocations", "edge-api-strict"],
      edgeVars: {
        "edge-api-acme": { PROJECT_ID: "acme" },
        "edge-api-revocations": { REVOCATIONS_WITHIN: String(REVOCATION_BOUND) },
        "edge-api-strict": { REVOCATIONS: "strict" },
      },
    });
    api = clientFor(w);
    const jwk = JSON.parse(w.secrets.SIGNING_KEYS).keys[0];
    key = createPrivateKey({ key: jwk, format: "jwk" });
    kid = (await (await fetch(`${w.base}/.well-known/jwks.json`)).json()).keys[0].kid;
  });
  after(() => w?.close());

  const edge = () => w.edge["edge-api"];
  const grant = (scopes) => ({ grants: [{ audience: EDGE_AUDIENCE, scopes }] });

  /** A token signed with the service's real key: header and claims as given. */
  function forge(header, claims) {
    const input = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(claims))}`;
    const signature = nodeSign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" });
    return `${input}.${b64(signature)}`;
  }
  const now = () => Math.floor(Date.now() / 1000);
  const goodHeader = () => ({ alg: "ES256", typ: "at+jwt", kid });
  const goodClaims = (changes = {}) => ({
    iss: EDGE_ISSUER, sub: "m2m_x", client_id: "m2m_x", aud: EDGE_AUDIENCE, scope: "orders:read",
    iat: now(), nbf: now(), exp: now() + 600, jti: "j1", ...changes,
  });

  test("a token from the service reads and writes orders; the client id is echoed", async () => {
    const c = await api.createClient(grant(["orders:read", "orders:write"]));
    const token = await tokenFor(api, c);
    const read = await orders(edge(), `Bearer ${token}`);
    assert.equal(read.status, 200, JSON.stringify(read.json));
    assert.equal(read.json.client_id, c.client_id);
    const write = await orders(edge(), `Bearer ${token}`, "POST");
    assert.equal(write.status, 201);
    assert.equal(write.json.client_id, c.client_id);
    // A forged token built like the real one passes too: the forging is exact.
    assert.equal((await orders(edge(), `Bearer ${forge(goodHeader(), goodClaims())}`)).status, 200);
  });

  test("a burst of first requests in a cold isolate: every one answered, none left waiting on another's key fetch", async () => {
    const c = await api.createClient(grant(["orders:read"]));
    const token = await tokenFor(api, c);
    const statuses = await Promise.all(
      Array.from({ length: 24 }, () => orders(w.edge["edge-api-burst"], `Bearer ${token}`).then((r) => r.status)),
    );
    assert.deepEqual(statuses, Array(24).fill(200));
  });

  test("an API of one tenant (PROJECT_ID) refuses a valid token of another project, and one of no project", async () => {
    for (const id of ["acme", "globex"]) {
      const r = await api.admin("POST", "/admin/projects", { id: `${id}`, name: id });
      assert.ok([201, 409].includes(r.status), JSON.stringify(r.json));
    }
    const acme = await tokenFor(api, await api.createClient({ project_id: "acme", ...grant(["orders:read"]) }));
    const globex = await tokenFor(api, await api.createClient({ project_id: "globex", ...grant(["orders:read"]) }));
    const none = await tokenFor(api, await api.createClient(grant(["orders:read"])));
    const tenant = w.edge["edge-api-acme"];
    assert.equal((await orders(tenant, `Bearer ${acme}`)).status, 200);
    for (const [token, why] of [[globex, "another project"], [none, "no project"]]) {
      const r = await orders(tenant, `Bearer ${token}`);
      assertInvalidToken(r, why);
      assert.match(r.json.error_description, /project_id/);
    }
    assert.equal((await orders(edge(), `Bearer ${globex}`)).status, 200, "an API without PROJECT_ID serves every tenant");
  });

  test("a revoked token is refused at the edge within the verifier's bound, with no call per request", async () => {
    const revocations = w.edge["edge-api-revocations"];
    const c = await api.createClient(grant(["orders:read"]));
    const token = await tokenFor(api, c);
    const kept = await tokenFor(api, c);
    assert.equal((await orders(revocations, `Bearer ${token}`)).status, 200);
    const revokedAt = Date.now();
    const basic = `Basic ${Buffer.from(`${c.client_id}:${c.client_secret}`).toString("base64")}`;
    const r = await fetch(`${w.base}/oauth2/revoke`, {
      method: "POST",
      headers: { authorization: basic, "content-type": "application/x-www-form-urlencoded" },
      body: `token=${token}`,
    });
    assert.equal(r.status, 200);
    let refused;
    while (Date.now() - revokedAt < (REVOCATION_BOUND + 3) * 1000) {
      refused = await orders(revocations, `Bearer ${token}`);
      if (refused.status !== 200) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const took = Date.now() - revokedAt;
    assertInvalidToken(refused, "revoked");
    assert.match(refused.json.error_description, /revoked/);
    // The bound, plus the clock's one-second resolution.
    assert.ok(took <= (REVOCATION_BOUND + 1) * 1000, `refused ${took} ms after the revocation`);
    assert.equal((await orders(revocations, `Bearer ${kept}`)).status, 200, "the client's other token is untouched");
  });

  test("in strict mode the edge asks the service of every token: a revocation is refused on the next request", async () => {
    const strict = w.edge["edge-api-strict"];
    const c = await api.createClient(grant(["orders:read"]));
    const token = await tokenFor(api, c);
    assert.equal((await orders(strict, `Bearer ${token}`)).status, 200);
    const r = await api.admin("POST", "/admin/tokens/revoke", { token });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assertInvalidToken(await orders(strict, `Bearer ${token}`), "revoked, strict");
    assert.equal((await orders(strict, `Bearer ${await tokenFor(api, c)}`)).status, 200, "a new token of the client");
  });

  test("the wrong scope: 403 insufficient_scope with the scope in the challenge", async () => {
    const c = await api.createClient(grant(["orders:read"]));
    const r = await orders(edge(), `Bearer ${await tokenFor(api, c)}`, "POST");
    assert.equal(r.status, 403);
    assert.equal(r.json.error, "insufficient_scope");
    assert.match(r.challenge, /error="insufficient_scope"/);
    assert.match(r.challenge, /scope="orders:write"/);
  });

  test("no token: 401 with a bare Bearer challenge; garbage, expired, wrong audience, wrong issuer: 401 invalid_token", async () => {
    for (const none of [undefined, "", "Bearer", "Basic bTJtOnNlY3JldA=="]) {
      const r = await orders(edge(), none);
      assert.equal(r.status, 401, String(none));
      assert.equal(r.challenge, 'Bearer realm="orders", resource_metadata="https://orders.example.com/.well-known/oauth-protected-resource"', String(none));
    }
    assertInvalidToken(await orders(edge(), "Bearer garbage"), "garbage");
    assertInvalidToken(await orders(edge(), `Bearer ${forge(goodHeader(), goodClaims({ exp: now() - 120 }))}`), "expired");
    const other = await api.createClient({ grants: [{ audience: "https://api.example.com", scopes: ["orders:read"] }] });
    assertInvalidToken(await orders(edge(), `Bearer ${await tokenFor(api, other)}`), "another API's token");
    assertInvalidToken(await orders(edge(), `Bearer ${forge(goodHeader(), goodClaims({ iss: `${EDGE_ISSUER}/` }))}`), "issuer");
    assertInvalidToken(await orders(edge(), `Bearer ${forge(goodHeader(), goodClaims({ iss: "https://evil.example" }))}`), "issuer");
  });

  test("the attack suite against the WebCrypto back end", async () => {
    const real = forge(goodHeader(), goodClaims());
    const [h, p, s] = real.split(".");
    const sig = Buffer.from(s, "base64url");
    const withSig = (bytes) => `${h}.${p}.${b64(bytes)}`;
    const n = Buffer.from("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551", "hex");
    const publicJwk = (await (await fetch(`${w.base}/.well-known/jwks.json`)).json()).keys[0];
    const cases = {
      "alg none": `${b64(JSON.stringify({ alg: "none", typ: "at+jwt", kid }))}.${p}.`,
      "alg None": `${b64(JSON.stringify({ alg: "None", typ: "at+jwt", kid }))}.${p}.`,
      "alg NONE": `${b64(JSON.stringify({ alg: "NONE", typ: "at+jwt", kid }))}.${p}.`,
      "HS256 keyed with the public key": (() => {
        const header = b64(JSON.stringify({ alg: "HS256", typ: "at+jwt", kid }));
        const mac = createHmac("sha256", JSON.stringify(publicJwk)).update(`${header}.${p}`).digest();
        return `${header}.${p}.${b64(mac)}`;
      })(),
      "r = s = 0": withSig(Buffer.alloc(64)),
      "r = n": withSig(Buffer.concat([n, sig.subarray(32)])),
      "s = n": withSig(Buffer.concat([sig.subarray(0, 32), n])),
      "DER signature": withSig(nodeSign("sha256", Buffer.from(`${h}.${p}`), { key, dsaEncoding: "der" })),
      "a payload byte changed": `${h}.${b64(JSON.stringify(goodClaims({ scope: "orders:read orders:admin" })))}.${s}`,
      "jku elsewhere": forge({ ...goodHeader(), kid: "evil", jku: "https://evil.example/jwks.json" }, goodClaims()),
      "jwk in the header": forge({ ...goodHeader(), kid: "evil", jwk: publicJwk }, goodClaims()),
      "x5u elsewhere": forge({ ...goodHeader(), kid: "evil", x5u: "https://evil.example/c.pem" }, goodClaims()),
      "kid traversal": forge({ ...goodHeader(), kid: "../../etc/passwd" }, goodClaims()),
      "kid SQL": forge({ ...goodHeader(), kid: "' OR 1=1 --" }, goodClaims()),
      "typ JWT": forge({ ...goodHeader(), typ: "JWT" }, goodClaims()),
      "crit": forge({ ...goodHeader(), crit: ["exp"] }, goodClaims()),
      "exp missing": forge(goodHeader(), goodClaims({ exp: undefined })),
      "nbf in the future": forge(goodHeader(), goodClaims({ nbf: now() + 600 })),
      "aud array without ours": forge(goodHeader(), goodClaims({ aud: ["https://a.example", "https://b.example"] })),
      "duplicate claims": (() => {
        const json = JSON.stringify(goodClaims()).replace(/^\{/, '{"aud":"https://elsewhere.example",');
        const input = `${h}.${b64(json)}`;
        return `${input}.${b64(nodeSign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" }))}`;
      })(),
      "padded base64url": `${real}==`,
      "non-canonical base64url": (() => {
        const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        const last = s.at(-1);
        return `${h}.${p}.${s.slice(0, -1)}${alphabet[alphabet.indexOf(last) + 1]}`;
      })(),
      "over 16 KiB": forge(goodHeader(), goodClaims({ pad: "x".repeat(16 * 1024) })),
    };
    for (const [name, token] of Object.entries(cases)) assertInvalidToken(await orders(edge(), `Bearer ${token}`), name);
    // The real token still works after all that.
    assert.equal((await orders(edge(), `Bearer ${real}`)).status, 200);
  });
});

describe(`edge API with managed keys: rotation and revocation (${STORAGE})`, () => {
  let w;
  let api;
  before(async () => {
    w = await startWithEdgeApi({ bindings: { STORAGE, SIGNING_KEYS: undefined }, edges: ["edge-api", "edge-api-fresh"] });
    api = clientFor(w);
  });
  after(() => w?.close());

  test("a rotated-in key verifies without a restart; a revoked key stops verifying where the keys are fetched again", async () => {
    const c = await api.createClient({ grants: [{ audience: EDGE_AUDIENCE, scopes: ["orders:read"] }] });
    const warm = w.edge["edge-api"];
    const first = await tokenFor(api, c);
    assert.equal((await orders(warm, `Bearer ${first}`)).status, 200);

    const rotated = await api.admin("POST", "/admin/keys/rotate", {});
    assert.equal(rotated.status, 200, JSON.stringify(rotated.json));
    const second = await tokenFor(api, c);
    const kidOf = (t) => JSON.parse(Buffer.from(t.split(".")[0], "base64url")).kid;
    assert.notEqual(kidOf(second), kidOf(first));
    assert.equal((await orders(warm, `Bearer ${second}`)).status, 200, "the new kid verifies in the warm isolate");

    const revoked = await api.admin("POST", "/admin/keys/rotate", { revoke_current: true });
    assert.equal(revoked.status, 200, JSON.stringify(revoked.json));
    const third = await tokenFor(api, c);
    // The revoked key (the one that signed `second`): an isolate that
    // fetches the keys now refuses it at once and accepts the new one. A
    // warm isolate keeps its copy of the set for the JWKS max-age (300 s),
    // and fetches again for a kid it lacks at most every 30 s: that is the
    // bound on revocation at the API (README, "Verifying tokens in your API").
    const fresh = w.edge["edge-api-fresh"];
    assertInvalidToken(await orders(fresh, `Bearer ${second}`), "revoked key, fresh isolate");
    assert.equal((await orders(fresh, `Bearer ${third}`)).status, 200);
    assert.equal((await orders(warm, `Bearer ${second}`)).status, 200, "within the warm isolate's bound");
  });
});
