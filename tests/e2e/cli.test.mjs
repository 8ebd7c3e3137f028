// Ring 2: the m2m-edge CLI (crates/cli, built by `make build`) against the
// worker in workerd, on the configured backend: login → create with
// --save → token (cached) → decode → verify → rotate → deactivate → the
// token request fails; with the exit codes scripts branch on.
import { describe, test, before } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, statSync, existsSync, writeFileSync } from "node:fs";
import { exportJWK, generateKeyPair } from "jose";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { useWorker } from "./harness.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
// Where `make build` put it: cargo's target directory (CARGO_TARGET_DIR if set).
const BIN = join(process.env.CARGO_TARGET_DIR ?? join(root, "target"), "debug/m2m-edge");
const ctx = useWorker();
const STORAGE = ctx.storage;
const AUDIENCE = "https://api.example.com";

let home;
/** Run the CLI with its own config and cache directories; returns {code, out, err}. */
function cli(...args) {
  const r = spawnSync(BIN, args, {
    cwd: home,
    encoding: "utf8",
    env: { PATH: process.env.PATH, M2M_EDGE_CONFIG_DIR: join(home, "config"), M2M_EDGE_CACHE_DIR: join(home, "cache"), NO_COLOR: "1" },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const mode = (path) => statSync(path).mode & 0o777;

describe(`the command line (${STORAGE})`, () => {
  before(() => {
    home = mkdtempSync(join(tmpdir(), "m2m-cli-"));
  });

  test("login checks the URL and the key before saving a 0600 profile", () => {
    const dead = cli("login", "--url", "http://127.0.0.1:9", "--admin-key", "x".repeat(40));
    assert.equal(dead.code, 7, dead.err);
    assert.match(dead.err, /cannot reach http:\/\/127\.0\.0\.1:9/);
    const notOurs = cli("login", "--url", `${ctx.w.base}/nothing`, "--admin-key", ctx.w.secrets.ADMIN_API_KEY);
    assert.equal(notOurs.code, 7, notOurs.err);
    assert.match(notOurs.err, /does not look like an m2m-edge deployment/);
    const wrong = cli("login", "--url", ctx.w.base, "--admin-key", "y".repeat(40));
    assert.equal(wrong.code, 3, wrong.err);
    assert.match(wrong.err, /refused the admin credentials/);
    assert.ok(!wrong.err.includes("y".repeat(40)), "the key is never echoed");
    assert.ok(!existsSync(join(home, "config/config.toml")), "nothing saved after a failed login");

    const ok = cli("login", "--url", ctx.w.base, "--admin-key", ctx.w.secrets.ADMIN_API_KEY);
    assert.equal(ok.code, 0, ok.err);
    assert.equal(mode(join(home, "config/config.toml")), 0o600);
    const listed = cli("profiles");
    assert.match(listed.out, /default/);
    assert.ok(!listed.out.includes(ctx.w.secrets.ADMIN_API_KEY), "profiles never shows the key");
  });

  test("create → save → token (cached) → decode → verify → rotate → deactivate → the token request fails", () => {
    const created = cli("clients", "create", "--name", "cli-sync", "--audience", AUDIENCE, "--scope", "read", "--scope", "write", "--save", "creds.json");
    assert.equal(created.code, 0, created.err);
    const creds = JSON.parse(readFileSync(join(home, "creds.json"), "utf8"));
    assert.equal(mode(join(home, "creds.json")), 0o600);
    assert.equal(creds.type, "m2m-edge/client-credentials");
    assert.equal(creds.issuer, ctx.w.base);
    assert.equal(creds.token_endpoint, `${ctx.w.base}/oauth2/token`);
    assert.equal(creds.audience, AUDIENCE);
    assert.deepEqual(creds.grants, [{ audience: AUDIENCE, scopes: ["read", "write"] }]);
    assert.match(creds.client_secret, /^m2msk_/);
    assert.ok(!created.out.includes(creds.client_secret), "with --save the secret is not printed");
    const id = creds.client_id;

    const again = cli("clients", "create", "--name", "again", "--audience", AUDIENCE, "--save", "creds.json");
    assert.equal(again.code, 1);
    assert.match(again.err, /exists; pass --force/);
    const named = JSON.parse(cli("clients", "list", "--json", "--name-prefix", "again").out);
    assert.equal(named.clients.length, 0, "refused before anything was created");

    const first = cli("token", "--credentials", "creds.json");
    assert.equal(first.code, 0, first.err);
    const token = first.out.trim();
    assert.equal(token.split(".").length, 3);
    assert.equal(cli("token", "--credentials", "creds.json").out.trim(), token, "the second call is served from the cache");
    const full = JSON.parse(cli("token", "--credentials", "creds.json", "--json").out);
    assert.equal(full.access_token, token);
    assert.equal(full.token_type, "Bearer");
    const narrower = cli("token", "--credentials", "creds.json", "--scope", "read", "--json");
    assert.equal(JSON.parse(narrower.out).scope, "read", "another scope is another cache entry");

    const decoded = cli("decode", token);
    assert.equal(decoded.code, 0, decoded.err);
    assert.match(decoded.out, /alg\s+ES256/);
    assert.match(decoded.out, new RegExp(`client_id\\s+${id}`));
    assert.match(decoded.out, /exp\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(in /);
    assert.match(decoded.out, /expires in /);
    assert.equal(JSON.parse(cli("decode", "--json", token).out).claims.sub, id);
    assert.equal(cli("decode", "not-a-token").code, 9);

    const verified = cli("verify", token, "--issuer", ctx.w.base, "--audience", AUDIENCE, "--scope", "read");
    assert.equal(verified.code, 0, verified.err);
    assert.match(verified.out, new RegExp(`client_id\\s+${id}`));
    const elsewhere = cli("verify", token, "--issuer", ctx.w.base, "--audience", "https://other.example.com");
    assert.equal(elsewhere.code, 9, elsewhere.err);
    assert.match(elsewhere.err, /not valid/);
    assert.equal(cli("verify", token, "--issuer", ctx.w.base, "--audience", AUDIENCE, "--scope", "admin").code, 9);

    const listed = cli("clients", "list");
    assert.equal(listed.code, 0, listed.err);
    assert.ok(listed.out.includes(id) && listed.out.includes("cli-sync"), listed.out);
    const got = cli("clients", "get", id);
    assert.match(got.out, /status\s+active/);
    assert.ok(!got.out.includes(creds.client_secret));

    const started = cli("clients", "rotate", "start", id, "--save", "creds.json", "--force");
    assert.equal(started.code, 0, started.err);
    const rotated = JSON.parse(readFileSync(join(home, "creds.json"), "utf8"));
    assert.notEqual(rotated.client_secret, creds.client_secret);
    assert.ok(!started.out.includes(rotated.client_secret));
    assert.equal(cli("clients", "rotate", "start", id).code, 5, "a second pending rotation is a conflict");
    assert.equal(cli("clients", "rotate", "complete", id).code, 0);
    const afterRotation = cli("token", "--credentials", "creds.json");
    assert.equal(afterRotation.code, 0, afterRotation.err);

    const off = cli("clients", "deactivate", id);
    assert.equal(off.code, 0, off.err);
    assert.match(off.out, /inactive/);
    const refused = cli("token", "--credentials", "creds.json", "--no-cache");
    assert.equal(refused.code, 3, refused.err);
    assert.match(refused.err, /invalid_client/);
    assert.ok(!refused.err.includes(rotated.client_secret), "the secret is never echoed");
  });

  test("projects, resources and keys; not found and conflicts have their own exit codes", () => {
    const project = `cli-${STORAGE}`;
    const allowed = [{ audience: AUDIENCE, scopes: [] }];
    const made = cli("projects", "create", "--json", "--id", project, "--name", "CLI", "--allowed-grants-json", JSON.stringify(allowed));
    assert.equal(made.code, 0, made.err);
    assert.deepEqual(JSON.parse(made.out).allowed_grants, allowed);
    const narrowed = cli("projects", "update", project, "--allowed-grants-json", "[]");
    assert.equal(narrowed.code, 0, narrowed.err);
    assert.match(narrowed.out, /allowed_grants/);
    const inProject = cli("clients", "create", "--json", "--project", project, "--id", `${project}-job`, "--name", "job", "--audience", AUDIENCE);
    assert.equal(inProject.code, 0, inProject.err);
    assert.equal(JSON.parse(inProject.out).project_id, project);
    const taken = cli("clients", "create", "--id", `${project}-job`, "--name", "job", "--audience", AUDIENCE);
    assert.equal(taken.code, 5, taken.err);
    assert.match(taken.err, /conflict/);
    const busy = cli("projects", "delete", project);
    assert.equal(busy.code, 5);
    assert.match(busy.err, new RegExp(`clients: ${project}-job`));
    assert.equal(cli("clients", "get", "m2m_00000000000000000000000000000000").code, 4);
    const invalid = cli("clients", "create", "--name", "bad", "--audience", "not a uri");
    assert.equal(invalid.code, 6);
    assert.match(invalid.err, /grants\[0\]\.audience/);

    const listed = cli("projects", "list");
    assert.ok(listed.out.includes(project), listed.out);
    assert.equal(cli("clients", "delete", `${project}-job`).code, 0);
    assert.equal(cli("projects", "delete", project).code, 0);

    const resource = cli("resources", "create", "--json", "--identifier", `https://cli-${STORAGE}.example.com`, "--name", "CLI API", "--scope", "a:read");
    assert.equal(resource.code, 0, resource.err);
    const rid = JSON.parse(resource.out).id;
    assert.match(cli("resources", "list").out, /a:read/);
    assert.equal(cli("resources", "delete", rid).code, 0);

    const keys = cli("keys", "list");
    assert.equal(keys.code, 0, keys.err);
    assert.match(keys.out, /mode: byok/);
    const audit = JSON.parse(cli("audit", "--json", "--all").out);
    assert.ok(audit.events.some((e) => e.action === "client.create"), JSON.stringify(audit).slice(0, 400));
  });

  test("an admin client's profile works through admin tokens, within its scopes", () => {
    const admin = cli("clients", "create", "--json", "--name", "cli-admin", "--audience", `${ctx.w.base}/admin`, "--scope", "clients:read", "--save", "admin.json");
    assert.equal(admin.code, 0, admin.err);
    const login = cli("--profile", "ci", "login", "--url", ctx.w.base, "--credentials", "admin.json");
    assert.equal(login.code, 0, login.err);
    assert.equal(cli("--profile", "ci", "clients", "list").code, 0);
    const denied = cli("--profile", "ci", "projects", "create", "--name", "nope");
    assert.equal(denied.code, 3, denied.err);
    assert.match(denied.err, /insufficient_scope|not allowed/);
  });

  test("secretless clients: a key client from a JWK set file, trusted issuers and federated credentials", async () => {
    const { publicKey } = await generateKeyPair("ES256");
    writeFileSync(join(home, "keys.json"), JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: "k1" }] }));
    const signer = cli("clients", "create", "--json", "--name", "signer", "--audience", AUDIENCE, "--jwks-file", "keys.json");
    assert.equal(signer.code, 0, signer.err);
    const created = JSON.parse(signer.out);
    assert.equal(created.token_endpoint_auth_method, "private_key_jwt");
    assert.equal(created.client_secret, undefined);

    const github = "https://token.actions.githubusercontent.com";
    const trusted = cli("federation", "issuers", "create", "--json", "--issuer", github, "--audience", "https://auth.example.com");
    assert.equal(trusted.code, 0, trusted.err);
    const issuerId = JSON.parse(trusted.out).id;
    assert.equal(JSON.parse(trusted.out).accept_access_tokens, true);
    assert.match(cli("federation", "issuers", "list").out, /token\.actions\.githubusercontent\.com/);
    const idOnly = cli("federation", "issuers", "update", "--json", issuerId, "--accept-access-tokens", "false");
    assert.equal(idOnly.code, 0, idOnly.err);
    assert.equal(JSON.parse(idOnly.out).accept_access_tokens, false);
    const credentials = JSON.stringify([{ name: "release", issuer: github, claims: { repository: "acme/deploy" } }]);
    const deployer = cli("clients", "create", "--json", "--name", "deployer", "--audience", AUDIENCE, "--federated-credentials-json", credentials);
    assert.equal(deployer.code, 0, deployer.err);
    const deployerId = JSON.parse(deployer.out).client_id;
    assert.match(cli("clients", "federation-failures", deployerId).out, /no failures/);
    const busy = cli("federation", "issuers", "delete", issuerId);
    assert.equal(busy.code, 5, busy.err);
    assert.match(busy.err, new RegExp(deployerId));
  });

  test("tokens: introspect as a resource server, revoke by token, jti and client; verify sees the revocation", () => {
    assert.equal(cli("clients", "create", "--name", "rs", "--audience", `${ctx.w.base}/admin`, "--scope", "tokens:introspect", "--save", "rs.json").code, 0);
    assert.equal(cli("clients", "create", "--name", "revoked", "--audience", AUDIENCE, "--scope", "read", "--save", "svc.json").code, 0);
    const fresh = () => cli("token", "--credentials", "svc.json", "--no-cache").out.trim();
    const token = fresh();
    const live = cli("tokens", "introspect", token, "--credentials", "rs.json", "--json");
    assert.equal(live.code, 0, live.err);
    assert.equal(JSON.parse(live.out).active, true);
    assert.match(cli("tokens", "introspect", token, "--credentials", "rs.json").out, /^active: issued to /);

    const revoked = cli("tokens", "revoke", token);
    assert.equal(revoked.code, 0, revoked.err);
    assert.match(revoked.out, /^revoked: jti /);
    assert.deepEqual(JSON.parse(cli("tokens", "introspect", token, "--credentials", "rs.json", "--json").out), { active: false });
    const verified = cli("verify", token, "--issuer", ctx.w.base, "--audience", AUDIENCE);
    assert.equal(verified.code, 9, verified.err);
    assert.match(verified.err, /revoked/);

    const second = fresh();
    const jti = JSON.parse(cli("decode", "--json", second).out).claims.jti;
    assert.equal(cli("tokens", "revoke", "--jti", jti).code, 0);
    assert.equal(JSON.parse(cli("tokens", "introspect", second, "--credentials", "rs.json", "--json").out).active, false);

    const third = fresh();
    const id = JSON.parse(readFileSync(join(home, "svc.json"), "utf8")).client_id;
    const all = cli("tokens", "revoke", "--client", id);
    assert.equal(all.code, 0, all.err);
    assert.match(all.out, /^revoked: every token issued before /);
    assert.equal(JSON.parse(cli("tokens", "introspect", third, "--credentials", "rs.json", "--json").out).active, false);

    assert.equal(cli("tokens", "revoke").code, 2, "one of token, --jti, --client, --project");
    assert.equal(cli("tokens", "revoke", "--jti", "a", "--client", "b").code, 2);
    assert.equal(cli("tokens", "revoke", "--client", "nobody").code, 4);
    const notAllowed = cli("tokens", "introspect", third, "--credentials", "svc.json");
    assert.equal(notAllowed.code, 6, notAllowed.err);
    assert.match(notAllowed.err, /unauthorized_client/);
  });

  test("the README's command-line example runs as written, in order", () => {
    const readme = readFileSync(join(root, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Command line"));
    const block = /```sh\n([\s\S]*?)```/.exec(section)[1].replaceAll("http://127.0.0.1:8787", ctx.w.base);
    const dir = mkdtempSync(join(tmpdir(), "m2m-readme-"));
    const r = spawnSync("bash", ["-euo", "pipefail", "-c", block], {
      cwd: dir,
      encoding: "utf8",
      env: {
        PATH: `${dirname(BIN)}:${process.env.PATH}`,
        ADMIN_API_KEY: ctx.w.secrets.ADMIN_API_KEY,
        M2M_EDGE_CONFIG_DIR: join(dir, "config"),
        M2M_EDGE_CACHE_DIR: join(dir, "cache"),
        NO_COLOR: "1",
      },
    });
    assert.equal(r.status, 0, `${block}\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /project_id\s+payments/);
    assert.match(r.stdout, /scope\s+invoices:read/, "decode shows the token's claims");
    assert.match(r.stdout, /verified/i);
  });
});
