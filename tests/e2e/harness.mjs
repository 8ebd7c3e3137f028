// Start the built Workers — the token service (build/index.js + wasm) and
// the admin Worker behind it (build/admin/) — in workerd through Miniflare,
// with a real local D1 that has the migrations applied.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { request } from "node:http";
import { after, before } from "node:test";
import { Miniflare } from "miniflare";
import { freshSecrets } from "../../scripts/dev-vars.mjs";

const root = new URL("../../", import.meta.url).pathname;

/** SQL statements of every migration, in order. */
export function migrationStatements() {
  const dir = join(root, "migrations");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".sql"))
    .sort()
    .flatMap((f) =>
      readFileSync(join(dir, f), "utf8")
        .split("\n")
        .map((line) => line.replace(/--.*$/, ""))
        .join("\n")
        .split(";")
        .map((s) => s.trim())
        .filter(Boolean),
    );
}

/**
 * The `[[ratelimits]]` blocks of wrangler.toml as Miniflare takes them:
 * the limits the tests run with are the ones that ship. (The admin
 * Worker has none: the token service counts its limit.)
 */
export function shippedRateLimits() {
  const text = readFileSync(join(root, "wrangler.toml"), "utf8");
  const limits = {};
  for (const block of text.split("[[ratelimits]]").slice(1)) {
    const name = /^name\s*=\s*"([^"]+)"/m.exec(block)?.[1];
    const simple = /^simple\s*=\s*\{\s*limit\s*=\s*(\d+)\s*,\s*period\s*=\s*(\d+)\s*\}/m.exec(block);
    if (!name || !simple) throw new Error(`wrangler.toml: a [[ratelimits]] block the harness cannot read: ${block}`);
    limits[name] = { simple: { limit: Number(simple[1]), period: Number(simple[2]) } };
  }
  return limits;
}

