// Ring 2, paired with crates/core/tests/least_privilege.rs: every attack of
// a project admin that holds only `clients:read clients:write` on a more
// privileged admin client of its project is refused, in workerd, on the
// configured backend; scopes are live; a token belongs to one incarnation
// of its client; a project's admins grant only its allowed_grants.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { SignJWT, exportJWK, generateKeyPair } from "jose";
import { useWorker } from "./harness.mjs";

const ctx = useWorker();
const STORAGE = ctx.storage;
const API = [{ audience: "https://api.example.com", scopes: ["read"] }];
const GITHUB = "https://token.actions.githubusercontent.com";

const call = (...args) => ctx.api.withToken(...args);

const audience = () => `${ctx.w.base}/admin`;
const adminGrants = (scopes) => [{ audience: audience(), scopes }];

async function tokenOf(id, secret) {
  const t = await ctx.api.token({ basic: [id, secret], form: `grant_type=client_credentials&resource=${encodeURIComponent(audience())}` });
  assert.equal(t.status, 200, JSON.stringify(t.json));
  return t.json.access_token;
}

/** An admin client made by the root key, and its token. */
async function adminClient(body) {
  const made = await ctx.api.admin("POST", "/admin/clients", { name: "admin", ...body });
  assert.equal(made.status, 201, JSON.stringify(made.json));
  return { id: made.json.client_id, secret: made.json.client_secret, token: await tokenOf(made.json.client_id, made.json.client_secret) };
}

let n = 0;
async function project() {
  const id = `lp-${STORAGE}-${++n}`;
  assert.equal((await ctx.api.admin("POST", "/admin/projects", { id, name: id, allowed_grants: API })).status, 201);
  return id;
}

