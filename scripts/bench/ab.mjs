// Two builds of the token service side by side, for a change `make bench`
// cannot show across runs (this machine moves whole runs by 10–30 %): the
// build in build/ and a baseline build in build-base/ (gitignored), each in
// its own workerd with local D1, the rate limiters on, take a secret token
// (client_secret_basic) and a federated token exchange (an RS256 platform
// token, keys warm) at 8 connections in interleaved slices, as `make
// bench` takes its secretless rows, the builds' order swapped every other
// round. Prints, per build, the median server CPU per request of each kind,
// their ratio, the median of the rounds' ratios, and the mean of the
// rounds' differences with its standard error (each from two slices taken
// one after the other, so the steadier figures here).
//
//   git stash && make build/index.js && mkdir -p build-base && cp build/index.js build/index_bg.wasm build-base/ && git stash pop
//   make build/index.js && node scripts/bench/ab.mjs [rounds, default 12] [seconds per slice, default 1]
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { load } from "./load.mjs";
import { secretAndFederated } from "./secretless.mjs";
import { mean, median, standardError } from "./stats.mjs";

const root = join(import.meta.dirname, "../..");
const ROUNDS = Number(process.argv[2] ?? 12);
const SECONDS = Number(process.argv[3] ?? 1);

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

/** One build in its own workerd: its processes, and its secret and federated token requests. */
async function target(script) {
  const t = await secretAndFederated(script);
  return { ...t, specs: { secret: t.secretSpec, federated: t.federatedSpec } };
}

/** Server CPU per request (µs) over `seconds` of load at 8 connections. */
function slice(t, spec, seconds) {
  const before = cpuNs(t.own);
  const r = load({ ...spec, connections: 8, seconds });
  if (r.errors !== 0) throw new Error(`${r.errors} requests were not answered 200`);
  return (cpuNs(t.own) - before) / 1e3 / r.requests;
}

const targets = {
  "build-base": await target(join(root, "build-base/index.js")),
  build: await target(undefined),
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
    // Each round's two slices, taken one after the other, paired.
    const more = cpu[`${name} federated`].map((f, i) => f - cpu[`${name} secret`][i]);
    console.log(
      `${name}: secret ${secret.toFixed(1)} µs, federated ${federated.toFixed(1)} µs of server CPU per request: ` +
        `${(federated / secret).toFixed(3)}× (median of the rounds' ratios ${perRound.toFixed(3)}), ${(federated - secret).toFixed(1)} µs more; ` +
        `paired by round ${mean(more).toFixed(1)} ± ${standardError(more).toFixed(1)} µs more (mean ± its standard error)`,
    );
  }
} finally {
  for (const t of Object.values(targets)) await t.close();
}
