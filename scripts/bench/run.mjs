// `make bench`: the token endpoint measured side by side with a peer
// (node-oidc-provider) and against the worker's own trivial-request ceiling
// (the JWKS), on loopback, one point after another. Prints one table and
// writes BENCHMARKS.md. Not a test: nothing here asserts a time.
//
//   QUICK=1  a second per point instead of ten (keeps the script from rotting)
//
// CPU is read from /proc/<pid>/stat (utime + stime) of the server processes —
// every workerd process Miniflare started, or the peer's node process —
// before and after each slice, and reported per 1,000 requests, so the
// worker's own cost per token reads as token CPU − JWKS CPU.
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { Miniflare } from "miniflare";
import { build as esbuild } from "esbuild";
import { COMPATIBILITY_DATE, DIRECT, EDGE_AUDIENCE, EDGE_ISSUER, WASM_MODULES, clientFor, startWithEdgeApi, startWorker, workerdPids } from "../../tests/e2e/harness.mjs";
import { EXCHANGE_BODY, script as floorScript } from "./floor.mjs";
import { WASM_FLOOR, coldLines, coldStart } from "./cold.mjs";
import { load } from "./load.mjs";
import { benchBinary, hasValgrind, inclusiveByFunction, instructions } from "./callgrind.mjs";
import { bootstrap, mean, meanSplit, median } from "./stats.mjs";
import { ADDRESS, NEVER_TRIPPED, TOKEN_FORM, basic, secretAndFederated } from "./secretless.mjs";
import { SignJWT, exportJWK, generateKeyPair } from "jose";

const root = new URL("../../", import.meta.url).pathname;
const QUICK = process.env.QUICK === "1";
const SECONDS = QUICK ? 1 : 10;
const SLICES = QUICK ? 1 : 5;
const WARMUP = QUICK ? 1 : 10;
const CONNECTIONS = [1, 8, 32];
const TICKS = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

// ---------------------------------------------------------------- CPU ----

function statOf(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    const after = text.slice(text.lastIndexOf(")") + 2).split(" ");
    const comm = text.slice(text.indexOf("(") + 1, text.lastIndexOf(")"));
    return { comm, ppid: Number(after[1]), ticks: Number(after[11]) + Number(after[12]) };
  } catch {
    return null;
  }
}

const cpuTicks = (pids) => pids.reduce((sum, pid) => sum + (statOf(pid)?.ticks ?? 0), 0);

// --------------------------------------------------------------- load ----

/** One slice: load plus the server CPU it cost. */
function slice(pids, spec) {
  const before = cpuTicks(pids());
  const r = load(spec);
  const after = cpuTicks(pids());
  const cpuUs = r.requests ? (((after - before) / TICKS) * 1e6) / r.requests : NaN;
  return { ...r, cpuMsPer1k: cpuUs };
}

/**
 * Every series (one server's token and trivial requests) at one connection
 * count, in `rounds` rounds (SLICES unless said) of `seconds`-long slices:
 * each round gives every request of every series one slice, in turn, every
 * other round in the reverse turn. Each figure is the median slice;
 * `cpus` keeps each round's CPU figure. This machine's neighbours come and
 * go; taken this way a slow window spoils one slice of
 * each rather than a whole point, and never one side of a comparison only.
 */
function points(series, connections, rounds = SLICES, seconds = SECONDS / SLICES) {
  const slices = series.map((s) => s.specs.map(() => []));
  // Every other round in the reverse order, so that no request always
  // follows the same one (measured: taken always in one order, two builds
  // that differ in nothing came out 0.33 apart in a ratio; scripts/bench/ab.mjs).
  const order = series.flatMap((s, si) => s.specs.map((_, ri) => [si, ri]));
  for (let i = 0; i < rounds; i++) {
    for (const [si, ri] of i % 2 === 0 ? order : [...order].reverse()) {
      const s = series[si];
      slices[si][ri].push(slice(s.pids, { ...s.specs[ri][1], connections, seconds }));
    }
  }
  return series.map((s, si) =>
    s.specs.map(([request], ri) => {
      const xs = slices[si][ri];
      return {
        request,
        connections,
        rps: median(xs.map((x) => x.rps)),
        p50: median(xs.map((x) => x.p50)),
        p99: median(xs.map((x) => x.p99)),
        errors: xs.reduce((n, x) => n + x.errors, 0),
        cpuMsPer1k: median(xs.map((x) => x.cpuMsPer1k)),
        // Each round's figure, for ratios taken round by round (`roundRatios`).
        cpus: xs.map((x) => x.cpuMsPer1k),
      };
    }),
  );
}

// ------------------------------------------------------------ targets ----

const rows = [];

/** m2m-edge on both backends in both key modes, all four running, measured side by side. */
async function benchWorkers() {
  const running = [];
  const series = [];
  try {
    for (const storage of ["d1-replicas", "d1"]) {
      for (const keyMode of ["byok", "managed"]) {
        const before = new Set(workerdPids());
        const bindings = { STORAGE: storage, ...(keyMode === "managed" ? { SIGNING_KEYS: undefined } : {}) };
        const w = await startWorker({ bindings, direct: true, ratelimits: NEVER_TRIPPED });
        running.push(w);
        const own = workerdPids().filter((pid) => !before.has(pid));
        if (own.length === 0) throw new Error(`no workerd process found for ${storage}/${keyMode}`);
        const c = await clientFor(w).createClient();
        const token = { url: `${w.directBase}/oauth2/token`, method: "POST", headers: { ...TOKEN_FORM, ...ADDRESS, authorization: basic(c.client_id, c.client_secret) }, body: "grant_type=client_credentials" };
        const jwks = { url: `${w.directBase}/.well-known/jwks.json` };
        series.push({ storage, keyMode, pids: () => own, specs: [["token", token], ["jwks", jwks]] });
        load({ ...token, connections: 8, seconds: WARMUP > 2 ? 2 : 1 });
      }
    }
    for (const connections of CONNECTIONS) {
      points(series, connections).forEach((results, i) => {
        for (const r of results) {
          rows.push({ target: "m2m-edge (workerd)", storage: series[i].storage, keyMode: series[i].keyMode, ...r });
          log(rows.at(-1));
        }
      });
    }
  } finally {
    for (const w of running) await w.close();
  }
}

