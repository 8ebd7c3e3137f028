// Ring 2, paired with crates/core/tests/private_key_jwt.rs: clients that
// authenticate with a JWT signed by their own key (RFC 7523 §2.2) in
// workerd, on the configured backend (the used-assertion store is D1 on
// both); and standard client libraries at their defaults against it:
// openid-client's PrivateKeyJwt, and Authlib's (Python, in .venv, run by
// tests/e2e/authlib_client.py).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { SignJWT, exportJWK, exportPKCS8, generateKeyPair, decodeJwt } from "jose";
import * as oidc from "openid-client";
import { shippedRateLimits, useWorker } from "./harness.mjs";

const ctx = useWorker();
const STORAGE = ctx.storage;
const ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const AUDIENCE = "https://api.example.com";
const PYTHON = fileURLToPath(new URL("../../.venv/bin/python", import.meta.url));
const AUTHLIB_CLIENT = fileURLToPath(new URL("./authlib_client.py", import.meta.url));

/** Authlib's token request (tests/e2e/authlib_client.py): its JSON output. */
function authlib(client, pem, params) {
  return new Promise((resolve, reject) => {
    const args = [AUTHLIB_CLIENT, `${ctx.w.base}/oauth2/token`, client.id, ...Object.entries(params).map(([k, v]) => `${k}=${v}`)];
    const child = spawn(PYTHON, args, { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`authlib_client.py exited ${code}: ${err}`))));
    child.stdin.end(pem);
  });
}

async function keyClient(kid, alg = "ES256") {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid };
  const r = await ctx.api.admin("POST", "/admin/clients", {
    name: `signed-${kid}`,
    token_endpoint_auth_method: "private_key_jwt",
    jwks: { keys: [jwk] },
    grants: [{ audience: AUDIENCE, scopes: ["read"] }],
  });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  assert.equal(r.json.client_secret, undefined);
  return { id: r.json.client_id, privateKey, kid, alg };
}

function assertion({ id, privateKey, kid, alg = "ES256" }, { exp = "2m" } = {}) {
  return new SignJWT({ jti: crypto.randomUUID() })
    .setProtectedHeader({ alg, typ: "JWT", kid })
    .setIssuer(id)
    .setSubject(id)
    .setAudience(`${ctx.w.base}/oauth2/token`)
    .setIssuedAt()
    .setExpirationTime(exp)
    .sign(privateKey);
}

function withAssertion(jwt, extra = "") {
  return ctx.api.token({ form: `grant_type=client_credentials&client_assertion_type=${encodeURIComponent(ASSERTION_TYPE)}&client_assertion=${jwt}${extra}` });
}

