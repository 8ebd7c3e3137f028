// Ring 2, paired with crates/core/tests/federation.rs: workload identity
// federation in workerd on the configured backend, against a local OIDC
// issuer (tests/e2e/oidc-issuer.mjs) that the worker reaches over HTTP:
// GitHub-Actions-shaped tokens by token exchange, Kubernetes-shaped ones
// as client assertions, a key rotation at the issuer, an issuer gone away.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { useWorker } from "./harness.mjs";
import { startIssuer, startStatic, githubClaims, kubernetesClaims } from "./oidc-issuer.mjs";

const ctx = useWorker();
const STORAGE = ctx.storage;
const AUDIENCE = "https://api.example.com";
const PLATFORM_AUDIENCE = "m2m-edge";
const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const JWT_TYPE = "urn:ietf:params:oauth:token-type:jwt";

let github;
let kubernetes;
before(async () => {
  github = await startIssuer();
  kubernetes = await startIssuer("/k8s");
});
after(async () => {
  await github?.close();
  await kubernetes?.close();
});

async function trust(issuer, extra = {}) {
  const r = await ctx.api.admin("POST", "/admin/federation/issuers", { issuer: issuer.issuer, audiences: [PLATFORM_AUDIENCE], ...extra });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  return r.json;
}

function exchange(subjectToken, clientId) {
  const form = new URLSearchParams({ grant_type: TOKEN_EXCHANGE, subject_token_type: JWT_TYPE, subject_token: subjectToken, client_id: clientId, resource: AUDIENCE });
  return ctx.api.token({ form: form.toString() });
}