describe(`least privilege (${STORAGE})`, () => {
  test("a lower admin cannot take over a higher private_key_jwt admin client by replacing its keys", async () => {
    const p = await project();
    const attacker = await adminClient({ project_id: p, grants: adminGrants(["clients:read", "clients:write"]) });
    const theirs = await generateKeyPair("ES256", { extractable: true });
    const auditor = await ctx.api.admin("POST", "/admin/clients", {
      project_id: p, name: "auditor", token_endpoint_auth_method: "private_key_jwt",
      jwks: { keys: [{ ...(await exportJWK(theirs.publicKey)), kid: "theirs" }] }, grants: adminGrants(["audit:read"]),
    });
    assert.equal(auditor.status, 201);
    const mine = await generateKeyPair("ES256", { extractable: true });
    const patched = await call(attacker.token, "PATCH", `/admin/clients/${auditor.json.client_id}`, { jwks: { keys: [{ ...(await exportJWK(mine.publicKey)), kid: "mine" }] } });
    assert.equal(patched.status, 403, JSON.stringify(patched.json));
    assert.match(patched.json.error_description, /audit:read/);
    // Its own key cannot sign for the auditor.
    const assertion = await new SignJWT({ jti: crypto.randomUUID() })
      .setProtectedHeader({ alg: "ES256", kid: "mine" })
      .setIssuer(auditor.json.client_id).setSubject(auditor.json.client_id).setAudience(`${ctx.w.base}/oauth2/token`)
      .setIssuedAt().setExpirationTime("2m").sign(mine.privateKey);
    const t = await ctx.api.token({ form: `grant_type=client_credentials&resource=${encodeURIComponent(audience())}&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=${assertion}` });
    assert.equal(t.status, 401);
    assert.equal((await call(attacker.token, "GET", "/admin/audit")).status, 403);
  });

  test("nor plant federated credentials on it, re-activate it, rotate its secret or delete it", async () => {
    const p = await project();
    assert.ok([201, 409].includes((await ctx.api.admin("POST", "/admin/federation/issuers", { issuer: GITHUB, name: "GitHub", audiences: ["https://auth.m2m.test"] })).status));
    const attacker = await adminClient({ project_id: p, grants: adminGrants(["clients:read", "clients:write", "clients:rotate"]) });
    const higher = await adminClient({ project_id: p, grants: adminGrants(["clients:read", "clients:write", "clients:rotate", "audit:read"]) });
    const path = `/admin/clients/${higher.id}`;
    const planted = await call(attacker.token, "PATCH", path, { federated_credentials: [{ name: "mine", issuer: GITHUB, subject: "repo:attacker/x:ref:refs/heads/main" }] });
    assert.equal(planted.status, 403, JSON.stringify(planted.json));
    assert.equal((await call(attacker.token, "POST", `${path}/secrets/rotate`)).status, 403);
    assert.equal((await call(attacker.token, "PATCH", path, { status: "inactive" })).status, 403, "no lock-out either");
    assert.equal((await ctx.api.admin("PATCH", path, { status: "inactive" })).status, 200);
    assert.equal((await call(attacker.token, "PATCH", path, { status: "active" })).status, 403, "the root key's deactivation stands");
    assert.equal((await call(attacker.token, "DELETE", path)).status, 403);
    const stored = await ctx.api.admin("GET", path);
    assert.equal(stored.json.status, "inactive");
    assert.deepEqual(stored.json.federated_credentials ?? [], []);
    // A client holding no more than the attacker is its to change.
    const lower = await adminClient({ project_id: p, grants: adminGrants(["clients:read"]) });
    assert.equal((await call(attacker.token, "PATCH", `/admin/clients/${lower.id}`, { status: "inactive" })).status, 200);
  });

  test("taking clients:write away stops a token issued before", async () => {
    const admin = await adminClient({ grants: adminGrants(["clients:read", "clients:write"]) });
    assert.equal((await call(admin.token, "POST", "/admin/clients", { name: "x", grants: API })).status, 201);
    assert.equal((await ctx.api.admin("PATCH", `/admin/clients/${admin.id}`, { grants: adminGrants(["clients:read"]) })).status, 200);
    const refused = await call(admin.token, "POST", "/admin/clients", { name: "x", grants: API });
    assert.equal(refused.status, 403);
    assert.match(refused.challenge, /insufficient_scope/);
    assert.equal((await call(admin.token, "GET", "/admin/clients")).status, 200);
  });

  test("a deleted admin client's token never works again, whatever is created with its id", async () => {
    const [a, b] = [await project(), await project()];
    const id = `planted-${STORAGE}`;
    const old = await adminClient({ client_id: id, project_id: a, grants: adminGrants(["clients:read", "clients:write"]) });
    assert.equal((await call(old.token, "GET", "/admin/clients")).status, 200);
    assert.equal((await ctx.api.admin("DELETE", `/admin/clients/${id}`)).status, 204);
    await adminClient({ client_id: id, project_id: b, grants: adminGrants(["clients:read", "clients:write"]) });
    for (const path of ["/admin/clients", `/admin/clients/${id}`]) {
      const r = await call(old.token, "GET", path);
      assert.equal(r.status, 401, path);
      assert.match(r.challenge, /invalid_token/);
    }
  });

  test("a project's admins grant APIs only within its allowed_grants; a new project allows none", async () => {
    const bare = `bare-${STORAGE}`;
    const created = await ctx.api.admin("POST", "/admin/projects", { id: bare, name: bare });
    assert.deepEqual(created.json.allowed_grants, []);
    const admin = await adminClient({ project_id: bare, grants: adminGrants(["clients:read", "clients:write"]) });
    const refused = await call(admin.token, "POST", "/admin/clients", { name: "x", grants: API });
    assert.equal(refused.status, 403);
    assert.match(refused.json.error_description, /allowed_grants/);
    assert.equal((await ctx.api.admin("PATCH", `/admin/projects/${bare}`, { allowed_grants: API })).status, 200);
    assert.equal((await call(admin.token, "POST", "/admin/clients", { name: "x", grants: API })).status, 201);
    const wider = await call(admin.token, "POST", "/admin/clients", { name: "x", grants: [{ audience: "https://api.example.com", scopes: ["read", "write"] }] });
    assert.equal(wider.status, 403);
  });

  test("every loopback name of the admin audience is the admin audience (ISSUER unset)", async () => {
    const admin = await adminClient({ grants: adminGrants(["clients:read", "clients:write"]) });
    const port = new URL(ctx.w.base).port;
    for (const other of [`http://localhost:${port}/admin`, `http://127.0.0.2:${port}/admin`]) {
      const r = await call(admin.token, "POST", "/admin/clients", { name: "x", grants: [{ audience: other, scopes: ["keys:write"] }] });
      assert.equal(r.status, 403, `${other}: ${JSON.stringify(r.json)}`);
    }
  });

  test("an admin token trusts an issuer's keys only at the issuer's own origin; the root key decides elsewhere", async () => {
    const federation = await adminClient({ grants: adminGrants(["federation:write", "federation:read"]) });
    const issuer = `https://issuer-${STORAGE}.example.com`;
    const body = (jwks_uri) => ({ issuer, name: "planted", audiences: ["https://auth.m2m.test"], jwks_uri });
    const elsewhere = await call(federation.token, "POST", "/admin/federation/issuers", body("https://attacker.example.net/jwks"));
    assert.equal(elsewhere.status, 403, JSON.stringify(elsewhere.json));
    assert.match(elsewhere.json.error_description, /jwks_uri/);
    const own = await call(federation.token, "POST", "/admin/federation/issuers", body(`${issuer}/jwks`));
    assert.equal(own.status, 201, JSON.stringify(own.json));
    const path = `/admin/federation/issuers/${own.json.id}`;
    assert.equal((await call(federation.token, "PATCH", path, { jwks_uri: "https://attacker.example.net/jwks" })).status, 403);
    assert.equal((await ctx.api.admin("PATCH", path, { jwks_uri: "https://keys.example.net/jwks" })).status, 200);
  });

  test("while a secret rotation is pending, nobody widens the client's grants", async () => {
    const p = await project();
    const rotator = await adminClient({ project_id: p, grants: adminGrants(["clients:rotate"]) });
    const billing = await ctx.api.admin("POST", "/admin/clients", { project_id: p, name: "billing", grants: API });
    const path = `/admin/clients/${billing.json.client_id}`;
    assert.equal((await call(rotator.token, "POST", `${path}/secrets/rotate`)).status, 200);
    const wider = { grants: [...API, { audience: "https://payments.example.com", scopes: ["refund"] }] };
    const refused = await ctx.api.admin("PATCH", path, wider);
    assert.equal(refused.status, 409, JSON.stringify(refused.json));
    assert.equal((await ctx.api.admin("POST", `${path}/secrets/rotate/cancel`)).status, 200);
    assert.equal((await ctx.api.admin("PATCH", path, wider)).status, 200);
  });

  test("custom claims cannot carry what verifiers read as grants", async () => {
    for (const name of ["scp", "scopes", "permissions", "roles", "cnf"]) {
      const r = await ctx.api.admin("POST", "/admin/clients", { name: "x", grants: API, custom_claims: { [name]: "admin" } });
      assert.equal(r.status, 400, name);
    }
  });
});
