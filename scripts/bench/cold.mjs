// `make bench`'s fresh-isolate figures: the first token of a fresh isolate
// of m2m-edge beside the runtime's floor for it (cold-floor.js: a JS worker
// doing only a cold token's runtime work), and where m2m-edge's time goes.
// Every sample starts its own workerd (Miniflare), with the same bindings
// and the same local D1 for both workers; requests go straight into the
// worker (a direct socket). Per sample:
//
// - startup: new Miniflare → ready, when workerd has loaded the worker: for
//   m2m-edge its wasm compiled (V8 only decodes and validates here;
//   functions are compiled on their first call), instantiated and its
//   top-level module code run. The difference from the floor's startup is
//   the cost of m2m-edge's script.
// - first and second token, timed by the client;
// - the same two requests inside the isolate (cold-probe.mjs around the
//   built worker, cold-floor.js's own clocks), split into what they awaited
//   from D1, from WebCrypto's importKey and sign, and the rest: the worker's
//   own work, which on a first request includes compiling each wasm function
//   it calls. workerd's clock there ticks in whole milliseconds, so these
//   parts are means over the samples.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clientFor, startWorker } from "../../tests/e2e/harness.mjs";
import { meanSplit, median } from "./stats.mjs";


/** The figures of `samples` fresh isolates of each worker. */
export async function coldStart(samples) {
  const persist = mkdtempSync(join(tmpdir(), "m2m-bench-cold-"));
  try {
    const setup = await startWorker({ persist });
    const c = await clientFor(setup).createClient();
    const secrets = setup.secrets;
    await setup.close();
    const basic = `Basic ${Buffer.from(`${c.client_id}:${c.client_secret}`).toString("base64")}`;
    const token = { method: "POST", headers: { authorization: basic, "content-type": "application/x-www-form-urlencoded" }, body: "grant_type=client_credentials" };

    /** One fresh isolate: startup, then two tokens timed by the client; the in-isolate split if `probed`. */
    const fresh = async (script, probed) => {
      const t0 = performance.now();
      const w = await startWorker({ bindings: secrets, persist, migrate: false, direct: true, script });
      const startup = performance.now() - t0;
      try {
        const times = [];
        for (let i = 0; i < 2; i++) {
          const t = performance.now();
          const r = await fetch(`${w.directBase}/oauth2/token`, token);
          await r.arrayBuffer();
          if (r.status !== 200) throw new Error(`cold start: token ${r.status}`);
          times.push(performance.now() - t);
        }
        const split = probed ? (await (await fetch(`${w.directBase}/__cold`)).json()).requests : undefined;
        return { startup, first: times[0], second: times[1], split };
      } finally {
        await w.close();
      }
    };

    const runs = { floor: [], ours: [], probe: [] };
    for (let i = 0; i < samples; i++) {
      runs.floor.push(await fresh("scripts/bench/cold-floor.js", true));
      runs.ours.push(await fresh(undefined, false));
      runs.probe.push(await fresh("scripts/bench/cold-probe.mjs", true));
    }
    const summary = (xs) => ({ startup: median(xs.map((x) => x.startup)), first: median(xs.map((x) => x.first)), second: median(xs.map((x) => x.second)) });
    const split = (xs, n) => meanSplit(xs.map((x) => x.split[n]));
    return {
      samples,
      floor: { ...summary(runs.floor), inside: [split(runs.floor, 0), split(runs.floor, 1)] },
      ours: { ...summary(runs.ours), inside: [split(runs.probe, 0), split(runs.probe, 1)] },
    };
  } finally {
    rmSync(persist, { recursive: true, force: true });
  }
}

const f1 = (x) => x.toFixed(1);

/** The summary lines `make bench` prints and writes for `coldStart`'s figures. */
export function coldLines(cold) {
  const { floor, ours } = cold;
  const [first, second] = ours.inside;
  const [floorFirst] = floor.inside;
  return [
    `- fresh isolate (${cold.samples} samples each, medians; the JS floor here is cold-floor.js: body, one D1 read, the signing key imported, one ES256 signature): first token ${f1(ours.first)} ms against the floor's ${f1(floor.first)} ms = ${(ours.first / floor.first).toFixed(2)}×; second token ${f1(ours.second)} against ${f1(floor.second)} ms; startup (new Miniflare → ready, same bindings) ${f1(ours.startup)} against ${f1(floor.startup)} ms: m2m-edge's script (wasm decoded, validated, instantiated; top level) costs ${f1(ours.startup - floor.startup)} ms of it`,
    `- where m2m-edge's first token goes inside the isolate (means; the second token in brackets): storage ${f1(first.storage)} ms (${f1(second.storage)}), key import ${f1(first.keyImport)} (${f1(second.keyImport)}), signature ${f1(first.signature)} (${f1(second.signature)}), the worker's own work ${f1(first.worker)} (${f1(second.worker)}) — of which ${f1(first.worker - second.worker)} ms is first-run only: wasm functions compiled on their first call, settings read; in all ${f1(first.total)} ms (${f1(second.total)}). The floor's first token inside: storage ${f1(floorFirst.storage)}, key import ${f1(floorFirst.keyImport)}, signature ${f1(floorFirst.signature)}, the rest ${f1(floorFirst.worker)}; in all ${f1(floorFirst.total)} ms`,
  ];
}