/** A token exchange the test gives up on after `ms` (a status of 0 then). */
async function exchangeWithin(ms, subjectToken, clientId) {
  const form = new URLSearchParams({ grant_type: TOKEN_EXCHANGE, subject_token_type: JWT_TYPE, subject_token: subjectToken, client_id: clientId, resource: AUDIENCE });
  try {
    const r = await fetch(`${ctx.w.base}/oauth2/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: form.toString(),
      signal: AbortSignal.timeout(ms),
    });
    return { status: r.status, json: await r.json() };
  } catch {
    return { status: 0, json: null };
  }
}

/** `issuer` trusted with its keys at `<issuer><jwksPath>`, and a client of it. */
async function trustedWithKeysAt(issuer, jwksPath, name) {
  await trust(issuer, { jwks_uri: `${issuer.issuer}${jwksPath}` });
  return ctx.api.createClient({
    client_id: `${name}-${STORAGE}`,
    grants: [{ audience: AUDIENCE, scopes: ["deploy"] }],
    federated_credentials: [{ name: "release", issuer: issuer.issuer, subject: "repo:acme/deploy:environment:production" }],
  });
}

describe(`workload identity federation (${STORAGE})`, () => {
  test("a GitHub Actions token is exchanged for an access token naming the workload, once", async () => {
    await trust(github);
    // key-2 is published now but signs only later: a rotation as GitHub
    // and Kubernetes do it, the next key published before it is used.
    await github.rotate();
    const client = await ctx.api.createClient({
      client_id: `deploy-${STORAGE}`,
      grants: [{ audience: AUDIENCE, scopes: ["deploy"] }],
      federated_credentials: [{ name: "release", issuer: github.issuer, claims: { repository: "acme/deploy", environment: "production" } }],
    });
    const platformToken = await github.mint(githubClaims(), { audience: PLATFORM_AUDIENCE, kid: "key-1" });
    const r = await exchange(platformToken, client.client_id);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.issued_token_type, "urn:ietf:params:oauth:token-type:access_token");
    const jwks = createRemoteJWKSet(new URL(`${ctx.w.base}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(r.json.access_token, jwks, { issuer: ctx.w.base, audience: AUDIENCE, typ: "at+jwt" });
    assert.equal(payload.sub, client.client_id);
    assert.deepEqual(payload.act, { iss: github.issuer, sub: "repo:acme/deploy:environment:production", federated_credential: "release" });

    const replay = await exchange(platformToken, client.client_id);
    assert.equal(replay.status, 400);
    assert.equal(replay.json.error, "invalid_request");
    assert.equal(replay.json.error_description, "the platform token is not accepted for this client");

    const otherRepo = await exchange(await github.mint(githubClaims({ repository: "acme/other" }), { audience: PLATFORM_AUDIENCE, kid: "key-1" }), client.client_id);
    assert.equal(otherRepo.status, 400);
    const otherAudience = await exchange(await github.mint(githubClaims(), { audience: "someone-else", kid: "key-1" }), client.client_id);
    assert.equal(otherAudience.status, 400);

    const failures = await ctx.api.admin("GET", `/admin/clients/${client.client_id}/federation/failures`);
    assert.equal(failures.status, 200);
    const release = failures.json.failures.find((f) => f.credential === "release");
    assert.ok(release.count >= 3, JSON.stringify(failures.json));
    assert.match(release.last_reason, /aud is none of the issuer's allowed audiences/);

    // The issuer moves to key-2: its tokens verify with the set already
    // held. (A kid nobody published yet is refetched at most every 30 s:
    // crates/core/tests/federation.rs.)
    const rotated = await exchange(await github.mint(githubClaims(), { audience: PLATFORM_AUDIENCE, kid: "key-2" }), client.client_id);
    assert.equal(rotated.status, 200, JSON.stringify(rotated.json));
  });

  test("a Kubernetes service-account token works as a client assertion, reused while it lives", async () => {
    await trust(kubernetes, { single_use: false });
    const client = await ctx.api.createClient({
      client_id: `payments-${STORAGE}`,
      grants: [{ audience: AUDIENCE, scopes: ["read"] }],
      federated_credentials: [{ name: "payments-api", issuer: kubernetes.issuer, claims: { "/kubernetes.io/namespace": "payments", "/kubernetes.io/serviceaccount/name": "api" } }],
    });
    const token = await kubernetes.mint(kubernetesClaims(), { audience: PLATFORM_AUDIENCE, expiresIn: "1h" });
    for (let i = 0; i < 2; i++) {
      const form = new URLSearchParams({
        grant_type: "client_credentials",
        client_id: client.client_id,
        client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        client_assertion: token,
      });
      const r = await ctx.api.token({ form: form.toString() });
      assert.equal(r.status, 200, JSON.stringify(r.json));
    }
    const otherNamespace = await kubernetes.mint(kubernetesClaims({ namespace: "default" }), { audience: PLATFORM_AUDIENCE });
    const form = new URLSearchParams({
      grant_type: "client_credentials",
      client_id: client.client_id,
      client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
      client_assertion: otherNamespace,
    });
    const refused = await ctx.api.token({ form: form.toString() });
    assert.equal(refused.status, 401);
    assert.equal(refused.json.error, "invalid_client");
  });

  test("an issuer with a path whose metadata is where RFC 8414 puts it (inserted after the host) is found", async () => {
    const tenant = await startIssuer("/tenants/acme", { metadataAt: "inserted" });
    try {
      await trust(tenant);
      const client = await ctx.api.createClient({
        client_id: `tenant-${STORAGE}`,
        grants: [{ audience: AUDIENCE, scopes: ["deploy"] }],
        federated_credentials: [{ name: "release", issuer: tenant.issuer, subject: "repo:acme/deploy:environment:production" }],
      });
      const r = await exchange(await tenant.mint(githubClaims(), { audience: PLATFORM_AUDIENCE }), client.client_id);
      assert.equal(r.status, 200, JSON.stringify(r.json));
    } finally {
      await tenant.close();
    }
  });

  test("an unreachable issuer is a clear refusal, never a 5xx", async () => {
    const gone = await startIssuer("/gone");
    await trust(gone);
    const client = await ctx.api.createClient({
      client_id: `gone-${STORAGE}`,
      federated_credentials: [{ name: "ci-release", issuer: gone.issuer, subject: "repo:acme/deploy:environment:production" }],
    });
    const token = await gone.mint(githubClaims(), { audience: PLATFORM_AUDIENCE });
    await gone.close();
    const answers = await Promise.all(Array.from({ length: 5 }, () => exchange(token, client.client_id)));
    for (const a of answers) assert.equal(a.status, 400, JSON.stringify(a.json));
    const failures = await ctx.api.admin("GET", `/admin/clients/${client.client_id}/federation/failures`);
    assert.match(failures.json.failures[0].last_reason, /the issuer's keys are unavailable/);
  });
});

describe(`fetching an issuer's keys is bounded (${STORAGE})`, () => {
  test("a hung jwks_uri: concurrent token requests get the grant's error within the fetch timeout, after one fetch", async () => {
    const hung = await startIssuer("/hung");
    try {
      const client = await trustedWithKeysAt(hung, "/jwks-hang", "hung");
      const tokens = await Promise.all(Array.from({ length: 5 }, () => hung.mint(githubClaims(), { audience: PLATFORM_AUDIENCE })));
      const started = Date.now();
      const answers = await Promise.all(tokens.map((t) => exchangeWithin(15000, t, client.client_id)));
      const elapsed = Date.now() - started;
      for (const a of answers) {
        assert.equal(a.status, 400, JSON.stringify(a.json));
        assert.equal(a.json.error, "invalid_request");
      }
      assert.ok(elapsed < 9000, `answered after ${elapsed} ms`);
      assert.equal(hung.hits["/hung/jwks-hang"], 1, "one fetch in flight, the other requests waited for it");
    } finally {
      await hung.close();
    }
  });

  test("a redirect to another host is not followed", async () => {
    const moving = await startIssuer("/moving");
    const elsewhere = await startStatic(moving.jwks());
    try {
      moving.movedTo = elsewhere.url;
      const client = await trustedWithKeysAt(moving, "/jwks-moved", "moving");
      const r = await exchange(await moving.mint(githubClaims(), { audience: PLATFORM_AUDIENCE }), client.client_id);
      assert.equal(r.status, 400, JSON.stringify(r.json));
      assert.equal(moving.hits["/moving/jwks-moved"], 1);
      assert.equal(elsewhere.requests, 0, "the other host was never asked");
    } finally {
      await moving.close();
      await elsewhere.close();
    }
  });

  test("an oversized JWK set (10 MB) is refused", async () => {
    const huge = await startIssuer("/huge");
    try {
      const client = await trustedWithKeysAt(huge, "/jwks-huge", "huge");
      const r = await exchange(await huge.mint(githubClaims(), { audience: PLATFORM_AUDIENCE }), client.client_id);
      assert.equal(r.status, 400, JSON.stringify(r.json));
      const failures = await ctx.api.admin("GET", `/admin/clients/${client.client_id}/federation/failures`);
      assert.match(failures.json.failures[0].last_reason, /larger than 65536 bytes/);
    } finally {
      await huge.close();
    }
  });
});