/**
 * One D1 worker with a secret client and a federated client
 * (`secretAndFederated`) and a private_key_jwt client, and the three kinds
 * of token request. `script`: a test-only module around the
 * built worker (cold-probe.mjs).
 */
async function secretlessWorker(script) {
  const { w, own, api, url, secretSpec, federatedSpec, close } = await secretAndFederated(script);
  const { publicKey, privateKey } = await generateKeyPair("ES256");
  const created = await api.admin("POST", "/admin/clients", {
    name: "signer",
    token_endpoint_auth_method: "private_key_jwt",
    jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: "k" }] },
    grants: [{ audience: "https://api.example.com", scopes: ["read"] }],
  });
  const keyClient = created.json.client_id;
  const assertion = async () => ({
    headers: { ...TOKEN_FORM, ...ADDRESS },
    body: new URLSearchParams({
      grant_type: "client_credentials",
      client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
      client_assertion: await new SignJWT({ jti: crypto.randomUUID() })
        .setProtectedHeader({ alg: "ES256", kid: "k" })
        .setIssuer(keyClient)
        .setSubject(keyClient)
        .setAudience(url)
        .setIssuedAt()
        .setExpirationTime("1m")
        .sign(privateKey),
    }).toString(),
  });
  const kinds = {
    secret: async () => ({ headers: secretSpec.headers, body: secretSpec.body }),
    federated: async () => ({ headers: federatedSpec.headers, body: federatedSpec.body }),
    privateKeyJwt: assertion,
  };
  return { w, own, url, secretSpec, federatedSpec, kinds, close };
}

/** `n` requests made by `request()`, one at a time: p50 and server CPU per request. */
async function sequential(own, url, request, n) {
  const bodies = [];
  for (let i = 0; i < n; i++) bodies.push(await request());
  const times = [];
  const cpuBefore = cpuTicks(own);
  for (let made of bodies) {
    const start = performance.now();
    let r;
    try {
      r = await fetch(url, { method: made.method ?? "POST", headers: made.headers, body: made.body });
    } catch (e) {
      // A kept-alive connection the server closed while the bodies were
      // made: once more on a new one, with a fresh request (an assertion
      // may have arrived before the socket closed).
      if (e?.cause?.code !== "UND_ERR_SOCKET") throw e;
      made = await request();
      r = await fetch(url, { method: made.method ?? "POST", headers: made.headers, body: made.body });
    }
    await r.arrayBuffer();
    if (r.status !== 200) throw new Error(`sequential request: ${r.status}`);
    times.push(performance.now() - start);
  }
  const cpu = (((cpuTicks(own) - cpuBefore) / TICKS) * 1e6) / n;
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(n / 2)], cpu };
}

/**
 * The three kinds of `worker` (secretlessWorker) one request at a time:
 * each warmed first (JIT, caches), then taken in five rounds of `n / 5`
 * each, kind after kind, so a slow moment of the machine falls on every
 * kind alike; `after(kind, warmUp)` runs after each kind's share of a
 * round, and after its warm-up. Per kind: p50 of the latencies and server CPU
 * per request.
 */
async function interleaved(worker, n, after = async () => {}) {
  const kinds = Object.entries(worker.kinds);
  for (const [kind, request] of kinds) {
    await sequential(worker.own, worker.url, request, 200);
    await after(kind, true);
  }
  const figures = Object.fromEntries(kinds.map(([kind]) => [kind, { p50s: [], cpus: [] }]));
  for (let round = 0; round < 5; round++) {
    for (const [kind, request] of kinds) {
      const r = await sequential(worker.own, worker.url, request, n / 5);
      await after(kind, false);
      figures[kind].p50s.push(r.p50);
      figures[kind].cpus.push(r.cpu);
    }
  }
  return Object.fromEntries(Object.entries(figures).map(([kind, f]) => [kind, { p50: median(f.p50s), cpu: mean(f.cpus) }]));
}

/**
 * Secretless token requests beside the secret one, in one D1 worker: token
 * exchange at 8 connections side by side with client_secret_basic; then all
 * three sequentially (private_key_jwt's assertions are single-use: one
 * fresh assertion per request). Then where each one's time goes inside the
 * isolate (cold-probe.mjs around the same worker: D1, WebCrypto verify and
 * sign, the rest), and what one D1 write costs a plain JS worker here
 * (write-floor.js), since private_key_jwt makes one per request.
 */
async function benchSecretless() {
  const n = QUICK ? 100 : 1000;
  const s = await secretlessWorker();
  let sequentialFigures;
  try {
    load({ ...s.federatedSpec, connections: 8, seconds: 1 });
    const series = [{ storage: "d1", keyMode: "byok", pids: () => s.own, specs: [["token (secret)", s.secretSpec], ["token exchange (federated)", s.federatedSpec]] }];
    for (const r of points(series, 8)[0]) {
      rows.push({ target: "m2m-edge secretless", storage: "d1", keyMode: "byok", ...r });
      log(rows.at(-1));
    }
    sequentialFigures = await interleaved(s, n);
  } finally {
    await s.close();
  }
  const probed = await secretlessWorker("scripts/bench/cold-probe.mjs");
  const inside = {};
  try {
    const parts = Object.fromEntries(Object.keys(probed.kinds).map((kind) => [kind, []]));
    await interleaved(probed, n, async (kind, warmUp) => {
      const { requests } = await (await fetch(`${probed.w.directBase}/__cold?reset`)).json();
      if (!warmUp) parts[kind].push(...requests);
    });
    for (const [kind, requests] of Object.entries(parts)) inside[kind] = meanSplit(requests);
  } finally {
    await probed.close();
  }
  const writeFloor = await benchWriteFloor(n);
  return { sequential: sequentialFigures, inside, writeFloor, n };
}

