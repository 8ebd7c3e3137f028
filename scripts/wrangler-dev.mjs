// Start `wrangler dev` the way a user does (its [build] runs `make build`),
// on a free loopback port, with its own persisted state and secrets, and
// stop it cleanly. Shared by the smoke test and `make latency`.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
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
  const vars = { D1_READ_REPLICAS: storage === "d1" ? "off" : "on", ISSUER: base };
  let output = "";
  // Both Workers, as `make dev` runs them: the token service first (its
  // flags, D1 state and rate limits), the admin Worker beside it.
  const child = spawn(
    wrangler,
    ["dev", "-c", "wrangler.toml", "-c", adminConfig(state, secrets, vars), "--ip", "127.0.0.1", "--port", String(port),
     "--inspector-port", String(inspector), "--persist-to", state, "--env-file", envFile,
     ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]), "--show-interactive-dev-session=false"],
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

/**
 * wrangler.admin.toml as this run needs it, written into `state`: wrangler
 * dev hands its flags (--env-file, --var) to the first Worker only, and
 * the others read `.dev.vars` beside their configuration. So the copy
 * gets this run's secrets beside it and `vars` in its [vars]; its `main`
 * points at the build, and its [build] step is left to the first Worker's
 * (`make build` builds both). Returns its path.
 */
function adminConfig(state, secrets, vars) {
  const shipped = readFileSync(join(root, "wrangler.admin.toml"), "utf8");
  if (!/\n\[vars\]\n(?![^]*\n\[)/.test(shipped)) throw new Error("wrangler.admin.toml: [vars] must be its last table");
  const text = shipped
    .replace(/^main = "([^"]+)"$/m, (_, main) => `main = ${JSON.stringify(join(root, main))}`)
    .replace(/^\[build\]\ncommand = .*\n/m, "")
    .replace(/^(D1_READ_REPLICAS|ISSUER) = .*\n/gm, "");
  const path = join(state, "wrangler.admin.toml");
  writeFileSync(path, text + Object.entries(vars).map(([k, v]) => `${k} = ${JSON.stringify(v)}\n`).join(""));
  writeFileSync(join(state, ".dev.vars"), Object.entries(secrets).map(([k, v]) => `${k}='${v}'`).join("\n") + "\n");
  return path;
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
