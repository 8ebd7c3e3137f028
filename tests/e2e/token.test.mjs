// Ring 2: the built wasm in workerd (Miniflare) with a real local D1.
// Tokens are verified by an independent library (jose) against the served JWKS.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRemoteJWKSet, jwtVerify, calculateJwkThumbprint, decodeProtectedHeader } from "jose";
import { useWorker } from "./harness.mjs";

const ctx = useWorker();
const STORAGE = ctx.storage;

async function verify(token, audience) {
  const jwks = createRemoteJWKSet(new URL(`${ctx.w.base}/.well-known/jwks.json`));
  return jwtVerify(token, jwks, { issuer: ctx.w.base, audience, typ: "at+jwt", algorithms: ["ES256"] });
}

describe(`token endpoint (${STORAGE})`, () => {
  test("client_secret_basic: token verifies with jose and carries RFC 9068 claims", async () => {
    const c = await ctx.api.createClient({ custom_claims: { tenant: "acme" } });
    assert.match(c.client_secret, /^m2msk_[A-Za-z0-9_-]{43}$/);
    const r = await ctx.api.token({ basic: [c.client_id, c.client_secret], form: "grant_type=client_credentials" });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("cache-control"), "no-store");
    assert.equal(r.json.token_type, "Bearer");
    assert.equal(r.json.expires_in, 3600);
    assert.equal(r.json.scope, "read write");
    const { payload, protectedHeader } = await verify(r.json.access_token, "https://api.example.com");
    assert.equal(protectedHeader.alg, "ES256");
    assert.equal(protectedHeader.typ, "at+jwt");
    assert.equal(payload.sub, c.client_id);
    assert.equal(payload.client_id, c.client_id);
    assert.equal(payload.scope, "read write");
    assert.equal(payload.tenant, "acme");
    assert.equal(payload.exp - payload.iat, 3600);
    assert.equal(payload.nbf, payload.iat);
    assert.equal(Buffer.from(payload.jti, "base64url").length, 16);
  });

  test("client_secret_post and a JSON body", async () => {
    const c = await ctx.api.createClient();
    const form = new URLSearchParams({ grant_type: "client_credentials", client_id: c.client_id, client_secret: c.client_secret, scope: "read" });
    const r1 = await ctx.api.token({ form: form.toString() });
    assert.equal(r1.status, 200);
    assert.equal((await verify(r1.json.access_token, "https://api.example.com")).payload.scope, "read");
    const r2 = await ctx.api.token({ json: { grant_type: "client_credentials", client_id: c.client_id, client_secret: c.client_secret } });
    assert.equal(r2.status, 200);
    await verify(r2.json.access_token, "https://api.example.com");
  });

  test("a workerd-signed token also verifies with p256/jwt-compact", async () => {
    const c = await ctx.api.createClient();
    const r = await ctx.api.token({ basic: [c.client_id, c.client_secret], form: "grant_type=client_credentials" });
    const dir = mkdtempSync(join(tmpdir(), "m2m-"));
    const jwksFile = join(dir, "jwks.json");
    writeFileSync(jwksFile, await (await fetch(`${ctx.w.base}/.well-known/jwks.json`)).text());
    const out = execFileSync("cargo", ["run", "-q", "-p", "m2m-edge-testkit", "--example", "verify_token", "--", jwksFile, r.json.access_token], { encoding: "utf8" });
    assert.equal(JSON.parse(out).client_id, c.client_id);
  });

  test("resource / audience / scope negotiation", async () => {
    const c = await ctx.api.createClient({
      grants: [
        { audience: "https://a.example.com", scopes: ["a:read", "a:write"] },
        { audience: "urn:example:b", scopes: ["b:read"] },
      ],
    });
    const ask = (extra) => ctx.api.token({ basic: [c.client_id, c.client_secret], form: `grant_type=client_credentials${extra}` });
    assert.equal((await ask("")).json.error, "invalid_target");
    const r = await ask("&resource=https%3A%2F%2Fa.example.com&scope=a%3Awrite");
    assert.equal(r.status, 200);
    const { payload } = await verify(r.json.access_token, "https://a.example.com");
    assert.equal(payload.scope, "a:write");
    const b = await ask("&audience=urn%3Aexample%3Ab");
    assert.equal(b.json.scope, "b:read");
    await verify(b.json.access_token, "urn:example:b");
    assert.equal((await ask("&resource=https%3A%2F%2Fnot-granted.example.com")).json.error, "invalid_target");
    assert.equal((await ask("&resource=urn%3Aexample%3Ab&scope=a%3Aread")).json.error, "invalid_scope");
    assert.equal((await ask("&resource=urn%3Aexample%3Ab&scope=b%3Aread%20admin")).json.error, "invalid_scope");
  });

  test("every malformed request gets the RFC error JSON, never a 5xx", async () => {
    const c = await ctx.api.createClient();
    const basic = [c.client_id, c.client_secret];
    const cases = [
      ["wrong content type", { basic, form: "grant_type=client_credentials", headers: { "content-type": "text/plain" } }, 400, "invalid_request"],
      ["body over 16 KiB", { basic, form: `grant_type=client_credentials&pad=${"x".repeat(17 * 1024)}` }, 413, "invalid_request"],
      ["bad percent-encoding", { basic, form: "grant_type=client_credentials&scope=%zz" }, 400, "invalid_request"],
      ["non-UTF-8", { basic, form: Buffer.from([0x67, 0x72, 0x61, 0x6e, 0x74, 0x5f, 0x74, 0x79, 0x70, 0x65, 0x3d, 0xff, 0xfe]) }, 400, "invalid_request"],
      ["repeated parameter", { basic, form: "grant_type=client_credentials&scope=read&scope=write" }, 400, "invalid_request"],
      ["missing grant_type", { basic, form: "scope=read" }, 400, "invalid_request"],
      ["unsupported grant", { basic, form: "grant_type=authorization_code&code=x" }, 400, "unsupported_grant_type"],
      ["JSON array", { basic, json: "[1,2]" }, 400, "invalid_request"],
      ["JSON wrong type", { basic, json: { grant_type: 5 } }, 400, "invalid_request"],
      ["truncated JSON", { basic, json: "{\"grant_type\":" }, 400, "invalid_request"],
      ["both auth methods", { basic, form: `grant_type=client_credentials&client_id=${c.client_id}&client_secret=${c.client_secret}` }, 400, "invalid_request"],
      ["bad base64 in Basic", { form: "grant_type=client_credentials", headers: { authorization: "Basic ***" } }, 401, "invalid_client"],
      ["huge Authorization header", { form: "grant_type=client_credentials", headers: { authorization: `Basic ${"A".repeat(30000)}` } }, 401, "invalid_client"],
      ["huge other header", { basic, form: "grant_type=client_credentials", headers: { "x-filler": "y".repeat(30000) } }, 200, undefined],
    ];
    for (const [name, req, status, error] of cases) {
      const r = await ctx.api.token(req);
      assert.equal(r.status, status, `${name}: ${JSON.stringify(r.json)}`);
      if (error) {
        assert.equal(r.json.error, error, name);
        assert.equal(typeof r.json.error_description, "string", name);
        assert.equal(r.headers.get("cache-control"), "no-store", name);
      }
    }
    const get = await fetch(`${ctx.w.base}/oauth2/token`);
    assert.equal(get.status, 405);
    assert.equal((await get.json()).error, "invalid_request");
  });

  test("authentication failures are one indistinguishable invalid_client", async () => {
    const c = await ctx.api.createClient();
    const attempts = [
      await ctx.api.token({ basic: [c.client_id, "m2msk_wrong"], form: "grant_type=client_credentials" }),
      await ctx.api.token({ basic: ["m2m_00000000000000000000000000000000", c.client_secret], form: "grant_type=client_credentials" }),
      await ctx.api.token({ basic: ["not-an-id", c.client_secret], form: "grant_type=client_credentials" }),
      await ctx.api.token({ form: `grant_type=client_credentials&client_id=${c.client_id}&client_secret=nope` }),
      await ctx.api.token({ form: "grant_type=client_credentials" }),
    ];
    for (const r of attempts) {
      assert.equal(r.status, 401);
      assert.deepEqual(r.json, attempts[0].json);
      assert.match(r.headers.get("www-authenticate"), /^Basic realm="/);
    }
    assert.equal(attempts[0].json.error, "invalid_client");
  });

  test("lifecycle: deactivate stops tokens at once, reactivate restores, delete removes", async () => {
    const c = await ctx.api.createClient({ token_ttl: 120 });
    const ask = () => ctx.api.token({ basic: [c.client_id, c.client_secret], form: "grant_type=client_credentials" });
    const first = await ask();
    assert.equal(first.json.expires_in, 120);
    const path = `/admin/clients/${c.client_id}`;
    assert.equal((await ctx.api.admin("PATCH", path, { status: "inactive" })).json.status, "inactive");
    assert.equal((await ask()).json.error, "invalid_client");
    // Tokens issued before stay valid until they expire.
    await verify(first.json.access_token, "https://api.example.com");
    await ctx.api.admin("PATCH", path, { status: "active" });
    assert.equal((await ask()).status, 200);
    assert.equal((await ctx.api.admin("DELETE", path)).status, 204);
    assert.equal((await ask()).json.error, "invalid_client");
    assert.equal((await ctx.api.admin("GET", path)).status, 404);
  });
});