/** CPU per request of write-floor.js: one D1 write per POST, against its GET (no D1). */
async function benchWriteFloor(n) {
  const before = new Set(workerdPids());
  const w = await startWorker({ direct: true, script: "scripts/bench/write-floor.js" });
  try {
    const own = workerdPids().filter((pid) => !before.has(pid));
    const url = `${w.directBase}/`;
    const post = async () => ({ headers: TOKEN_FORM, body: `key=${crypto.randomUUID()}` });
    const get = async () => ({ method: "GET" });
    await sequential(own, url, post, 20);
    const write = await sequential(own, url, post, n);
    const trivial = await sequential(own, url, get, n);
    return { write: write.cpu, trivial: trivial.cpu };
  } finally {
    await w.close();
  }
}

async function benchPeer() {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const secret = "bench-secret-" + Math.random().toString(36).slice(2);
  const child = spawn(process.execPath, [join(root, "scripts/bench/peer.mjs"), String(port), "bench", secret], { stdio: ["ignore", "pipe", "pipe"] });
  try {
    await new Promise((resolve, reject) => {
      child.stdout.on("data", (d) => String(d).includes("ready") && resolve());
      child.once("exit", () => reject(new Error("peer exited")));
    });
    const base = `http://127.0.0.1:${port}`;
    const token = { url: `${base}/token`, method: "POST", headers: { ...TOKEN_FORM, authorization: basic("bench", secret) }, body: "grant_type=client_credentials" };
    const jwks = { url: `${base}/jwks` };
    load({ ...token, connections: 8, seconds: WARMUP }); // its first ~10 s run slow (docs/toolchain.md)
    for (const connections of CONNECTIONS) {
      for (const r of points([{ pids: () => [child.pid], specs: [["token", token], ["jwks", jwks]] }], connections)[0]) {
        rows.push({ target: "node-oidc-provider 9.13.3", storage: "memory", keyMode: "-", ...r });
        log(rows.at(-1));
      }
    }
  } finally {
    child.kill("SIGTERM");
  }
}

/**
 * The runtime's floors, side by side in one workerd: a plain JS worker doing
 * only a token's runtime work (floor.mjs), and the same work as a Rust/wasm
 * worker built like m2m-edge's token service (wasm-floor/). The second less
 * the first is what being a Rust/wasm worker costs by itself here. Each a
 * series for `points`: its token, trivial GET and token exchange, warmed.
 */
async function startFloors() {
  const before = new Set(workerdPids());
  const mf = new Miniflare({
    workers: [
      { name: "js-floor", modules: true, script: floorScript, compatibilityDate: COMPATIBILITY_DATE, unsafeDirectSockets: DIRECT },
      { name: "wasm-floor", modules: true, scriptPath: join(root, WASM_FLOOR), modulesRoot: root, modulesRules: WASM_MODULES, compatibilityDate: COMPATIBILITY_DATE, unsafeDirectSockets: DIRECT },
    ],
  });
  try {
    await mf.ready;
    const own = workerdPids().filter((pid) => !before.has(pid));
    const series = [];
    for (const [target, name] of [["JS floor (workerd)", "js-floor"], ["wasm floor (workerd)", "wasm-floor"]]) {
      const base = (await mf.unsafeGetDirectURL(name)).href.replace(/\/$/, "");
      const token = { url: `${base}/token`, method: "POST", headers: TOKEN_FORM, body: "grant_type=client_credentials" };
      const specs = [["token", token], ["trivial GET", { url: `${base}/trivial` }]];
      specs.push(["token exchange", { url: `${base}/exchange`, method: "POST", headers: TOKEN_FORM, body: EXCHANGE_BODY }]);
      series.push({ target, pids: () => own, specs });
      load({ ...token, connections: 8, seconds: 1 });
    }
    return { series, close: () => mf.dispose() };
  } catch (e) {
    await mf.dispose();
    throw e;
  }
}

async function benchFloor() {
  const floors = await startFloors();
  try {
    points(floors.series, 8).forEach((results, i) => {
      for (const r of results) {
        rows.push({ target: floors.series[i].target, storage: "-", keyMode: "-", ...r });
        log(rows.at(-1));
      }
    });
  } finally {
    await floors.close();
  }
}

/**
 * Rounds of `benchRatios`, each a 1 s slice of each of its nine requests:
 * ~10 s a round, so 20 rounds end well inside the 300 s for which the
 * worker holds the platform issuer's keys (served from this process, whose
 * event loop oha blocks; secretless.mjs).
 */
const RATIO_ROUNDS = QUICK ? 2 : 20;

/**
 * The edge budget's two warm ratios in one comparison: a D1 worker's
 * secret token, federated token exchange (secretAndFederated) and JWKS
 * beside both floors' token, trivial GET and exchange, every request a
 * 1 s slice per round over RATIO_ROUNDS rounds (every other round in
 * the reverse turn). Each CPU figure per round, by name, for `bootstrap`.
 */
async function benchRatios() {
  const s = await secretAndFederated();
  let floors;
  try {
    floors = await startFloors();
    const ours = { pids: () => s.own, specs: [["secret", s.secretSpec], ["federated", s.federatedSpec], ["jwks", { url: `${s.w.directBase}/.well-known/jwks.json` }]] };
    for (const [, spec] of ours.specs) load({ ...spec, connections: 8, seconds: 1 });
    const results = points([ours, ...floors.series], 8, RATIO_ROUNDS, 1);
    const failed = results.flat().filter((r) => r.errors > 0);
    if (failed.length) throw new Error(`benchRatios: errors in ${failed.map((r) => `${r.request} (${r.errors})`).join(", ")}`);
    const [m2m, js, wasm] = results.map((series) => series.map((r) => r.cpus));
    return m2m[0].map((_, i) => ({
      secret: m2m[0][i], federated: m2m[1][i], jwks: m2m[2][i],
      jsToken: js[0][i], jsTrivial: js[1][i], jsExchange: js[2][i],
      wasmToken: wasm[0][i], wasmTrivial: wasm[1][i], wasmExchange: wasm[2][i],
    }));
  } finally {
    await floors?.close();
    await s.close();
  }
}

