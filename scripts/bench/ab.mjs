// Two builds of the token service side by side, for a change `make bench`
// cannot show across runs (this machine moves whole runs by 10–30 %): the
// build in build/ and a baseline build in build-base/ (gitignored), each in
// its own workerd with local D1, the rate limiters on, take a secret token
// (client_secret_basic) and a federated token exchange (an RS256 platform
// token, keys warm) at 8 connections in interleaved slices, as `make
// bench` takes its secretless rows, the builds' order swapped every other
// round. Prints, per build, the median server CPU per request of each kind,
// their ratio, and the median of the rounds' ratios (each from two slices
// taken one after the other, so the steadier figure here).
//
//   git stash && make build/index.js && mkdir -p build-base && cp build/index.js build/index_bg.wasm build-base/ && git stash pop
//   make build/index.js && node scripts/bench/ab.mjs [rounds, default 12] [seconds per slice, default 1]
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { clientFor, startWorker, workerdPids } from "../../tests/e2e/harness.mjs";
import { githubClaims, startIssuer } from "../../tests/e2e/oidc-issuer.mjs";
import { median } from "./stats.mjs";

const root = join(import.meta.dirname, "../..");
const ROUNDS = Number(process.argv[2] ?? 12);
const SECONDS = Number(process.argv[3] ?? 1);
const never = { simple: { limit: 1e9, period: 60 } };
const NEVER_TRIPPED = { TOKEN_RATE_LIMIT: never, ADMIN_RATE_LIMIT: never, AUTH_FAILURE_RATE_LIMIT: never };
const form = { "content-type": "application/x-www-form-urlencoded", "cf-connecting-ip": "203.0.113.1" };

/** Nanoseconds on a CPU so far, summed over every thread of `pids` (schedstat: finer than utime's ticks). */
function cpuNs(pids) {
  let sum = 0;
  for (const pid of pids) {
    let threads = [];
    try {
      threads = readdirSync(`/proc/${pid}/task`);
    } catch {
      // The process is gone: it spends nothing more.
    }
    for (const tid of threads) {
      try {
        sum += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
      } catch {
        // The thread ended between the listing and the read.
      }
    }
  }
  return sum;
}

/** One build in its own workerd, with a secret client and a federated one. */
async function target(issuer, platform, script) {
  const before = new Set(workerdPids());
  const w = await startWorker({ bindings: { STORAGE: "d1" }, direct: true, script, ratelimits: NEVER_TRIPPED });
  const own = workerdPids().filter((pid) => !before.has(pid));
  const api = clientFor(w);
  await api.admin("POST", "/admin/federation/issuers", { issuer: issuer.issuer, audiences: ["m2m-edge"], single_use: false });
  const secret = await api.createClient();
  const federated = await api.createClient({ federated_credentials: [{ name: "release", issuer: issuer.issuer, claims: { repository: "acme/deploy" } }] });
  const url = `${w.directBase}/oauth2/token`;
  const basic = `Basic ${Buffer.from(`${secret.client_id}:${secret.client_secret}`).toString("base64")}`;
  const specs = {
    secret: { headers: { ...form, authorization: basic }, body: "grant_type=client_credentials" },
    federated: {
      headers: form,
      body: new URLSearchParams({
        grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
        subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
        subject_token: platform,
        client_id: federated.client_id,
      }).toString(),
    },
  };
  // The issuer is served from this process, whose event loop oha blocks:
  // the worker fetches its keys now, once, and holds them.
  const warm = await fetch(url, { method: "POST", ...specs.federated });
  if (warm.status !== 200) throw new Error(`token exchange: ${warm.status} ${await warm.text()}`);
  return { w, own, url, specs };
}

/** Server CPU per request (µs) over `seconds` of load at 8 connections. */
function slice(t, spec, seconds) {
  const args = ["-z", `${seconds}s`, "-c", "8", "--no-tui", "--output-format", "json", "-m", "POST"];
  for (const [k, v] of Object.entries(spec.headers)) args.push("-H", `${k}: ${v}`);
  args.push("-d", spec.body, t.url);
  const before = cpuNs(t.own);
  const out = JSON.parse(execFileSync(process.env.OHA ?? "oha", args, { encoding: "utf8", maxBuffer: 64 << 20 }));
  const codes = out.statusCodeDistribution ?? {};
  const n = Object.values(codes).reduce((a, b) => a + b, 0);
  if ((codes["200"] ?? 0) !== n) throw new Error(`not every answer was 200: ${JSON.stringify(codes)}`);
  return (cpuNs(t.own) - before) / 1e3 / n;
}

const issuer = await startIssuer();
const platform = await issuer.mint(githubClaims(), { audience: "m2m-edge", expiresIn: "1h" });
const targets = {
  "build-base": await target(issuer, platform, join(root, "build-base/index.js")),
  build: await target(issuer, platform, undefined),
};
try {
  for (const t of Object.values(targets)) for (const spec of Object.values(t.specs)) slice(t, spec, 1);
  const cpu = {};
  for (let round = 0; round < ROUNDS; round++) {
    // Every other round in the other order, so neither build always follows the other.
    const order = round % 2 === 0 ? Object.entries(targets) : Object.entries(targets).reverse();
    for (const [name, t] of order) {
      for (const [kind, spec] of Object.entries(t.specs)) (cpu[`${name} ${kind}`] ??= []).push(slice(t, spec, SECONDS));
    }
  }
  for (const name of Object.keys(targets)) {
    if (process.env.AB_RAW) console.log(name, JSON.stringify({ secret: cpu[`${name} secret`].map(Math.round), federated: cpu[`${name} federated`].map(Math.round) }));
    const [secret, federated] = [median(cpu[`${name} secret`]), median(cpu[`${name} federated`])];
    const perRound = median(cpu[`${name} federated`].map((f, i) => f / cpu[`${name} secret`][i]));
    console.log(
      `${name}: secret ${secret.toFixed(1)} µs, federated ${federated.toFixed(1)} µs of server CPU per request: ` +
        `${(federated / secret).toFixed(3)}× (median of the rounds' ratios ${perRound.toFixed(3)}), ${(federated - secret).toFixed(1)} µs more`,
    );
  }
} finally {
  await issuer.close();
  for (const t of Object.values(targets)) await t.w.close();
}
