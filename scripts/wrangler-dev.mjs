// Start `wrangler dev` the way a user does (its [build] runs `make build`),
// on a free loopback port, with its own persisted state and secrets, and
// stop it cleanly. Shared by the smoke test and `make latency`.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freshSecrets } from "./dev-vars.mjs";

const root = new URL("../", import.meta.url).pathname;
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

/**
 * Returns { base, secrets, output(), stop() } once the worker answers.
 * `storage`: "d1-replicas" (the token path through D1's Sessions API, as
 * deployed) or "d1" (every read on the primary). `state`: a persisted
 * local state directory to start from (a fresh one by default).
 */
export async function startWranglerDev({ storage = "d1-replicas", keyMode = "byok", state, secrets = freshSecrets() } = {}) {
  state ??= mkdtempSync(join(tmpdir(), "m2m-wrangler-"));
  secrets = { ...secrets };
  // Managed keys: no SIGNING_KEYS, only the key-encryption key.
  if (keyMode === "managed") delete secrets.SIGNING_KEYS;
  // An env file of our own, so a developer's .dev.vars is neither needed nor touched.
  const envFile = join(state, "dev.vars");
  writeFileSync(envFile, Object.entries(secrets).map(([k, v]) => `${k}='${v}'`).join("\n") + "\n");
  execFileSync(wrangler, ["d1", "migrations", "apply", "DB", "--local", "--persist-to", state], { cwd: root, env, stdio: "pipe" });
  const port = await freePort();
  const inspector = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let output = "";
  const child = spawn(
    wrangler,
    ["dev", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspector), "--persist-to", state,
     "--env-file", envFile, "--var", `D1_READ_REPLICAS:${storage === "d1" ? "off" : "on"}`, "--var", `ISSUER:${base}`, "--show-interactive-dev-session=false"],
    { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] },
  );
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const stop = async () => {
    if (child.exitCode !== null) return;
    // SIGTERM wrangler itself (docs/toolchain.md): it stops workerd too.
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (child.exitCode === null) child.kill("SIGKILL");
  };
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited:\n${output}`);
    try {
      if ((await fetch(`${base}/.well-known/openid-configuration`)).status === 200) break;
    } catch {}
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler dev not ready in 120 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { base, secrets, output: () => output, stop };
}

/** Create a client through the admin API; returns its JSON (with the secret). */
export async function createClient(base, adminKey, body) {
  const r = await fetch(`${base}/admin/clients`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (r.status !== 201) throw new Error(`create client: ${r.status} ${await r.text()}`);
  return r.json();
}
