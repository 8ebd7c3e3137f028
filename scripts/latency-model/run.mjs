// `make latency-model`: what a caller in each region waits for, per request
// kind, with the storage round trips of a placement added to the real
// worker. The built wasm runs in workerd with real local D1; a test-only
// shim (shim.mjs) delays each D1 query by the round trip to the primary or,
// for the token path's Sessions API reads, to the nearest read replica.
// The round trips are the model's inputs (PLACEMENT below, with where each
// figure comes from); what the worker does with them — how many queries,
// on which path, what the isolate cache spares — is measured. Rerunnable;
// writes its table into BENCHMARKS.md between the latency-model markers.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SignJWT, exportJWK, generateKeyPair } from "jose";
import { clientFor, startWorker } from "../../tests/e2e/harness.mjs";
import { githubClaims, startIssuer } from "../../tests/e2e/oidc-issuer.mjs";

const root = new URL("../../", import.meta.url).pathname;
const N = Number(process.env.N ?? 20);

// Round trips in ms from the Cloudflare location serving the caller. The
// primary is in Eastern North America. Inter-region figures are rounded
// public inter-region RTTs (cloudping.co's AWS table: us-east-1 to
// eu-west-1 about 70 ms, to ap-southeast-2 about 200 ms); a read replica is
// in the caller's own D1 region (Cloudflare: one replica per D1 region),
// modelled at 10 ms from any location in that region.
const REGIONS = [
  { name: "same region as the primary", primary: 10, replica: 10 },
  { name: "another continent (Western Europe)", primary: 80, replica: 10 },
  { name: "antipodes (Oceania)", primary: 210, replica: 10 },
];
// Replica lag: Cloudflare documents none ("a read replica may be
// arbitrarily out of date"); a third-party probe (200 writes in North
// America read from Asia) measured p50 0.8 s, p99 6.1 s. The worker caps
// what it accepts at REPLICA_ANCHOR_SECS (crates/worker/src/d1.rs).
const REPLICA_LAG = { p50: 800, p99: 6100 };
const REPLICA_ANCHOR_MS = 10_000;
const CLIENT_CACHE_TTL_MS = 5000;