// The build is ES modules throughout (a test-only module that imports it,
// scripts/latency-model/shim.mjs, makes Miniflare read build/index.js as an
// import, which by default it would take for CommonJS), and so are the
// test-only modules (shim.mjs imports model.mjs).
export const WASM_MODULES = [
  { type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: true },
  { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
];
export const COMPATIBILITY_DATE = "2026-04-20";
export const DIRECT = [{ host: "127.0.0.1", port: 0 }];

/**
 * The storage configurations the suite runs against, by the name in
 * M2M_STORAGE (and in a test's `STORAGE` binding): D1 alone, every read on
 * the primary; and D1 with the token path's reads through the Sessions API
 * (`D1_READ_REPLICAS`), as deployed. Any other `STORAGE` is passed on as
 * the var itself.
 */
const CONFIGURATIONS = { d1: { D1_READ_REPLICAS: "off" }, "d1-replicas": { D1_READ_REPLICAS: "on" } };

/** The token service's vars and secrets: fresh secrets, `bindings` on top (`undefined` removes one). */
function serviceBindings({ STORAGE = "d1", ...bindings }) {
  const storage = CONFIGURATIONS[STORAGE] ?? { STORAGE };
  const all = { ...storage, DEFAULT_TOKEN_TTL: "3600", ...freshSecrets(), ...bindings };
  for (const [k, v] of Object.entries(all)) if (v === undefined) delete all[k];
  return all;
}

/** Miniflare's options for the token service built into build/. */
function serviceOptions({ bindings, ratelimits, direct, script, replica, assets }) {
  return {
    // wrangler.toml [assets]: the OpenAPI document, served before the
    // worker (Miniflare's asset router, as wrangler dev runs it). Off unless
    // asked, so that measurements see the worker alone.
    ...(assets ? { assets: { directory: join(root, "build/assets"), routerConfig: { has_user_worker: true } } } : {}),
    modules: true,
    // `script`: a test-only module wrapping the built worker (scripts/latency-model/shim.mjs).
    scriptPath: script ?? join(root, "build/index.js"),
    modulesRoot: root,
    modulesRules: WASM_MODULES,
    compatibilityDate: COMPATIBILITY_DATE,
    // REPLICA: a second database the latency-model shim serves Sessions API
    // reads from, standing in for a lagging read replica (tests/e2e/replicas.test.mjs).
    d1Databases: replica ? ["DB", "REPLICA"] : ["DB"],
    ratelimits,
    // For measurements: a socket straight into the worker, without
    // Miniflare's entry worker in front (closest to bare workerd).
    ...(direct ? { unsafeDirectSockets: DIRECT } : {}),
    bindings,
  };
}

/**
 * The admin Worker (wrangler.admin.toml, built into build/admin/): the
 * token service hands it every `/admin/...` request over its `ADMIN`
 * service binding. Same vars and secrets, same D1.
 */
function adminOptions({ bindings, adminScript }) {
  return {
    name: "admin",
    modules: true,
    // `adminScript`: a test-only module wrapping it (scripts/latency-model/shim-admin.mjs).
    scriptPath: adminScript ?? join(root, "build/admin/index.js"),
    modulesRoot: root,
    modulesRules: WASM_MODULES,
    compatibilityDate: COMPATIBILITY_DATE,
    d1Databases: ["DB"],
    bindings,
  };
}

/** The token service (named `auth`) and the admin Worker behind it, as Miniflare workers. */
function tokenServiceWorkers({ bindings, ratelimits = shippedRateLimits(), adminScript, ...options }) {
  return [
    { name: "auth", ...serviceOptions({ bindings, ratelimits, ...options }), serviceBindings: { ADMIN: "admin" } },
    adminOptions({ bindings, adminScript }),
  ];
}

async function migrated(mf, migrate, replica) {
  if (migrate) {
    for (const name of replica ? ["DB", "REPLICA"] : ["DB"]) {
      const db = await mf.getD1Database(name);
      await db.batch(migrationStatements().map((s) => db.prepare(s)));
    }
  }
}

/**
 * A running token service, with the admin Worker behind it. `bindings`
 * override or add vars/secrets (of both); a binding set to `undefined` is
 * left out entirely. `ratelimits` replaces wrangler.toml's rate limits
 * (Miniflare's shape: `{NAME: {simple: {limit, period}}}`).
 * `assets`: serve build/assets in front of the worker, as wrangler.toml
 * says. `scheduled()` fires the admin Worker's Cron Trigger. `script` and
 * `adminScript`: test-only modules around the built Workers. `runtimeStdio`:
 * Miniflare's `handleRuntimeStdio`, handed workerd's stdout and stderr.
 */
export async function startWorker({ bindings = {}, migrate = true, persist, direct = false, ratelimits, script, adminScript, replica = false, assets = false, runtimeStdio } = {}) {
  const all = serviceBindings(bindings);
  const mf = new Miniflare({
    workers: tokenServiceWorkers({ bindings: all, ratelimits, direct, script, adminScript, replica, assets }),
    ...(persist ? { d1Persist: persist } : {}),
    ...(runtimeStdio ? { handleRuntimeStdio: runtimeStdio } : {}),
    inspectorPort: 0,
  });
  const url = await mf.ready;
  await migrated(mf, migrate, replica);
  const base = url.href.replace(/\/$/, "");
  const directBase = direct ? (await mf.unsafeGetDirectURL("auth")).href.replace(/\/$/, "") : undefined;
  return { mf, base, directBase, secrets: all, scheduled: () => cron(mf), close: () => mf.dispose() };
}

/** Fire the admin Worker's Cron Trigger (wrangler.admin.toml `[triggers]`) once; its outcome. */
async function cron(mf) {
  const admin = await mf.getWorker("admin");
  return (await admin.scheduled({ cron: "17 * * * *" })).outcome;
}

/** Where the example edge API expects its tokens from, and for. */
export const EDGE_ISSUER = "https://auth.m2m.test";
export const EDGE_AUDIENCE = "https://orders.example.com";

/**
 * The token service and the example edge API (examples/edge-api) in one
 * workerd, the API getting keys over the `AUTH` service binding. `edges`
 * names the API workers to run: each is its own isolate with its own key
 * cache; `edgeVars[name]` adds vars to one of them (`PROJECT_ID`). `extraWorkers` (Miniflare worker options) join them, reachable in
 * `edge` when they have a direct socket. Returns what `startWorker` does,
 * plus `edge[name]`: the base URL of each API worker.
 */
export async function startWithEdgeApi({ bindings = {}, edges = ["edge-api"], edgeVars = {}, ratelimits, direct = false, extraWorkers = [] } = {}) {
  const all = serviceBindings({ ISSUER: EDGE_ISSUER, ...bindings });
  const edgeWorker = (name) => ({
    name,
    modules: true,
    scriptPath: join(root, "examples/edge-api/build/index.js"),
    modulesRules: WASM_MODULES,
    compatibilityDate: COMPATIBILITY_DATE,
    bindings: { ISSUER: EDGE_ISSUER, AUDIENCE: EDGE_AUDIENCE, ...(edgeVars[name] ?? {}) },
    serviceBindings: { AUTH: "auth" },
    unsafeDirectSockets: DIRECT,
  });
  const mf = new Miniflare({
    inspectorPort: 0,
    workers: [...tokenServiceWorkers({ bindings: all, ratelimits, direct }), ...edges.map(edgeWorker), ...extraWorkers],
  });
  const url = await mf.ready;
  await migrated(mf, true);
  const edge = {};
  for (const name of [...edges, ...extraWorkers.filter((x) => x.unsafeDirectSockets).map((x) => x.name)]) edge[name] = (await mf.unsafeGetDirectURL(name)).href.replace(/\/$/, "");
  const directBase = direct ? (await mf.unsafeGetDirectURL("auth")).href.replace(/\/$/, "") : undefined;
  return { mf, base: url.href.replace(/\/$/, ""), directBase, edge, secrets: all, scheduled: () => cron(mf), close: () => mf.dispose() };
}

/**
 * A JS Worker bound to the token service as `AUTH`, for `extraWorkers`:
 * `source` is `{ scriptPath }` or `{ script }`; reachable at `edge[name]`.
 */
export function boundJsWorker(name, source, bindings = {}) {
  return { name, modules: true, ...source, compatibilityDate: COMPATIBILITY_DATE, bindings, serviceBindings: { AUTH: "auth" }, unsafeDirectSockets: DIRECT };
}

/** Small HTTP helpers bound to one worker. */
export function clientFor(w) {
  const adminHeaders = { authorization: `Bearer ${w.secrets.ADMIN_API_KEY}` };
  return {
    async admin(method, path, body) {
      const headers = { ...adminHeaders };
      if (body !== undefined) headers["content-type"] = "application/json";
      const r = await fetch(`${w.base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await r.text();
      return { status: r.status, headers: r.headers, json: text ? JSON.parse(text) : null };
    },
    /** An admin API call with this bearer token (an admin token). */
    async withToken(token, method, path, body) {
      const headers = { authorization: `Bearer ${token}` };
      if (body !== undefined) headers["content-type"] = "application/json";
      const r = await fetch(`${w.base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await r.text();
      return { status: r.status, challenge: r.headers.get("www-authenticate"), json: text ? JSON.parse(text) : null };
    },
    async createClient(body = {}) {
      const r = await this.admin("POST", "/admin/clients", {
        name: "e2e",
        grants: [{ audience: "https://api.example.com", scopes: ["read", "write"] }],
        ...body,
      });
      if (r.status !== 201) throw new Error(`create failed: ${r.status} ${JSON.stringify(r.json)}`);
      return r.json;
    },
    async token({ basic, form, json, headers = {} } = {}) {
      const h = { ...headers };
      if (basic) h.authorization = `Basic ${Buffer.from(`${encodeURIComponent(basic[0])}:${encodeURIComponent(basic[1])}`).toString("base64")}`;
      let body;
      if (json !== undefined) {
        h["content-type"] ??= "application/json";
        body = typeof json === "string" ? json : JSON.stringify(json);
      } else if (form !== undefined) {
        h["content-type"] ??= "application/x-www-form-urlencoded";
        body = form;
      }
      const r = await fetch(`${w.base}/oauth2/token`, { method: "POST", headers: h, body });
      const text = await r.text();
      let parsed = null;
      try { parsed = JSON.parse(text); } catch { parsed = { unparsable: text }; }
      return { status: r.status, headers: r.headers, json: parsed };
    },
  };
}

/**
 * Register before/after hooks that run one worker for the calling test file
 * on the backend in M2M_STORAGE; returns an object whose `w` and `api` are
 * set once the worker is up.
 */
export function useWorker(options = {}) {
  const ctx = { storage: process.env.M2M_STORAGE ?? "d1", w: null, api: null };
  before(async () => {
    ctx.w = await startWorker({ ...options, bindings: { STORAGE: ctx.storage, ...(options.bindings ?? {}) } });
    ctx.api = clientFor(ctx.w);
  });
  after(() => ctx.w?.close());
  return ctx;
}

/** PIDs of every workerd process descended from this node process (tests and `make bench`). */
export function workerdPids() {
  const stat = (pid) => {
    try {
      const text = readFileSync(`/proc/${pid}/stat`, "utf8");
      return { comm: text.slice(text.indexOf("(") + 1, text.lastIndexOf(")")), ppid: Number(text.slice(text.lastIndexOf(")") + 2).split(" ")[1]) };
    } catch {
      return null;
    }
  };
  const all = readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map(Number);
  const parent = new Map(all.map((p) => [p, stat(p)]).filter(([, s]) => s));
  const ours = (pid) => {
    for (let p = pid, hops = 0; p > 1 && hops < 10; hops++) {
      if (p === process.pid) return true;
      p = parent.get(p)?.ppid ?? 0;
    }
    return false;
  };
  return [...parent].filter(([pid, s]) => s.comm === "workerd" && ours(pid)).map(([pid]) => pid);
}

/** Resident memory (kB) of every workerd process this test process started: now, and the peak so far. */
export function workerdMemory() {
  let rss = 0;
  let peak = 0;
  for (const pid of workerdPids()) {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    rss += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    peak += Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  }
  return { rss, peak };
}

/**
 * POST `bytes` bytes to `url` chunked (no Content-Length), 64 KiB at a
 * time, stopping as soon as the server answers (a server may answer before
 * it has read the body, RFC 9112 §9.6). With `pauseMs`, waits that long
 * after each chunk, as a slow client would. Resolves to
 * `{ status, json, sent }`, or `{ reset: true, sent }` when the server
 * closed the connection under a write (RFC 9110 §15.5.14 lets a 413 close it).
 */
export function postChunked(url, headers, bytes, { pauseMs = 0 } = {}) {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  return new Promise((resolve) => {
    let sent = 0;
    let answered = false;
    const req = request(url, { method: "POST", headers }, (res) => {
      answered = true;
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (text += d));
      res.on("end", () => {
        req.destroy();
        resolve({ status: res.statusCode, json: text ? JSON.parse(text) : null, sent });
      });
    });
    req.on("error", () => answered || resolve({ reset: true, sent }));
    const pump = () => {
      if (answered) return;
      if (sent >= bytes) return req.end();
      sent += chunk.length;
      const flushed = req.write(chunk);
      if (pauseMs > 0) setTimeout(pump, pauseMs);
      else if (flushed) setImmediate(pump);
      else req.once("drain", pump);
    };
    pump();
  });
}
