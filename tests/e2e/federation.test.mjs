// Ring 2, paired with crates/core/tests/federation.rs: workload identity
// federation in workerd on the configured backend, against a local OIDC
// issuer (tests/e2e/oidc-issuer.mjs) that the worker reaches over HTTP:
// GitHub-Actions-shaped tokens by token exchange, Kubernetes-shaped ones
// as client assertions, a key rotation at the issuer, an issuer gone away.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { useWorker } from "./harness.mjs";
import { startIssuer, startOidcProvider, startStatic, githubClaims, kubernetesClaims } from "./oidc-issuer.mjs";

const ctx = useWorker();
const STORAGE = ctx.storage;
const AUDIENCE = "https://api.example.com";
const PLATFORM_AUDIENCE = "m2m-edge";
const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const JWT_TYPE = "urn:ietf:params:oauth:token-type:jwt";
const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";

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
    // Recorded once per credential per isolate every 10 s (a stranger's
    // flood costs no write per request): the first of the three refusals.
    const release = failures.json.failures.find((f) => f.credential === "release");
    assert.equal(release.count, 1, JSON.stringify(failures.json));
    assert.match(release.last_reason, /token already used \(jti\)/);

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
    // Unverifiable, so anyone could have sent it: logged, never written.
    const failures = await ctx.api.admin("GET", `/admin/clients/${client.client_id}/federation/failures`);
    assert.deepEqual(failures.json.failures, []);
  });

  test("a forged platform token writes nothing; a signed one that matches no credential is recorded", async () => {
    const forger = await startIssuer("/forged");
    try {
      await trust(forger);
      const client = await ctx.api.createClient({
        client_id: `forged-${STORAGE}`,
        grants: [{ audience: AUDIENCE, scopes: ["deploy"] }],
        federated_credentials: [
          { name: "release", issuer: forger.issuer, subject: "repo:acme/deploy:environment:production" },
          { name: "main-branch", issuer: forger.issuer, claims: { repository: "acme/deploy", ref: "refs/heads/main" } },
        ],
      });
      const signed = await forger.mint(githubClaims(), { audience: PLATFORM_AUDIENCE });
      const input = signed.slice(0, signed.lastIndexOf("."));
      for (let i = 0; i < 8; i++) {
        const forged = `${input}.${Buffer.from(crypto.getRandomValues(new Uint8Array(256))).toString("base64url")}`;
        const r = await exchange(forged, client.client_id);
        assert.equal(r.status, 400, JSON.stringify(r.json));
      }
      const none = await ctx.api.admin("GET", `/admin/clients/${client.client_id}/federation/failures`);
      assert.deepEqual(none.json.failures, []);

      // A stranger's genuine tokens (anyone can mint a GitHub Actions token
      // for a repository of their own): recorded, at most once per
      // credential per isolate every 10 s, not once per request.
      for (let i = 0; i < 2; i++) {
        const otherRepo = await forger.mint(githubClaims({ repository: "acme/other" }), { audience: PLATFORM_AUDIENCE });
        assert.equal((await exchange(otherRepo, client.client_id)).status, 400);
      }
      const recorded = await ctx.api.admin("GET", `/admin/clients/${client.client_id}/federation/failures`);
      assert.deepEqual(recorded.json.failures.map((f) => [f.credential, f.count]).sort(), [["main-branch", 1], ["release", 1]]);
    } finally {
      await forger.close();
    }
  });

  test("a platform token issued at the dawn of time (iat = i64::MIN) is refused, not wrapped into the present", async () => {
    const dawn = await startIssuer("/dawn");
    try {
      await trust(dawn);
      const client = await ctx.api.createClient({
        client_id: `dawn-${STORAGE}`,
        grants: [{ audience: AUDIENCE, scopes: ["deploy"] }],
        federated_credentials: [{ name: "release", issuer: dawn.issuer, subject: "repo:acme/deploy:environment:production" }],
      });
      const now = Math.floor(Date.now() / 1000);
      const claims = (iat) =>
        `{"iss":${JSON.stringify(dawn.issuer)},"aud":"${PLATFORM_AUDIENCE}","sub":"repo:acme/deploy:environment:production",` +
        `"iat":${iat},"exp":${now + 300},"jti":"${crypto.randomUUID()}"}`;
      const refused = await exchange(await dawn.mintRaw(claims("-9223372036854775808")), client.client_id);
      assert.equal(refused.status, 400, JSON.stringify(refused.json));
      assert.equal(refused.json.error, "invalid_request");
      const failures = await ctx.api.admin("GET", `/admin/clients/${client.client_id}/federation/failures`);
      assert.match(failures.json.failures[0].last_reason, /older than the issuer's max_token_age/);
      const fresh = await exchange(await dawn.mintRaw(claims(now - 5)), client.client_id);
      assert.equal(fresh.status, 200, JSON.stringify(fresh.json));
    } finally {
      await dawn.close();
    }
  });

  test("a credential that names no workload is refused; a single-use issuer's token without jti is refused", async () => {
    const platform = await startIssuer("/platform");
    try {
      await trust(platform);
      const wholePlatform = { name: "everyone", issuer: platform.issuer, claims: { iss: platform.issuer } };
      const created = await ctx.api.admin("POST", "/admin/clients", {
        client_id: `everyone-${STORAGE}`,
        name: "everyone",
        grants: [{ audience: AUDIENCE, scopes: ["deploy"] }],
        federated_credentials: [wholePlatform],
      });
      assert.equal(created.status, 400, JSON.stringify(created.json));
      assert.equal(created.json.field, "federated_credentials[0].claims");
      const client = await ctx.api.createClient({
        client_id: `workload-${STORAGE}`,
        grants: [{ audience: AUDIENCE, scopes: ["deploy"] }],
        federated_credentials: [{ name: "release", issuer: platform.issuer, claims: { repository: "acme/deploy" } }],
      });
      for (const claims of [{ "/aud/0": PLATFORM_AUDIENCE, jti: "x" }, { exp: "1", nbf: "1", iat: "1" }]) {
        const patched = await ctx.api.admin("PATCH", `/admin/clients/${client.client_id}`, {
          federated_credentials: [{ name: "everyone", issuer: platform.issuer, claims }],
        });
        assert.equal(patched.status, 400, JSON.stringify(patched.json));
        assert.equal(patched.json.field, "federated_credentials[0].claims");
      }

      const now = Math.floor(Date.now() / 1000);
      const withoutJti = await platform.mintRaw(
        JSON.stringify({ iss: platform.issuer, aud: PLATFORM_AUDIENCE, ...githubClaims(), iat: now, exp: now + 300 }),
      );
      for (let i = 0; i < 2; i++) {
        const r = await exchange(withoutJti, client.client_id);
        assert.equal(r.status, 400, JSON.stringify(r.json));
      }
      const failures = await ctx.api.admin("GET", `/admin/clients/${client.client_id}/federation/failures`);
      assert.match(failures.json.failures[0].last_reason, /no jti/);
    } finally {
      await platform.close();
    }
  });

  test("a platform token without a subject is refused: act.sub is never empty", async () => {
    const platform = await startIssuer("/no-sub");
    try {
      await trust(platform);
      const client = await ctx.api.createClient({
        client_id: `no-sub-${STORAGE}`,
        grants: [{ audience: AUDIENCE, scopes: ["deploy"] }],
        federated_credentials: [{ name: "main-branch", issuer: platform.issuer, claims: { repository: "acme/deploy", ref: "refs/heads/main" } }],
      });
      const now = Math.floor(Date.now() / 1000);
      for (const sub of [undefined, "", 7]) {
        const claims = { ...githubClaims(), sub, iss: platform.issuer, aud: PLATFORM_AUDIENCE, iat: now, exp: now + 300, jti: crypto.randomUUID() };
        const r = await exchange(await platform.mintRaw(JSON.stringify(claims)), client.client_id);
        assert.equal(r.status, 400, `sub ${JSON.stringify(sub)}: ${JSON.stringify(r.json)}`);
      }
      const failures = await ctx.api.admin("GET", `/admin/clients/${client.client_id}/federation/failures`);
      assert.match(failures.json.failures[0].last_reason, /no sub/);
    } finally {
      await platform.close();
    }
  });

  test("the JWT bearer grant and token exchange take client authentication when sent, for the same client only", async () => {
    const platform = await startIssuer("/authenticated");
    try {
      await trust(platform);
      const client = await ctx.api.createClient({
        client_id: `authenticated-${STORAGE}`,
        grants: [{ audience: AUDIENCE, scopes: ["deploy"] }],
        federated_credentials: [{ name: "release", issuer: platform.issuer, subject: "repo:acme/deploy:environment:production" }],
      });
      const other = await ctx.api.createClient({ client_id: `bystander-${STORAGE}`, grants: [{ audience: AUDIENCE, scopes: ["deploy"] }] });
      const mint = () => platform.mint(githubClaims(), { audience: PLATFORM_AUDIENCE });
      const bearer = async (extra = {}) => new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion: await mint(), ...extra }).toString();

      // As libraries that always authenticate send it (RFC 7523 §2.1).
      const basic = await ctx.api.token({ basic: [client.client_id, client.client_secret], form: await bearer() });
      assert.equal(basic.status, 200, JSON.stringify(basic.json));
      const posted = await ctx.api.token({
        form: new URLSearchParams({
          grant_type: TOKEN_EXCHANGE,
          subject_token_type: JWT_TYPE,
          subject_token: await mint(),
          client_id: client.client_id,
          client_secret: client.client_secret,
          resource: AUDIENCE,
        }).toString(),
      });
      assert.equal(posted.status, 200, JSON.stringify(posted.json));
      assert.equal(posted.json.issued_token_type, "urn:ietf:params:oauth:token-type:access_token");

      const wrong = await ctx.api.token({ basic: [client.client_id, "not-the-secret"], form: await bearer() });
      assert.equal(wrong.status, 401, JSON.stringify(wrong.json));
      assert.equal(wrong.json.error, "invalid_client");
      const someoneElse = await ctx.api.token({ basic: [other.client_id, other.client_secret], form: await bearer({ client_id: client.client_id }) });
      assert.equal(someoneElse.status, 401, JSON.stringify(someoneElse.json));
      assert.equal(someoneElse.json.error, "invalid_client");
    } finally {
      await platform.close();
    }
  });

  test("node-oidc-provider's RFC 9068 access tokens (typ at+jwt) are exchanged, unless the issuer is told not to", async () => {
    const op = await startOidcProvider({ audience: PLATFORM_AUDIENCE });
    try {
      const trusted = await trust(op);
      assert.equal(trusted.accept_access_tokens, true);
      const client = await ctx.api.createClient({
        client_id: `from-idp-${STORAGE}`,
        grants: [{ audience: AUDIENCE, scopes: ["deploy"] }],
        federated_credentials: [{ name: "ci-runner", issuer: op.issuer, subject: op.clientId }],
      });
      const exchangeAccessToken = async () =>
        ctx.api.token({
          form: new URLSearchParams({
            grant_type: TOKEN_EXCHANGE,
            subject_token_type: ACCESS_TOKEN_TYPE,
            subject_token: await op.accessToken(),
            client_id: client.client_id,
            resource: AUDIENCE,
          }).toString(),
        });
      const r = await exchangeAccessToken();
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.equal(r.json.issued_token_type, ACCESS_TOKEN_TYPE);
      const jwks = createRemoteJWKSet(new URL(`${ctx.w.base}/.well-known/jwks.json`));
      const { payload } = await jwtVerify(r.json.access_token, jwks, { issuer: ctx.w.base, audience: AUDIENCE, typ: "at+jwt" });
      assert.deepEqual(payload.act, { iss: op.issuer, sub: op.clientId, federated_credential: "ci-runner" });

      const bearer = await ctx.api.token({
        form: new URLSearchParams({
          grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer",
          assertion: await op.accessToken(),
          client_id: client.client_id,
        }).toString(),
      });
      assert.equal(bearer.status, 200, JSON.stringify(bearer.json));

      const off = await ctx.api.admin("PATCH", `/admin/federation/issuers/${trusted.id}`, { accept_access_tokens: false });
      assert.equal(off.status, 200, JSON.stringify(off.json));
      assert.equal(off.json.accept_access_tokens, false);
      const refused = await exchangeAccessToken();
      assert.equal(refused.status, 400, JSON.stringify(refused.json));
      assert.equal(refused.json.error, "invalid_request");
    } finally {
      await op.close();
    }
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
      assert.equal(huge.hits["/huge/jwks-huge"], 1, "fetched once, refused (the host test names the 64 KiB cap)");
      // Keys that cannot be had are logged, not recorded: anyone can cause that.
      const failures = await ctx.api.admin("GET", `/admin/clients/${client.client_id}/federation/failures`);
      assert.deepEqual(failures.json.failures, []);
    } finally {
      await huge.close();
    }
  });
});