describe(`private_key_jwt (${STORAGE})`, () => {
  test("a signed assertion gets a token, once; a replay, another key or another audience does not", async () => {
    const client = await keyClient("k1");
    const jwt = await assertion(client);
    const ok = await withAssertion(jwt, `&resource=${encodeURIComponent(AUDIENCE)}`);
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    const claims = decodeJwt(ok.json.access_token);
    assert.equal(claims.sub, client.id);
    assert.equal(claims.aud, AUDIENCE);

    const replay = await withAssertion(jwt);
    assert.equal(replay.status, 401);
    assert.equal(replay.json.error, "invalid_client");

    const stranger = { ...client, privateKey: (await generateKeyPair("ES256")).privateKey };
    assert.equal((await withAssertion(await assertion(stranger))).status, 401);
    const elsewhere = await new SignJWT({ jti: crypto.randomUUID() })
      .setProtectedHeader({ alg: "ES256", kid: "k1" }).setIssuer(client.id).setSubject(client.id)
      .setAudience("https://other.example.com/oauth2/token").setIssuedAt().setExpirationTime("2m").sign(client.privateKey);
    assert.equal((await withAssertion(elsewhere)).status, 401);
    const tooLong = await assertion(client, { exp: "2h" });
    assert.equal((await withAssertion(tooLong)).status, 401);
  });

  test("aud: the issuer alone, or the token endpoint alone unless typed client-authentication+jwt (draft-ietf-oauth-rfc7523bis)", async () => {
    const client = await keyClient("aud1");
    const issuer = (await (await fetch(`${ctx.w.base}/.well-known/oauth-authorization-server`)).json()).issuer;
    const tokenEndpoint = `${ctx.w.base}/oauth2/token`;
    const send = async (typ, aud) => {
      const header = typ ? { alg: "ES256", kid: "aud1", typ } : { alg: "ES256", kid: "aud1" };
      const jwt = await new SignJWT({ jti: crypto.randomUUID() }).setProtectedHeader(header).setIssuer(client.id)
        .setSubject(client.id).setAudience(aud).setIssuedAt().setExpirationTime("1m").sign(client.privateKey);
      return (await withAssertion(jwt)).status;
    };
    const typed = "client-authentication+jwt";
    assert.equal(await send(typed, issuer), 200);
    assert.equal(await send(undefined, issuer), 200);
    assert.equal(await send("JWT", tokenEndpoint), 200);
    assert.equal(await send(typed, tokenEndpoint), 401);
    assert.equal(await send(undefined, [issuer, tokenEndpoint]), 401);
    assert.equal(await send(typed, [issuer, "https://other.example.com"]), 401);
  });

  test("malformed assertions (alg none, HS256, typ at+jwt) count against the client they name, as its log line names it", async () => {
    const client = await keyClient("bad1");
    const shipped = shippedRateLimits().AUTH_FAILURE_RATE_LIMIT.simple.limit;
    const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const claims = { iss: client.id, sub: client.id, aud: `${ctx.w.base}/oauth2/token`, exp: Math.floor(Date.now() / 1000) + 60 };
    const headers = [{ alg: "none" }, { alg: "HS256", kid: "bad1" }, { alg: "ES256", typ: "at+jwt", kid: "bad1" }];
    const from = (address, jwt) => ctx.api.token({
      form: `grant_type=client_credentials&client_assertion_type=${encodeURIComponent(ASSERTION_TYPE)}&client_assertion=${jwt}`,
      headers: { "cf-connecting-ip": address },
    });
    const malformed = (i) => `${b64(headers[i % headers.length])}.${b64({ ...claims, jti: crypto.randomUUID() })}.${"A".repeat(86)}`;
    for (let i = 0; i < shipped; i++) {
      const r = await from("198.51.100.77", malformed(i));
      assert.deepEqual([r.status, r.json.error], [401, "invalid_client"]);
    }
    assert.equal((await from("198.51.100.77", malformed(shipped))).status, 429, "over the failure limit");
    assert.equal((await from("198.51.100.77", await assertion(client))).status, 429, "locked out by the malformed ones");
    assert.equal((await from("198.51.100.78", await assertion(client))).status, 200);
  });

  test("an RSA key signs RS256 assertions (WebCrypto RSASSA-PKCS1-v1_5)", async () => {
    const client = await keyClient("r1", "RS256");
    const ok = await withAssertion(await assertion(client));
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.equal(decodeJwt(ok.json.access_token).sub, client.id);
    const stranger = { ...client, privateKey: (await generateKeyPair("RS256")).privateKey };
    assert.equal((await withAssertion(await assertion(stranger))).status, 401);
  });

  test("concurrent uses of one assertion: exactly one token", async () => {
    const client = await keyClient("k2");
    const jwt = await assertion(client);
    const answers = await Promise.all(Array.from({ length: 8 }, () => withAssertion(jwt)));
    const statuses = answers.map((a) => a.status).sort();
    assert.deepEqual(statuses, [200, 401, 401, 401, 401, 401, 401, 401]);
  });

  test("Authlib's PrivateKeyJWT with its defaults (RS256, exp = iat + 3600, aud the token endpoint) gets tokens", async () => {
    const client = await keyClient("py1", "RS256");
    const pem = await exportPKCS8(client.privateKey);
    for (let i = 0; i < 2; i++) {
      const out = await authlib(client, pem, { resource: AUDIENCE, scope: "read" });
      const sent = decodeJwt(out.assertion);
      assert.equal(sent.exp - sent.iat, 3600, "Authlib's lifetime, which it offers no way to change");
      assert.equal(sent.aud, `${ctx.w.base}/oauth2/token`);
      assert.equal(out.error, undefined, JSON.stringify(out));
      assert.equal(decodeJwt(out.token.access_token).client_id, client.id);
      assert.equal(out.token.scope, "read");
    }
  });

  test("openid-client's PrivateKeyJwt gets tokens from discovery alone, at its defaults (aud the issuer, 60 s)", async () => {
    const client = await keyClient("k3");
    const config = await oidc.discovery(new URL(ctx.w.base), client.id, {}, oidc.PrivateKeyJwt({ key: client.privateKey, kid: "k3" }), {
      execute: [oidc.allowInsecureRequests],
    });
    const sent = [];
    config[oidc.customFetch] = (url, options) => {
      sent.push(new URLSearchParams(options.body).get("client_assertion"));
      return fetch(url, options);
    };
    for (let i = 0; i < 2; i++) {
      const tokens = await oidc.clientCredentialsGrant(config, { resource: AUDIENCE, scope: "read" });
      assert.equal(decodeJwt(tokens.access_token).client_id, client.id);
      assert.equal(tokens.scope, "read");
    }
    const claims = decodeJwt(sent[0]);
    assert.equal(claims.aud, config.serverMetadata().issuer);
    assert.equal(claims.exp - claims.iat, 60);
  });
});
