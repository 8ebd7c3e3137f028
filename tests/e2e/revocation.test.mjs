// Ring 2, paired with crates/core/tests/revocation.rs: RFC 7009 revocation
// and RFC 7662 introspection in workerd on local D1, called by
// openid-client (and through it oauth4webapi) and by Authlib at their
// defaults; the admin API's revocations; each seen by the next request.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { decodeJwt } from "jose";
import * as oidc from "openid-client";
import { useWorker } from "./harness.mjs";

const ctx = useWorker();
const STORAGE = ctx.storage;
const AUDIENCE = "https://api.example.com";
const PYTHON = fileURLToPath(new URL("../../.venv/bin/python", import.meta.url));
const AUTHLIB = fileURLToPath(new URL("./authlib_revocation.py", import.meta.url));

/** Authlib's call (tests/e2e/authlib_revocation.py): {status, body}. */
function authlib(client, action, token, hint) {
  return new Promise((resolve, reject) => {
    const args = [AUTHLIB, ctx.w.base, client.client_id, client.client_secret, action, token, ...(hint ? [hint] : [])];
    const child = spawn(PYTHON, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`authlib_revocation.py exited ${code}: ${err}`))));
  });
}

/** openid-client configured from discovery alone, at its defaults (client_secret_post). */
async function configFor(client) {
  return oidc.discovery(new URL(ctx.w.base), client.client_id, client.client_secret, undefined, {
    execute: [oidc.allowInsecureRequests],
  });
}

async function introspector(project) {
  const audience = `${ctx.w.base}/admin`;
  return ctx.api.createClient({ name: "resource-server", grants: [{ audience, scopes: ["tokens:introspect"] }], ...(project ? { project_id: project } : {}) });
}

async function tokenOf(client) {
  const t = await ctx.api.token({ basic: [client.client_id, client.client_secret], form: "grant_type=client_credentials" });
  assert.equal(t.status, 200, JSON.stringify(t.json));
  return t.json.access_token;
}

describe(`revocation and introspection (${STORAGE})`, () => {
  test("openid-client: discovery names both endpoints; introspect, revoke, introspect again", async () => {
    const client = await ctx.api.createClient();
    const rs = await introspector();
    const config = await configFor(client);
    const metadata = config.serverMetadata();
    assert.equal(metadata.revocation_endpoint, `${ctx.w.base}/oauth2/revoke`);
    assert.equal(metadata.introspection_endpoint, `${ctx.w.base}/oauth2/introspect`);

    const { access_token: token } = await oidc.clientCredentialsGrant(config, { resource: AUDIENCE });
    const rsConfig = await configFor(rs);
    const live = await oidc.tokenIntrospection(rsConfig, token);
    assert.equal(live.active, true);
    assert.equal(live.client_id, client.client_id);
    assert.equal(live.aud, AUDIENCE);
    assert.equal(live.token_type, "Bearer");
    assert.equal(live.jti, decodeJwt(token).jti);

    await oidc.tokenRevocation(config, token);
    const after = await oidc.tokenIntrospection(rsConfig, token);
    assert.deepEqual({ ...after }, { active: false });

    // The client's own credentials do not introspect.
    await assert.rejects(oidc.tokenIntrospection(config, token), (e) => e.error === "unauthorized_client");
    // Another client's token is refused (RFC 7009 §2.1), and stays good.
    const other = await ctx.api.createClient();
    const theirs = await tokenOf(other);
    await assert.rejects(oidc.tokenRevocation(config, theirs), (e) => e.error === "invalid_grant");
    assert.equal((await oidc.tokenIntrospection(rsConfig, theirs)).active, true);
  });

  test("Authlib at its defaults (client_secret_basic): introspect and revoke with a hint", async () => {
    const client = await ctx.api.createClient();
    const rs = await introspector();
    const token = await tokenOf(client);
    const live = await authlib(rs, "introspect", token, "access_token");
    assert.equal(live.status, 200);
    assert.equal(live.body.active, true);
    assert.equal(live.body.sub, client.client_id);
    const revoked = await authlib(client, "revoke", token, "refresh_token");
    assert.deepEqual(revoked, { status: 200, body: null });
    assert.deepEqual((await authlib(rs, "introspect", token)).body, { active: false });
    assert.equal((await authlib(client, "revoke", "not-a-token")).status, 200, "RFC 7009 §2.2");
    const wrong = await authlib({ ...client, client_secret: "m2msk_wrong" }, "revoke", token);
    assert.equal(wrong.status, 401);
  });

  test("the admin API revokes a jti, a client's and a project's tokens; deactivation and a revoked admin token", async () => {
    const project = `rev-${STORAGE}`;
    const created = await ctx.api.admin("POST", "/admin/projects", { id: project, name: project, allowed_grants: [{ audience: AUDIENCE, scopes: ["read"] }] });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const rs = await introspector();
    const rsConfig = await configFor(rs);
    const active = async (token) => (await oidc.tokenIntrospection(rsConfig, token)).active;

    const client = await ctx.api.createClient();
    const one = await tokenOf(client);
    const r = await ctx.api.admin("POST", "/admin/tokens/revoke", { jti: decodeJwt(one).jti });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(await active(one), false);

    const two = await tokenOf(client);
    assert.equal((await ctx.api.admin("POST", `/admin/clients/${client.client_id}/tokens/revoke`)).status, 200);
    assert.equal(await active(two), false);

    const member = await ctx.api.createClient({ project_id: project, grants: [{ audience: AUDIENCE, scopes: ["read"] }] });
    const three = await tokenOf(member);
    assert.equal((await ctx.api.admin("POST", `/admin/projects/${project}/tokens/revoke`)).status, 200);
    assert.equal(await active(three), false);

    // Deactivation ends the tokens in flight.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const four = await tokenOf(member);
    assert.equal(await active(four), true);
    assert.equal((await ctx.api.admin("PATCH", `/admin/clients/${member.client_id}`, { status: "inactive" })).status, 200);
    assert.equal(await active(four), false);

    // An admin token revoked by its own client opens nothing more.
    const admin = await ctx.api.createClient({ name: "admin", grants: [{ audience: `${ctx.w.base}/admin`, scopes: ["clients:read"] }] });
    const adminToken = (await ctx.api.token({ basic: [admin.client_id, admin.client_secret], form: `grant_type=client_credentials` })).json.access_token;
    assert.equal((await ctx.api.withToken(adminToken, "GET", "/admin/clients")).status, 200);
    await oidc.tokenRevocation(await configFor(admin), adminToken);
    const refused = await ctx.api.withToken(adminToken, "GET", "/admin/clients");
    assert.equal(refused.status, 401);
    assert.match(refused.challenge, /invalid_token/);

    const trail = await ctx.api.admin("GET", "/admin/audit");
    const actions = new Set(trail.json.events.map((e) => e.action));
    for (const action of ["token.revoke", "client.tokens.revoke", "project.tokens.revoke"]) assert.ok(actions.has(action), action);
  });
});