/**
 * Verifying a token at the edge: the example edge API (Rust,
 * m2m-edge-verify, WebCrypto) beside the same API as a JS worker with jose
 * (jose-api.mjs) and the runtime's floor (verify-floor.mjs: one WebCrypto
 * verification, nothing else), all in the workerd of the token service, keys
 * over the service binding and warm. Each worker's `/health` is its trivial
 * route.
 */
async function benchVerifiers() {
  const jose = await esbuild({ entryPoints: [join(root, "scripts/bench/jose-api.mjs")], bundle: true, format: "esm", write: false, conditions: ["worker", "browser"] });
  const js = (name, script) => ({
    name,
    modules: true,
    script,
    compatibilityDate: "2026-04-20",
    bindings: { ISSUER: EDGE_ISSUER, AUDIENCE: EDGE_AUDIENCE },
    serviceBindings: { AUTH: "auth" },
    unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
  });
  const before = new Set(workerdPids());
  const w = await startWithEdgeApi({
    extraWorkers: [js("jose-api", jose.outputFiles[0].text), js("verify-floor", readFileSync(join(root, "scripts/bench/verify-floor.mjs"), "utf8"))],
  });
  try {
    const own = workerdPids().filter((pid) => !before.has(pid));
    const api = clientFor(w);
    const c = await api.createClient({ grants: [{ audience: EDGE_AUDIENCE, scopes: ["orders:read"] }] });
    const token = (await api.token({ basic: [c.client_id, c.client_secret], form: "grant_type=client_credentials" })).json.access_token;
    const series = [
      ["edge API, Rust (m2m-edge-verify)", "edge-api"],
      ["edge API, JS (jose 6)", "jose-api"],
      ["JS verify floor (workerd)", "verify-floor"],
    ].map(([target, name]) => ({
      target,
      pids: () => own,
      specs: [
        ["verify", { url: `${w.edge[name]}/orders`, headers: { authorization: `Bearer ${token}` } }],
        ["trivial GET", { url: `${w.edge[name]}/health` }],
      ],
    }));
    for (const s of series) load({ ...s.specs[0][1], connections: 8, seconds: 1 });
    points(series, 8).forEach((results, i) => {
      for (const r of results) {
        rows.push({ target: series[i].target, storage: "-", keyMode: "-", ...r });
        log(rows.at(-1));
      }
    });
    return await benchDpop(w, own, c);
  } finally {
    await w.close();
  }
}

/**
 * DPoP at the Rust edge API (RFC 9449 §7.1, `verify_dpop`): a bound token
 * with a fresh proof per request (each is taken once, so they are signed
 * beforehand), beside the same API's bearer verification and trivial
 * route, one request at a time, interleaved in five rounds. Server CPU per
 * request of each; the proof's check is DPoP − bearer, the verification
 * bearer − trivial.
 */
async function benchDpop(w, own, client) {
  const { publicKey, privateKey } = await generateKeyPair("ES256");
  const jwk = await exportJWK(publicKey);
  const proof = (htm, htu, claims = {}) =>
    new SignJWT({ htm, htu, ...claims }).setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk }).setIssuedAt().setJti(crypto.randomUUID()).sign(privateKey);
  const api = clientFor(w);
  const form = `grant_type=client_credentials&resource=${encodeURIComponent(EDGE_AUDIENCE)}`;
  const bound = (await api.token({ basic: [client.client_id, client.client_secret], form, headers: { dpop: await proof("POST", `${EDGE_ISSUER}/oauth2/token`) } })).json.access_token;
  const bearer = (await api.token({ basic: [client.client_id, client.client_secret], form })).json.access_token;
  const ath = createHash("sha256").update(bound).digest("base64url");
  const orders = `${w.edge["edge-api"]}/orders`;
  const kinds = {
    trivial: [`${w.edge["edge-api"]}/health`, async () => ({ method: "GET" })],
    bearer: [orders, async () => ({ method: "GET", headers: { authorization: `Bearer ${bearer}` } })],
    dpop: [orders, async () => ({ method: "GET", headers: { authorization: `DPoP ${bound}`, dpop: await proof("GET", orders, { ath }) } })],
  };
  // CPU is read in clock ticks (10 ms): a thousand requests per round
  // read it to 10 µs a request.
  const n = QUICK ? 1000 : 5000;
  const cpus = Object.fromEntries(Object.keys(kinds).map((k) => [k, []]));
  for (const [url, request] of Object.values(kinds)) await sequential(own, url, request, 100);
  for (let round = 0; round < 5; round++) {
    for (const [kind, [url, request]] of Object.entries(kinds)) cpus[kind].push((await sequential(own, url, request, n / 5)).cpu);
  }
  const cpu = Object.fromEntries(Object.entries(cpus).map(([k, xs]) => [k, median(xs)]));
  console.error(`  DPoP at the Rust edge API: ${JSON.stringify(cpu)}`);
  return { ...cpu, n };
}

/**
 * The native verifier's verifications/s on one core beside jsonwebtoken's
 * (crates/verify/benches/native.rs), jsonwebtoken 12 (AWS-LC) and 9 (ring):
 * with the default back end (aws-lc-rs) and with the pure-Rust fallback (p256).
 */
