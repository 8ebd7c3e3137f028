// Ring 2, paired with crates/core/tests/admin_tokens.rs: a project's admin
// client administers its project with its own access tokens, in workerd,
// on the configured backend.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { decodeJwt } from "jose";
import { useWorker } from "./harness.mjs";

const ctx = useWorker();
const STORAGE = ctx.storage;
const grants = [{ audience: "https://api.example.com", scopes: ["read"] }];

const call = (...args) => ctx.api.withToken(...args);

describe(`admin by the deployment's own tokens (${STORAGE})`, () => {
  test("root → project → project admin client → its token manages its project only; deactivation stops it at once", async () => {
    const discovery = await (await fetch(`${ctx.w.base}/.well-known/oauth-authorization-server`)).json();
    const audience = discovery.admin_audience;
    assert.equal(audience, `${ctx.w.base}/admin`);

    const p = `team-${STORAGE}`;
    const other = `other-${STORAGE}`;
    for (const id of [p, other]) assert.equal((await ctx.api.admin("POST", "/admin/projects", { id, name: id, allowed_grants: grants })).status, 201);
    const theirs = await ctx.api.admin("POST", "/admin/clients", { project_id: other, name: "theirs", grants });

    const admin = await ctx.api.admin("POST", "/admin/clients", {
      project_id: p,
      name: "ci",
      grants: [{ audience, scopes: ["clients:read", "clients:write", "clients:rotate"] }],
    });
    assert.equal(admin.status, 201, JSON.stringify(admin.json));
    const t = await ctx.api.token({ basic: [admin.json.client_id, admin.json.client_secret], form: `grant_type=client_credentials&resource=${encodeURIComponent(audience)}` });
    assert.equal(t.status, 200, JSON.stringify(t.json));
    const token = t.json.access_token;
    assert.equal(decodeJwt(token).project_id, p);

    // Creates, lists and rotates in its project.
    const made = await call(token, "POST", "/admin/clients", { name: "worker", grants });
    assert.equal(made.status, 201, JSON.stringify(made.json));
    assert.equal(made.json.project_id, p);
    const issued = await ctx.api.token({ basic: [made.json.client_id, made.json.client_secret], form: "grant_type=client_credentials" });
    assert.equal(decodeJwt(issued.json.access_token).project_id, p);
    const listed = await call(token, "GET", "/admin/clients");
    assert.equal(listed.status, 200);
    assert.ok(listed.json.clients.length >= 2 && listed.json.clients.every((c) => c.project_id === p));
    const rotated = await call(token, "POST", `/admin/clients/${made.json.client_id}/secrets/rotate`);
    assert.equal(rotated.status, 200);
    assert.match(rotated.json.next_client_secret, /^m2msk_/);

    // Refused outside it.
    assert.equal((await call(token, "GET", `/admin/clients/${theirs.json.client_id}`)).status, 404);
    assert.equal((await call(token, "DELETE", `/admin/clients/${theirs.json.client_id}`)).status, 404);
    const elsewhere = await call(token, "POST", "/admin/clients", { project_id: other, name: "x", grants });
    assert.equal(elsewhere.status, 403);
    const escalate = await call(token, "PATCH", `/admin/clients/${admin.json.client_id}`, {
      grants: [{ audience, scopes: ["clients:read", "projects:write"] }],
    });
    assert.equal(escalate.status, 403);
    const scope = await call(token, "GET", "/admin/keys");
    assert.equal(scope.status, 403);
    assert.match(scope.challenge, /error="insufficient_scope"/);
    const garbage = await call("a.b.c", "GET", "/admin/clients");
    assert.equal(garbage.status, 401);
    assert.match(garbage.challenge, /error="invalid_token"/);

    // The audit trail names the admin client as the actor of each change.
    const trail = await ctx.api.admin("GET", `/admin/audit?project_id=${p}`);
    const mine = trail.json.events.filter((e) => e.actor === admin.json.client_id);
    assert.deepEqual(
      mine.map((e) => [e.action, e.target]),
      [["client.create", made.json.client_id], ["client.rotation.start", made.json.client_id]],
    );

    // Deactivated: its tokens stop at once (the admin path reads the client
    // from storage, not the isolate cache).
    assert.equal((await ctx.api.admin("PATCH", `/admin/clients/${admin.json.client_id}`, { status: "inactive" })).status, 200);
    const stopped = await call(token, "GET", "/admin/clients");
    assert.equal(stopped.status, 401);
    assert.match(stopped.challenge, /revoked/);
  });
});