const never = { simple: { limit: 1e9, period: 60 } };
const ratelimits = { TOKEN_RATE_LIMIT: never, ADMIN_RATE_LIMIT: never, AUTH_FAILURE_RATE_LIMIT: never };
const form = { "content-type": "application/x-www-form-urlencoded", "cf-connecting-ip": "203.0.113.9" };
const basic = (id, secret) => `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;
const percentile = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

async function timed(n, request) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const { url, init } = await request(i);
    const start = performance.now();
    const r = await fetch(url, init);
    await r.arrayBuffer();
    times.push(performance.now() - start);
    if (r.status >= 300) throw new Error(`${url}: ${r.status}`);
  }
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}

/** Every request kind, from `region`, against a worker reading with `replicas`. */
async function kinds(w, api, issuer, region, replicas) {
  const model = (extra = {}) => ({ "x-latency-model": JSON.stringify({ primary: region.primary, replica: region.replica, ...extra }) });
  const token = `${w.base}/oauth2/token`;
  const rows = [];
  const row = async (kind, n, request) => rows.push({ kind, ...(await timed(n, request)) });

  const warm = await api.createClient();
  const warmInit = { method: "POST", headers: { ...form, ...model(), authorization: basic(warm.client_id, warm.client_secret) }, body: "grant_type=client_credentials" };
  await fetch(token, warmInit);
  await row("secret, warm (client in the isolate cache)", N, () => ({ url: token, init: warmInit }));

  const cold = [];
  for (let i = 0; i < N; i++) cold.push(await api.createClient());
  await row("secret, cold (isolate cache empty)", N, (i) => ({
    url: token,
    init: { method: "POST", headers: { ...form, ...model(), authorization: basic(cold[i].client_id, cold[i].client_secret) }, body: "grant_type=client_credentials" },
  }));

  const { publicKey, privateKey } = await generateKeyPair("ES256");
  const signer = (await api.admin("POST", "/admin/clients", {
    name: "signer", token_endpoint_auth_method: "private_key_jwt",
    jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: "k" }] },
    grants: [{ audience: "https://api.example.com", scopes: ["read"] }],
  })).json.client_id;
  const assertion = async () => new URLSearchParams({
    grant_type: "client_credentials",
    client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    client_assertion: await new SignJWT({ jti: crypto.randomUUID() }).setProtectedHeader({ alg: "ES256", kid: "k" })
      .setIssuer(signer).setSubject(signer).setAudience(token).setIssuedAt().setExpirationTime("1m").sign(privateKey),
  }).toString();
  const pkjwt = (extra) => async () => ({ url: token, init: { method: "POST", headers: { ...form, ...model(extra) }, body: await assertion() } });
  await fetch(token, (await pkjwt()()).init);
  await row("private_key_jwt (replay write on the primary)", N, pkjwt());
  await row("private_key_jwt, replay in a Durable Object near the client (modelled)", N, pkjwt({ replay: region.replica }));

  const federated = await api.createClient({ federated_credentials: [{ name: "release", issuer: issuer.issuer, claims: { repository: "acme/deploy" } }] });
  const platform = [];
  for (let i = 0; i <= N; i++) platform.push(await issuer.mint(githubClaims(), { audience: "m2m-edge", expiresIn: "1h" }));
  const exchange = (i) => ({
    url: token,
    init: {
      method: "POST", headers: { ...form, ...model() },
      body: new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:token-exchange", subject_token_type: "urn:ietf:params:oauth:token-type:jwt", subject_token: platform[i], client_id: federated.client_id }).toString(),
    },
  });
  await fetch(exchange(N).url, exchange(N).init);
  await row("federated exchange (single use: replay write on the primary)", N, exchange);

  await row("JWKS", N, () => ({ url: `${w.base}/.well-known/jwks.json`, init: { headers: model() } }));
  await row("admin write (PATCH a client)", N, (i) => ({
    url: `${w.base}/admin/clients/${warm.client_id}`,
    init: { method: "PATCH", headers: { ...model(), authorization: `Bearer ${w.secrets.ADMIN_API_KEY}`, "content-type": "application/json" }, body: JSON.stringify({ description: `edit ${i}` }) },
  }));
  const lag = (p) => (replicas ? Math.min(REPLICA_LAG[p], REPLICA_ANCHOR_MS) : 0);
  rows.push({
    kind: `a deactivation seen by every token request (computed: replica lag capped at ${replicas ? REPLICA_ANCHOR_MS / 1000 : 0} s + CLIENT_CACHE_TTL; bound ${(CLIENT_CACHE_TTL_MS + (replicas ? REPLICA_ANCHOR_MS : 0)) / 1000} s)`,
    p50: lag("p50") + CLIENT_CACHE_TTL_MS / 2,
    p99: lag("p99") + CLIENT_CACHE_TTL_MS,
  });
  return rows;
}

const issuer = await startIssuer();
const table = [];
try {
  for (const replicas of [true, false]) {
    const w = await startWorker({
      bindings: { STORAGE: replicas ? "d1-replicas" : "d1", ISSUER: undefined },
      ratelimits,
      script: join(root, "scripts/latency-model/shim.mjs"),
      adminScript: join(root, "scripts/latency-model/shim-admin.mjs"),
    });
    try {
      const api = clientFor(w);
      const created = await api.admin("POST", "/admin/federation/issuers", { issuer: issuer.issuer, audiences: ["m2m-edge"] });
      if (created.status !== 201) throw new Error(`issuer: ${created.status} ${JSON.stringify(created.json)}`);
      for (const region of REGIONS) {
        for (const r of await kinds(w, api, issuer, region, replicas)) {
          table.push({ reads: replicas ? "replicas" : "primary", region: region.name, ...r });
          console.log(`${replicas ? "D1_READ_REPLICAS=on " : "D1_READ_REPLICAS=off"} | ${region.name} | ${r.kind}: p50 ${r.p50.toFixed(0)} ms, p99 ${r.p99.toFixed(0)} ms`);
        }
      }
    } finally {
      await w.close();
    }
  }
} finally {
  await issuer.close();
}

const lines = [
  "<!-- latency-model:start -->",
  `Model inputs: primary in Eastern North America; round trips to it ${REGIONS.map((r) => `${r.primary} ms (${r.name})`).join(", ")}; to the caller's regional read replica ${REGIONS[0].replica} ms; replica lag p50 ${REPLICA_LAG.p50} ms, p99 ${REPLICA_LAG.p99} ms; CLIENT_CACHE_TTL 5 s. ${N} sequential requests per row, the real worker in workerd with local D1 (make latency-model, ${new Date().toISOString().slice(0, 10)}).`,
  "",
  "| token path reads | caller | request | p50 ms | p99 ms |",
  "|---|---|---|---:|---:|",
  ...table.map((r) => `| ${r.reads} | ${r.region} | ${r.kind} | ${r.p50.toFixed(0)} | ${r.p99.toFixed(0)} |`),
  "<!-- latency-model:end -->",
];
const bench = join(root, "BENCHMARKS.md");
const text = readFileSync(bench, "utf8");
const marked = /<!-- latency-model:start -->[\s\S]*<!-- latency-model:end -->/;
writeFileSync(bench, marked.test(text) ? text.replace(marked, lines.join("\n")) : `${text.trimEnd()}\n\n## Latency model\n\n${lines.join("\n")}\n`);
console.log("wrote BENCHMARKS.md (latency model)");