function benchNativeVerifier() {
  const run = (features) => {
    const out = execFileSync("cargo", ["bench", "-q", "-p", "m2m-edge-verify", ...features, "--bench", "native"], { cwd: root, encoding: "utf8" });
    const rate = (prefix) => {
      const line = out.split("\n").find((l) => l.startsWith(prefix));
      if (!line) throw new Error(`native bench: no line starting "${prefix}" in:\n${out}`);
      console.error(`  ${line}`);
      return Number(line.match(/: (\d+)/)[1]);
    };
    const ratio = Number(out.match(/^ratio \(median of \d+ paired windows\): ([\d.]+)/m)?.[1]);
    const ratio9 = Number(out.match(/^ratio to jsonwebtoken 9 \(median of \d+ paired windows\): ([\d.]+)/m)?.[1]);
    const revocationLine = out.split("\n").find((l) => l.startsWith("revocation check"));
    if (revocationLine) console.error(`  ${revocationLine}`);
    const revocationCheck = Number(revocationLine?.match(/: ([\d.]+) µs/)?.[1]);
    const dpopLine = out.split("\n").find((l) => l.startsWith("DPoP:"));
    if (dpopLine) console.error(`  ${dpopLine}`);
    const dpop = dpopLine?.replace(/^DPoP: /, "");
    return { ours: rate("native verifications/s"), jsonwebtoken: rate("jsonwebtoken verifications/s"), jsonwebtoken9: rate("jsonwebtoken 9 verifications/s"), ratio, ratio9, revocationCheck, dpop };
  };
  const fast = run([]);
  // Instructions per verification: callgrind over 1,000 verifications of
  // one side, less a run of none.
  const counts = counted("native verifier", () => {
    const binary = benchBinary(root, "m2m-edge-verify", "native");
    const none = instructions(binary, { NATIVE_BENCH_COUNT: "ours:0" });
    const per = (side) => (instructions(binary, { NATIVE_BENCH_COUNT: `${side}:1000` }) - none) / 1000;
    const counts = { ours: per("ours"), jsonwebtoken: per("jsonwebtoken"), jsonwebtoken9: per("jsonwebtoken9") };
    console.error(`  instructions per verification: ours ${counts.ours.toFixed(0)}, jsonwebtoken ${counts.jsonwebtoken.toFixed(0)}, jsonwebtoken 9 ${counts.jsonwebtoken9.toFixed(0)}`);
    return counts;
  });
  const p256 = run(["--no-default-features", "--features", "verifier"]);
  return { fast, p256, counts };
}

/**
 * `count()`, or undefined: without valgrind here (the timed figures then
 * stand alone), or when counting failed — said on stderr, so that a broken
 * count costs its line, not the run's other figures.
 */
function counted(what, count) {
  if (!hasValgrind()) return undefined;
  try {
    return count();
  } catch (e) {
    console.error(`  ${what}: not counted: ${e.message}`);
    return undefined;
  }
}

/**
 * The token endpoint's own work, counted: instructions per request inside
 * the core's `token::handle` less its signature checks (whose cryptography
 * the Worker hands to WebCrypto), natively under callgrind
 * (crates/core/benches/protocol.rs), for a secret token and a federated
 * exchange; with the parts named in PROTOCOL_PARTS where the compiler kept
 * them functions of their own.
 */
function benchProtocolWork() {
  return counted("protocol work", () => {
    const binary = benchBinary(root, "m2m-edge-core", "protocol");
    const n = 100;
    // The set-up alone (both kinds warmed, no request counted), once.
    const none = inclusiveByFunction(binary, { PROTOCOL_BENCH: "secret:0" });
    const perRequest = (kind) => {
      const some = inclusiveByFunction(binary, { PROTOCOL_BENCH: `${kind}:${n}` });
      const of = (name) => ((some.get(name) ?? 0) - (none.get(name) ?? 0)) / n;
      if (!(of(HANDLE) > 0)) throw new Error(`no ${HANDLE} in the profile of ${kind}`);
      // A part this kind never reaches counts a fraction of an instruction (the set-up's share): left out.
      const parts = Object.fromEntries(PROTOCOL_PARTS.map(([label, name]) => [label, of(name)]).filter(([, count]) => count >= 1));
      return { total: of(HANDLE) - of(SIGNATURE_CHECK), signatureCheck: of(SIGNATURE_CHECK), parts };
    };
    const work = { secret: perRequest("secret"), federated: perRequest("federated") };
    // Inlined, the check would be counted as protocol work: refuse the count.
    if (!(work.federated.signatureCheck > 0)) throw new Error(`no ${SIGNATURE_CHECK} in the profile of an exchange`);
    console.error(`  protocol work (instructions per request): ${JSON.stringify(work)}`);
    return work;
  });
}

const HANDLE = "m2m_edge_core::app::token::handle::{{closure}}";
const SIGNATURE_CHECK = "m2m_edge_core::app::signature::verifies::{{closure}}";
/** Parts of `benchProtocolWork`'s count, by the functions that hold them. */
const PROTOCOL_PARTS = [
  ["the form", "m2m_edge_core::oauth::params::TokenParams::from_form"],
  ["the client authenticated", "m2m_edge_core::app::token::client_authentication::{{closure}}"],
  ["the platform token cut and its payload decoded", "m2m_edge_verify::token::split"],
  ["JSON objects read in place (its claims, its header)", "m2m_edge_verify::members::Members::parse"],
];

// ------------------------------------------------------------- report ----

const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : "–");
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : "–");

/**
 * `b`'s CPU over `a`'s, round by round (two slices taken close together):
 * the median and the range over the rounds, as "1.23× (rounds 1.10–1.40×)".
 */
function roundRatios(a, b) {
  const ratios = a.cpus.map((x, i) => b.cpus[i] / x);
  return `${f2(median(ratios))}× (rounds ${f2(Math.min(...ratios))}–${f2(Math.max(...ratios))}×)`;
}

function log(r) {
  console.error(`  ${r.target} ${r.storage}/${r.keyMode} ${r.request} c=${r.connections}: ${f1(r.rps)} req/s, p50 ${f2(r.p50)} ms, p99 ${f2(r.p99)} ms, errors ${r.errors}, CPU ${f1(r.cpuMsPer1k)} ms/1k`);
}

function table() {
  const head = "| server | storage | keys | request | conns | req/s | p50 ms | p99 ms | errors | server CPU ms / 1k req |\n|---|---|---|---|---|---|---|---|---|---|";
  const lines = rows.map((r) => `| ${r.target} | ${r.storage} | ${r.keyMode} | ${r.request} | ${r.connections} | ${f1(r.rps)} | ${f2(r.p50)} | ${f2(r.p99)} | ${r.errors} | ${f1(r.cpuMsPer1k)} |`);
  return [head, ...lines].join("\n");
}

function find(target, storage, keyMode, request, connections) {
  return rows.find((r) => r.target.startsWith(target) && r.storage === storage && r.keyMode === keyMode && r.request === request && r.connections === connections);
}