describe(`keys and discovery (${STORAGE})`, () => {
  test("JWKS: public keys, thumbprint kid, cacheable, CORS open", async () => {
    const r = await fetch(`${ctx.w.base}/.well-known/jwks.json`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get("cache-control"), /^public, max-age=\d+$/);
    assert.equal(r.headers.get("access-control-allow-origin"), "*");
    const { keys } = await r.json();
    assert.equal(keys.length, 1);
    assert.equal(keys[0].d, undefined);
    assert.equal(keys[0].use, "sig");
    assert.equal(keys[0].alg, "ES256");
    assert.equal(keys[0].kid, await calculateJwkThumbprint(keys[0], "sha256"));
    const c = await ctx.api.createClient();
    const t = await ctx.api.token({ basic: [c.client_id, c.client_secret], form: "grant_type=client_credentials" });
    assert.equal(decodeProtectedHeader(t.json.access_token).kid, keys[0].kid);
  });

  test("RFC 8414 metadata at both well-known paths; issuer equals iss", async () => {
    for (const path of ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"]) {
      const d = await (await fetch(`${ctx.w.base}${path}`)).json();
      assert.equal(d.issuer, ctx.w.base);
      assert.equal(d.token_endpoint, `${ctx.w.base}/oauth2/token`);
      assert.equal(d.jwks_uri, `${ctx.w.base}/.well-known/jwks.json`);
      assert.deepEqual(d.grant_types_supported, ["client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange", "urn:ietf:params:oauth:grant-type:jwt-bearer"]);
      assert.deepEqual(d.token_endpoint_auth_methods_supported, ["client_secret_basic", "client_secret_post", "private_key_jwt"]);
      assert.deepEqual(d.response_types_supported, []);
    }
  });
});
