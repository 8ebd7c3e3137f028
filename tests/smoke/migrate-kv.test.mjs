// Ring 3: moving a deployment that kept its data in Workers KV (the
// `STORAGE = "kv"` layout of earlier versions) into D1 with the one
// documented command, scripts/migrate-kv-to-d1.mjs, on local state as
// wrangler keeps it — then `wrangler dev` on that state serves what KV held:
// the client's secret gets a token, its project, the trusted issuer and the
// audit trail are there. Run again, it only adds what D1 lacks: a record D1
// holds stays D1's whatever KV says; a client of a project that exists
// nowhere is skipped rather than failing the batch.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startWranglerDev } from "../../scripts/wrangler-dev.mjs";
import { migrationSql } from "../../scripts/migrate-kv-to-d1.mjs";

const root = new URL("../../", import.meta.url).pathname;
const wrangler = join(root, "node_modules/.bin/wrangler");
const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1" };
const NAMESPACE = "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f";
const T = 1_790_000_000;
const SECRET = "m2msk_migrated_client_secret_value_0123456789";

const project = { id: "acme", name: "Acme", description: null, allowed_grants: [{ audience: "https://api.example.com", scopes: ["read"] }], created_at: T, updated_at: T, version: 2 };
const client = (version, name) => ({
  id: "acme-sync", project_id: "acme", name, grants: JSON.stringify([{ audience: "https://api.example.com", scopes: ["read"] }]),
  custom_claims: "{}", status: "active", secret_hash: createHash("sha256").update(SECRET).digest("hex"), secret_last_four: SECRET.slice(-4),
  created_at: T, updated_at: T, version,
});
const issuers = { version: 1, issuers: [{ id: "tis_0123456789abcdef0123456789abcdef", issuer: "https://token.actions.githubusercontent.com", name: "GitHub Actions", jwks_uri: null, audiences: ["https://auth.example.com"], algorithm: "RS256", max_token_age: 3600, single_use: true, accept_access_tokens: true, created_at: T, updated_at: T, version: 1 }] };
const event = { id: "01790000000000-0123456789abcdef", at: T, actor: "root", project_id: "acme", action: "client.create", target: "acme-sync", changed_fields: ["name"] };

function kvPut(state, records) {
  const file = join(state, "seed.json");
  writeFileSync(file, JSON.stringify(Object.entries(records).map(([key, value]) => ({ key, value: JSON.stringify(value) }))));
  execFileSync(wrangler, ["kv", "bulk", "put", file, "--namespace-id", NAMESPACE, "--local", "--persist-to", state], { cwd: root, env, stdio: "pipe" });
}

const migrate = (state) =>
  execFileSync("node", ["scripts/migrate-kv-to-d1.mjs", "--namespace-id", NAMESPACE, "--local", "--persist-to", state], { cwd: root, env, encoding: "utf8" });

test("the copy is SQL that only adds, and names a record that is not JSON", () => {
  const { sql, counts } = migrationSql({ "client:acme-sync": JSON.stringify(client(3, "it's")), "resource-by-audience:x": JSON.stringify("api_1") });
  assert.deepEqual(counts, { projects: 0, clients: 1, resources: 0, audit_events: 0, signing_keys: 0, trusted_issuers: 0 });
  assert.match(sql, /'it''s'/, "quotes are doubled, not left to break the statement");
  assert.match(sql, /ON CONFLICT DO NOTHING;$/m);
  assert.doesNotMatch(sql, /DO UPDATE/, "nothing D1 holds is ever replaced");
  assert.throws(() => migrationSql({ "client:broken": "{not json" }), /client:broken/);
});

test("one command copies a KV deployment into D1, and wrangler dev serves it", async () => {
  const state = mkdtempSync(join(tmpdir(), "m2m-migrate-kv-"));
  execFileSync(wrangler, ["d1", "migrations", "apply", "DB", "--local", "--persist-to", state], { cwd: root, env, stdio: "pipe" });
  const resource = { id: "api_0123456789abcdef0123456789abcdef", identifier: "https://api.example.com", name: "API", scopes: JSON.stringify([{ name: "read", description: "" }]), token_ttl: 600, created_at: T, updated_at: T, version: 1 };
  const orphan = { ...client(1, "Orphan"), id: "orphan", project_id: "gone" };
  kvPut(state, { "project:acme": project, "client:acme-sync": client(3, "Acme sync"), "client:orphan": orphan, [`resource:${resource.id}`]: resource, "trusted-issuers": issuers, [`audit:${event.id}`]: event });
  const first = migrate(state);
  assert.match(first, /1 projects, 2 clients, 1 resources, 1 audit_events, 0 signing_keys, 1 trusted_issuers/, first);
  // KV later holds another version of a record D1 now has: D1's stands.
  kvPut(state, { "client:acme-sync": client(9, "changed in KV later") });
  migrate(state);

  const dev = await startWranglerDev({ state });
  try {
    const admin = async (path) => {
      const r = await fetch(`${dev.base}${path}`, { headers: { authorization: `Bearer ${dev.secrets.ADMIN_API_KEY}` } });
      assert.equal(r.status, 200, `${path}: ${dev.output()}`);
      return r.json();
    };
    const token = await fetch(`${dev.base}/oauth2/token`, {
      method: "POST",
      headers: { authorization: `Basic ${Buffer.from(`acme-sync:${SECRET}`).toString("base64")}`, "content-type": "application/x-www-form-urlencoded" },
      body: "grant_type=client_credentials",
    });
    assert.equal(token.status, 200, await token.clone().text());
    assert.equal((await admin("/admin/clients/acme-sync")).name, "Acme sync", "a record D1 holds is never replaced by the copy");
    const orphanRead = await fetch(`${dev.base}/admin/clients/orphan`, { headers: { authorization: `Bearer ${dev.secrets.ADMIN_API_KEY}` } });
    assert.equal(orphanRead.status, 404, "a client of a project that exists nowhere is skipped");
    assert.equal((await admin("/admin/resources")).resources[0].token_ttl, 600);
    assert.deepEqual((await admin("/admin/projects/acme")).allowed_grants, project.allowed_grants);
    assert.equal((await admin("/admin/federation/issuers")).issuers[0].issuer, issuers.issuers[0].issuer);
    assert.ok((await admin("/admin/audit")).events.some((e) => e.id === event.id && e.target === "acme-sync"));
  } finally {
    await dev.stop();
  }
});