const wasm = readFileSync(join(root, "build/index_bg.wasm"));
const machine = {
  nproc: execFileSync("nproc", { encoding: "utf8" }).trim(),
  cpu: cpus()[0]?.model ?? "unknown",
  date: new Date().toISOString().slice(0, 10),
  // The commit measured, "+changes" when tracked files differed from it.
  commit: (() => {
    try {
      const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: root, encoding: "utf8" }).trim();
      const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: root, encoding: "utf8" }).trim();
      return dirty ? `${head}+changes` : head;
    } catch {
      return "unknown";
    }
  })(),
};

console.error(`make bench${QUICK ? " (QUICK: 1 s per point)" : ""}: ${machine.nproc} cores, ${machine.cpu}`);
await benchWorkers();
await benchFloor();
const dpopEdge = await benchVerifiers();
const native = benchNativeVerifier();
const protocolWork = benchProtocolWork();
const secretless = await benchSecretless();
const ratioRounds = await benchRatios();
await benchPeer();
const cold = await coldStart(QUICK ? 3 : 9);

const summary = [];
const peer8 = find("node-oidc", "memory", "-", "token", 8);
/** Worker CPU per token (token − JWKS) of each configuration, 8 connections. */
const perToken = [];
for (const storage of ["d1-replicas", "d1"]) {
  for (const keyMode of ["byok", "managed"]) {
    const t8 = find("m2m-edge", storage, keyMode, "token", 8);
    const j8 = find("m2m-edge", storage, keyMode, "jwks", 8);
    perToken.push(t8.cpuMsPer1k - j8.cpuMsPer1k);
    summary.push(
      `- ${storage}/${keyMode}, 8 connections: ${f1(t8.rps)} tokens/s = ${f2(t8.rps / peer8.rps)}× node-oidc-provider (${f1(peer8.rps)}) and ${f1((100 * t8.rps) / j8.rps)} % of the same worker's JWKS req/s (${f1(j8.rps)}); worker CPU per token (token − JWKS) ${f1(t8.cpuMsPer1k - j8.cpuMsPer1k)} µs`,
    );
  }
}
const floorToken = find("JS floor", "-", "-", "token", 8);
const floorTrivial = find("JS floor", "-", "-", "trivial GET", 8);
const floorExchange = find("JS floor", "-", "-", "token exchange", 8);
const wasmExchange = find("wasm floor", "-", "-", "token exchange", 8);
summary.push(
  `- runtime floor (floor.mjs: a plain JS worker that only reads the body and makes one WebCrypto ES256 signature), 8 connections: ${f1(floorToken.rps)} tokens/s = ${f1((100 * floorToken.rps) / floorTrivial.rps)} % of its own trivial GET (${f1(floorTrivial.rps)}); CPU per token above the trivial GET ${f1(floorToken.cpuMsPer1k - floorTrivial.cpuMsPer1k)} µs`,
);
const wasmToken = find("wasm floor", "-", "-", "token", 8);
const wasmTrivial = find("wasm floor", "-", "-", "trivial GET", 8);
{
  const js = floorToken.cpuMsPer1k - floorTrivial.cpuMsPer1k;
  const wasm = wasmToken.cpuMsPer1k - wasmTrivial.cpuMsPer1k;
  const [low, high] = [Math.min(...perToken), Math.max(...perToken)];
  summary.push(
    `- the same floor as a Rust/wasm worker (scripts/bench/wasm-floor: the same work, built like m2m-edge's token service), 8 connections: ${f1(wasmToken.rps)} tokens/s, CPU per token above its trivial GET ${f1(wasm)} µs = ${f2(wasm / js)}× the JS floor's (its trivial GET ${f1(wasmTrivial.cpuMsPer1k)} against ${f1(floorTrivial.cpuMsPer1k)} µs); m2m-edge's token − JWKS (${f1(low)}–${f1(high)} µs) = ${f2(low / wasm)}–${f2(high / wasm)}× the wasm floor's, ${f2(low / js)}–${f2(high / js)}× the JS floor's`,
  );
}
const rust = find("edge API, Rust", "-", "-", "verify", 8);
const rustTrivial = find("edge API, Rust", "-", "-", "trivial GET", 8);
const jose = find("edge API, JS", "-", "-", "verify", 8);
const joseTrivial = find("edge API, JS", "-", "-", "trivial GET", 8);
const vfloor = find("JS verify floor", "-", "-", "verify", 8);
const vfloorTrivial = find("JS verify floor", "-", "-", "trivial GET", 8);
summary.push(
  `- verifying at the edge, 8 connections: the Rust edge API ${f1(rust.rps)} verifications/s = ${f2(rust.rps / jose.rps)}× the jose worker (${f1(jose.rps)}); CPU per verification above each API's own trivial route: Rust ${f1(rust.cpuMsPer1k - rustTrivial.cpuMsPer1k)} µs, jose ${f1(jose.cpuMsPer1k - joseTrivial.cpuMsPer1k)} µs, and the floor — one WebCrypto ES256 verification alone — ${f1(vfloor.cpuMsPer1k - vfloorTrivial.cpuMsPer1k)} µs`,
);
summary.push(
  `- DPoP (RFC 9449) at the Rust edge API, ${dpopEdge.n} sequential requests of each kind: server CPU per request trivial ${f1(dpopEdge.trivial)} µs, bearer ${f1(dpopEdge.bearer)} µs, DPoP ${f1(dpopEdge.dpop)} µs — the proof's check ${f1(dpopEdge.dpop - dpopEdge.bearer)} µs = ${f2((dpopEdge.dpop - dpopEdge.bearer) / (dpopEdge.bearer - dpopEdge.trivial))}× a token verification (${f1(dpopEdge.bearer - dpopEdge.trivial)} µs); natively (aws-lc-rs): ${native.fast.dpop ?? "not measured"}`,
);
const sSecret = find("m2m-edge secretless", "d1", "byok", "token (secret)", 8);
const sFed = find("m2m-edge secretless", "d1", "byok", "token exchange (federated)", 8);
summary.push(
  `- secretless, D1, 8 connections: token exchange with an RS256 platform token (keys warm, reusable token) ${f1(sFed.rps)} tokens/s against ${f1(sSecret.rps)} with a secret in the same worker; worker CPU ${f1(sFed.cpuMsPer1k - sSecret.cpuMsPer1k)} µs more per token (the issuer set from the isolate cache, an RS256 verification with the key imported once per isolate, the credential match): ${f2(sFed.cpuMsPer1k / sSecret.cpuMsPer1k)}× the server CPU per request; round by round ${roundRatios(sSecret, sFed)}. What any worker pays for it here: the JS floor's token exchange (floor.mjs /exchange: the same work as its token, with a token exchange's body and one WebCrypto RS256 verification) ${f1(floorExchange.cpuMsPer1k)} µs of server CPU per request against its token's ${f1(floorToken.cpuMsPer1k)} = ${f2(floorExchange.cpuMsPer1k / floorToken.cpuMsPer1k)}×, round by round ${roundRatios(floorToken, floorExchange)}; the wasm floor's (the same, as a Rust/wasm worker awaiting each promise through wasm-bindgen-futures) ${f1(wasmExchange.cpuMsPer1k)} against ${f1(wasmToken.cpuMsPer1k)} = ${f2(wasmExchange.cpuMsPer1k / wasmToken.cpuMsPer1k)}×, round by round ${roundRatios(wasmToken, wasmExchange)}`,
);
{
  // benchRatios: every figure is a ratio (or difference) of means over the
  // rounds, given with its 95 % interval from resampling the rounds.
  const of = (rs, name) => mean(rs.map((r) => r[name]));
  const over = (top, bottom) => bootstrap(ratioRounds, (rs) => of(rs, top) / of(rs, bottom));
  const above = (top, bottom) => bootstrap(ratioRounds, (rs) => of(rs, top) - of(rs, bottom));
  // A ratio of two gaps; none when the bottom gap is not above zero.
  const gaps = (a, b, c, d) =>
    bootstrap(ratioRounds, (rs) => {
      const bottom = of(rs, c) - of(rs, d);
      return bottom > 0 ? (of(rs, a) - of(rs, b)) / bottom : NaN;
    });
  const times = (b) => `${f2(b.value)}× [${f2(b.low)}–${f2(b.high)}]`;
  const us = (b) => `${f1(b.value)} µs [${f1(b.low)}–${f1(b.high)}]`;
  summary.push(
    `- the edge budget's warm ratios in one comparison (${ratioRounds.length} rounds, each a 1 s slice at 8 connections of every request named here, in turn: a D1 worker of m2m-edge beside both floors; each figure from the means over the rounds, in square brackets its 95 % interval from resampling the rounds): a federated exchange ${times(over("federated", "secret"))} a secret token's server CPU (target ≤ 1.25×), ${us(above("federated", "secret"))} more; the JS floor's exchange ${times(over("jsExchange", "jsToken"))} its token, ${us(above("jsExchange", "jsToken"))} more; the wasm floor's ${times(over("wasmExchange", "wasmToken"))}, ${us(above("wasmExchange", "wasmToken"))} more. Token path: m2m-edge's secret token − JWKS (${us(above("secret", "jwks"))}) ${times(gaps("secret", "jwks", "jsToken", "jsTrivial"))} (target ≤ 1.25×) the JS floor's token − trivial GET (${us(above("jsToken", "jsTrivial"))}) and ${times(gaps("secret", "jwks", "wasmToken", "wasmTrivial"))} the wasm floor's (${us(above("wasmToken", "wasmTrivial"))}), which is ${times(gaps("wasmToken", "wasmTrivial", "jsToken", "jsTrivial"))} the JS floor's`,
  );
}
if (protocolWork) {
  const { secret, federated } = protocolWork;
  const count = (x) => Math.round(x).toLocaleString("en-US");
  const parts = (work) => {
    const named = Object.entries(work.parts).map(([label, n]) => `${label} ${count(n)}`);
    return named.length ? ` (of which ${named.join(", ")})` : "";
  };
  summary.push(
    `- the token endpoint's own work, counted rather than timed (crates/core/benches/protocol.rs natively under callgrind: instructions per request inside the core's \`token::handle\` less its signature checks, whose cryptography the Worker hands to WebCrypto; the app the Worker serves, compiled for the host at opt-level 3): a secret token ${count(secret.total)}${parts(secret)}; a federated exchange ${count(federated.total)} = ${f2(federated.total / secret.total)}×${parts(federated)}`,
  );
}
{
  const { sequential: q, inside, writeFloor, n } = secretless;
  const us = (ms) => (1000 * ms).toFixed(0);
  summary.push(
    `- sequentially, D1, ${n} requests each: secret p50 ${f2(q.secret.p50)} ms and ${f1(q.secret.cpu)} µs server CPU per token; federated ${f2(q.federated.p50)} ms, ${f1(q.federated.cpu)} µs (${f2(q.federated.cpu / q.secret.cpu)}×); private_key_jwt (a fresh assertion each) ${f2(q.privateKeyJwt.p50)} ms, ${f1(q.privateKeyJwt.cpu)} µs (${f2(q.privateKeyJwt.cpu / q.secret.cpu)}×). One D1 write costs a plain JS worker here ${f1(writeFloor.write - writeFloor.trivial)} µs of server CPU (write-floor.js: POST with one INSERT against its GET), private_key_jwt makes one per request (the assertion's jti)`,
  );
  const split = (x) => `D1 ${us(x.storage)}, WebCrypto verify ${us(x.verification)}, sign ${us(x.signature)}, the worker's own work ${us(x.worker)}; in all ${us(x.total)}`;
  summary.push(
    `- inside the isolate (cold-probe.mjs, means over ${n} sequential requests, µs): secret ${split(inside.secret)}; federated ${split(inside.federated)}; private_key_jwt ${split(inside.privateKeyJwt)}. The worker's own work: federated ${f2(inside.federated.worker / inside.secret.worker)}× the secret path's, private_key_jwt ${f2(inside.privateKeyJwt.worker / inside.secret.worker)}×; with the verification it must make, ${f2((inside.federated.worker + inside.federated.verification) / inside.secret.worker)}× and ${f2((inside.privateKeyJwt.worker + inside.privateKeyJwt.verification) / inside.secret.worker)}×`,
  );
}
summary.push(
  `- native verify (1 core, release profile, the whole \`verify\` with a warm key cache, taken in turn with jsonwebtoken 12 (AWS-LC) and 9 (ring) checking the same token for the same rules): aws-lc-rs ${native.fast.ours} verifications/s against jsonwebtoken 12's ${native.fast.jsonwebtoken} and 9's ${native.fast.jsonwebtoken9}, ratios ${native.fast.ratio.toFixed(3)} and ${native.fast.ratio9.toFixed(3)} (medians of paired half-second windows); ${native.counts ? `instructions per verification (callgrind) ${native.counts.ours.toFixed(0)} against ${native.counts.jsonwebtoken.toFixed(0)} and ${native.counts.jsonwebtoken9.toFixed(0)} = ${(native.counts.ours / native.counts.jsonwebtoken).toFixed(3)} and ${(native.counts.ours / native.counts.jsonwebtoken9).toFixed(3)}; ` : ""}the pure-Rust fallback (p256) ${native.p256.ours}/s, ratio ${native.p256.ratio.toFixed(3)} to jsonwebtoken 12 in its run`,
  `- revocation check (native, a held list of 10,000 revoked jtis and 2,000 client and project times): ${native.fast.revocationCheck} µs per verification (budget ≤ 10 µs)`,
);
summary.push(`- wasm: ${wasm.length} bytes raw, ${gzipSync(wasm, { level: 9 }).length} bytes gzip (-9)`);
summary.push(...coldLines(cold));

