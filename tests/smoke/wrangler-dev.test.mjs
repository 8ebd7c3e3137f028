// Ring 3: `wrangler dev` started the way a user starts it (its [build] step
// runs `make build`), local D1 migrated with `wrangler d1 migrations apply`,
// one client created and one token fetched and verified with jose.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { freshSecrets } from "../../scripts/dev-vars.mjs";

const root = new URL("../../", import.meta.url).pathname;
const wrangler = join(root, "node_modules/.bin/wrangler");
const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", CI: "1" };

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

let child, base, secrets, output = "";

before(async () => {
  const state = mkdtempSync(join(tmpdir(), "m2m-smoke-"));
  secrets = freshSecrets();
  // An env file of our own, so a developer's .dev.vars is neither needed nor touched.
  const envFile = join(state, "smoke.vars");
  writeFileSync(envFile, Object.entries(secrets).map(([k, v]) => `${k}='${v}'`).join("\n") + "\n");
  execFileSync(wrangler, ["d1", "migrations", "apply", "DB", "--local", "--persist-to", state], { cwd: root, env, stdio: "pipe" });
  const port = await freePort();
  const inspector = await freePort();
  base = `http://127.0.0.1:${port}`;
  child = spawn(
    wrangler,
    ["dev", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspector), "--persist-to", state, "--env-file", envFile, "--show-interactive-dev-session=false"],
    { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] },
  );
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited:\n${output}`);
    try {
      const r = await fetch(`${base}/.well-known/openid-configuration`);
      if (r.status === 200) break;
    } catch {}
    if (Date.now() > deadline) throw new Error(`wrangler dev not ready in 120 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 250));
  }
});

after(async () => {
  if (!child || child.exitCode !== null) return;
  // SIGTERM wrangler itself (TOOLCHAIN.md, trap 8): it stops workerd too.
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  if (child.exitCode === null) child.kill("SIGKILL");
});

test("wrangler dev: create a client, fetch a token, verify it with jose", async () => {
  const created = await fetch(`${base}/admin/clients`, {
    method: "POST",
    headers: { authorization: `Bearer ${secrets.ADMIN_API_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "smoke", grants: [{ audience: "https://api.example.com", scopes: ["read"] }] }),
  });
  assert.equal(created.status, 201, output);
  const c = await created.json();
  const r = await fetch(`${base}/oauth2/token`, {
    method: "POST",
    headers: {
      authorization: `Basic ${Buffer.from(`${c.client_id}:${c.client_secret}`).toString("base64")}`,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: "grant_type=client_credentials",
  });
  assert.equal(r.status, 200);
  const t = await r.json();
  const { payload } = await jwtVerify(t.access_token, createRemoteJWKSet(new URL(`${base}/.well-known/jwks.json`)), {
    issuer: base,
    audience: "https://api.example.com",
    typ: "at+jwt",
  });
  assert.equal(payload.client_id, c.client_id);
  assert.equal(payload.scope, "read");
});