const doc = `# Benchmarks

Measured by \`make bench\`${QUICK ? " (QUICK=1: 1 s per point — not representative)" : ""} on ${machine.date} at commit ${machine.commit}: ${machine.nproc} cores, ${machine.cpu}.
Loopback only; load generator oha 1.16 (raw latencies); ${SECONDS} s per point, taken as ${SLICES} slices of
${SECONDS / SLICES} s. The four m2m-edge configurations run side by side and take their slices in
turn (token, JWKS, next configuration, …), every other round in the reverse turn; the two floors (side by
side) and the peer follow. Each figure is the median slice; a ratio given "round by round" is the median,
and the range, of the ratios of two slices taken in the same round.
m2m-edge runs its release wasm in workerd started by Miniflare with a local
D1, loaded through a direct socket into the worker (Miniflare's
\`unsafeDirectSockets\`: no entry worker in front, the closest to bare workerd
that keeps real local D1). node-oidc-provider keeps its client in
memory; m2m-edge looks its client up in D1, within \`CLIENT_CACHE_TTL\` (5 s) from
the isolate cache. "server CPU" is utime + stime of the server processes
(all workerd processes, or the peer's node process) per 1,000 requests.
The "JS floor" rows are a plain JS worker (\`scripts/bench/floor.mjs\`) in the
same workerd that does only what the runtime must do for a token: read the
body and make one WebCrypto ES256 signature. Its token − trivial-GET gap is
the least any worker can spend on a token here; its "token exchange" adds a
token exchange's 1.3 KB body and one WebCrypto RS256 verification (the key
made once). The "wasm floor" rows are
the same work as a Rust Worker built exactly like m2m-edge's token service
(\`scripts/bench/wasm-floor\`: worker-build, wasm-bindgen, opt-level "z",
a \`JsFuture\` per await), beside the JS floor in one workerd: what being
a Rust/wasm Worker costs by itself, before any protocol work. The "edge API" rows verify
one token per request at 8 connections: the example edge API
(\`examples/edge-api\`, Rust, m2m-edge-verify with WebCrypto) and the same
API as a JS worker with jose (\`scripts/bench/jose-api.mjs\`), keys warm in
both; the "JS verify floor" (\`scripts/bench/verify-floor.mjs\`) makes only
the one WebCrypto verification. The "secretless" rows and lines measure
token exchange (workload identity federation) beside the secret path in one
D1 worker at 8 connections, then all three kinds sequentially, interleaved
(\`private_key_jwt\`'s assertions work once, so each request carries a fresh
one), and inside the isolate (\`scripts/bench/cold-probe.mjs\`: D1, WebCrypto
and the worker's own work, in milliseconds of workerd's clock, averaged); the
cost of one D1 write to a plain JS worker (\`scripts/bench/write-floor.js\`)
sits beside them. The edge budget's warm ratios are taken once more in one
comparison, since a ratio between two phases of the run carries the
machine's drift between them: a D1 worker of m2m-edge (secret token,
federated exchange, JWKS) beside both floors, every request a 1 s slice per
round over ${RATIO_ROUNDS} rounds, each figure from the means over the rounds with a
95 % interval from resampling the rounds (\`bootstrap\`,
\`scripts/bench/stats.mjs\`). The native verifier is timed against jsonwebtoken in
paired half-second windows and counted in instructions under callgrind
(\`crates/verify/benches/native.rs\`), and so is the token endpoint's own
work, the core's \`token::handle\` less its signature checks, for a
secret token and a federated exchange (\`crates/core/benches/protocol.rs\`).
The fresh-isolate lines start a workerd
per sample for m2m-edge, for a cold JS floor and for the wasm floor
(\`scripts/bench/cold.mjs\`, \`cold-floor.js\`); further fresh isolates run with
V8's \`--trace-wasm-compilation-times\` (set through workerd's \`v8Flags\`,
\`scripts/bench/workerd-v8-flags.sh\`), which names every wasm function V8
compiles for the first token and how long it took; at that rate the bench
says how much code the cold target (1.5× the JS floor's first token) leaves
a Rust/wasm worker above the wasm floor. Run-to-run noise on this machine is about ±10 µs of CPU
per request at 8 connections, more for the sequential figures (workerd's CPU
is read in 10 ms ticks).

${table()}

Summary:

${summary.join("\n")}
`;
// The latency model's section (make latency-model) is its own run's: kept as it is.
const previous = readFileSync(join(root, "BENCHMARKS.md"), "utf8");
const model = previous.slice(previous.indexOf("## Latency model"));
writeFileSync(join(root, "BENCHMARKS.md"), previous.includes("## Latency model") ? `${doc.trimEnd()}\n\n${model}` : doc);
console.log(doc);
