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
import { createInterface } from "node:readline";
import { clientFor, startWorker } from "../../tests/e2e/harness.mjs";
import { TOKEN_FORM, basic } from "./secretless.mjs";
import { meanSplit, median } from "./stats.mjs";

/** The runtime's floor for a token as a Rust/wasm worker (wasm-floor/), as built by `make bench`. */
export const WASM_FLOOR = "scripts/bench/wasm-floor/build/index.js";

// V8 prints a line per wasm function it compiles ("Compiled function
// 0x…#index using Liftoff, took N μs and … bytes; bodysize B codesize C").
// workerd takes V8 flags only from its configuration: workerd-v8-flags.sh
// puts them there (v8-flags.mjs).
const TRACE_FLAGS = "--trace-wasm-compilation-times";
const WORKERD_WITH_FLAGS = new URL("./workerd-v8-flags.sh", import.meta.url).pathname;

/** `start()` with workerd given the V8 `flags` (none if undefined). */
async function withV8Flags(flags, start) {
  if (!flags) return start();
  const saved = { path: process.env.MINIFLARE_WORKERD_PATH, flags: process.env.M2M_V8_FLAGS };
  process.env.MINIFLARE_WORKERD_PATH = WORKERD_WITH_FLAGS;
  process.env.M2M_V8_FLAGS = flags;
  try {
    return await start();
  } finally {
    for (const [name, value] of [["MINIFLARE_WORKERD_PATH", saved.path], ["M2M_V8_FLAGS", saved.flags]]) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

/** A `handleRuntimeStdio` that keeps workerd's stdout lines in `lines`. */
const collect = (lines) => (stdout, stderr) => {
  createInterface(stdout).on("line", (line) => lines.push(line));
  stderr.resume();
};

/** Time for workerd's output to reach us through its pipe. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 200));

/**
 * What V8's trace says was compiled while one request ran: wasm functions
 * (every module's, since only the worker's module is first called then),
 * their code bytes, and the milliseconds V8 spent compiling them.
 */
export function compiledOnFirstCall(lines) {
  let functions = 0, bytes = 0, us = 0;
  for (const line of lines) {
    const m = /^Compiled function \S+ using \w+, took (\d+) μs .*bodysize (\d+)/.exec(line);
    if (!m) continue;
    functions++;
    us += Number(m[1]);
    bytes += Number(m[2]);
  }
  return { functions, bytes, ms: us / 1000 };
}


/** The figures of `samples` fresh isolates of each worker. */
export async function coldStart(samples) {
  const persist = mkdtempSync(join(tmpdir(), "m2m-bench-cold-"));
  try {
    const setup = await startWorker({ persist });
    const c = await clientFor(setup).createClient();
    const secrets = setup.secrets;
    await setup.close();
    const token = { method: "POST", headers: { ...TOKEN_FORM, authorization: basic(c.client_id, c.client_secret) }, body: "grant_type=client_credentials" };

    /**
     * One fresh isolate: startup, then two tokens timed by the client; the
     * in-isolate split if `probed`; if `traced`, V8's own account of the
     * wasm functions it compiled for the first token (compiledOnFirstCall).
     */
    const fresh = async (script, { probed = false, traced = false } = {}) => {
      const lines = [];
      const t0 = performance.now();
      const w = await withV8Flags(traced ? TRACE_FLAGS : undefined, () =>
        startWorker({ bindings: secrets, persist, migrate: false, direct: true, script, runtimeStdio: traced ? collect(lines) : undefined }),
      );
      const startup = performance.now() - t0;
      try {
        const times = [];
        let compiled;
        for (let i = 0; i < 2; i++) {
          // Startup's own trace lines are in before the first token is asked for.
          if (traced && i === 0) await settle();
          const before = lines.length;
          const t = performance.now();
          const r = await fetch(`${w.directBase}/oauth2/token`, token);
          await r.arrayBuffer();
          if (r.status !== 200) throw new Error(`cold start: token ${r.status}`);
          times.push(performance.now() - t);
          if (traced && i === 0) {
            await settle();
            compiled = compiledOnFirstCall(lines.slice(before));
          }
        }
        const split = probed ? (await (await fetch(`${w.directBase}/__cold`)).json()).requests : undefined;
        return { startup, first: times[0], second: times[1], split, compiled };
      } finally {
        await w.close();
      }
    };

    const runs = { floor: [], wasm: [], ours: [], probe: [], tracedOurs: [], tracedWasm: [] };
    for (let i = 0; i < samples; i++) {
      runs.floor.push(await fresh("scripts/bench/cold-floor.js", { probed: true }));
      runs.wasm.push(await fresh(WASM_FLOOR));
      runs.ours.push(await fresh(undefined));
      runs.probe.push(await fresh("scripts/bench/cold-probe.mjs", { probed: true }));
      runs.tracedOurs.push(await fresh(undefined, { traced: true }));
      runs.tracedWasm.push(await fresh(WASM_FLOOR, { traced: true }));
    }
    const summary = (xs) => ({ startup: median(xs.map((x) => x.startup)), first: median(xs.map((x) => x.first)), second: median(xs.map((x) => x.second)) });
    const split = (xs, n) => meanSplit(xs.map((x) => x.split[n]));
    const compiled = (xs) => ({
      functions: median(xs.map((x) => x.compiled.functions)),
      bytes: median(xs.map((x) => x.compiled.bytes)),
      ms: median(xs.map((x) => x.compiled.ms)),
    });
    return {
      samples,
      floor: { ...summary(runs.floor), inside: [split(runs.floor, 0), split(runs.floor, 1)] },
      wasm: { ...summary(runs.wasm), compiled: compiled(runs.tracedWasm) },
      ours: { ...summary(runs.ours), inside: [split(runs.probe, 0), split(runs.probe, 1)], compiled: compiled(runs.tracedOurs) },
    };
  } finally {
    rmSync(persist, { recursive: true, force: true });
  }
}

const f1 = (x) => x.toFixed(1);

/**
 * What the edge budget's cold target (first token ≤ 1.5× the JS floor's)
 * leaves a Rust/wasm worker above one that does nothing but the floor's
 * work, in code: lazy compilation makes a first request pay for every wasm
 * function it calls, at the rate V8's trace shows for m2m-edge's first
 * token in this run.
 */
function headroom(floor, wasm, ours) {
  const target = 1.5 * floor.first;
  const left = target - wasm.first;
  const usPerKiB = (ours.compiled.ms * 1000) / (ours.compiled.bytes / 1024);
  const beyond = `m2m-edge's first token compiles ${f1((ours.compiled.bytes - wasm.compiled.bytes) / 1024)} KiB beyond the wasm floor's`;
  const what = `- what the cold target (1.5× the JS floor's first token, ${f1(target)} ms) leaves a Rust/wasm worker above the wasm floor's ${f1(wasm.first)} ms`;
  if (left <= 0) return `${what}: nothing, the wasm floor alone is ${(wasm.first / floor.first).toFixed(2)}×; ${beyond}`;
  return `${what}: ${f1(left)} ms, which at V8's compile rate for m2m-edge's first token here (${usPerKiB.toFixed(0)} µs per KiB) is ${f1((left * 1000) / usPerKiB)} KiB of code compiled beyond the wasm floor's, with no other first-run cost; ${beyond}`;
}

/** The summary lines `make bench` prints and writes for `coldStart`'s figures. */
export function coldLines(cold) {
  const { floor, wasm, ours } = cold;
  const [first, second] = ours.inside;
  const [floorFirst] = floor.inside;
  const kib = (c) => `${f1(c.bytes / 1024)} KiB`;
  const firstRun = first.worker - second.worker;
  return [
    `- fresh isolate (${cold.samples} samples each, medians; the JS floor here is cold-floor.js: body, one D1 read, the signing key imported, one ES256 signature): first token ${f1(ours.first)} ms against the floor's ${f1(floor.first)} ms = ${(ours.first / floor.first).toFixed(2)}×; second token ${f1(ours.second)} against ${f1(floor.second)} ms; startup (new Miniflare → ready, same bindings) ${f1(ours.startup)} against ${f1(floor.startup)} ms: m2m-edge's script (wasm decoded, validated, instantiated; top level) costs ${f1(ours.startup - floor.startup)} ms of it`,
    `- the same cold token as a Rust/wasm worker (scripts/bench/wasm-floor: cold-floor.js's work and nothing else, built like m2m-edge's token service): first token ${f1(wasm.first)} ms = ${(wasm.first / floor.first).toFixed(2)}× the JS floor's; second ${f1(wasm.second)} ms; startup ${f1(wasm.startup)} ms, ${f1(wasm.startup - floor.startup)} ms over the JS floor's. m2m-edge's first token = ${(ours.first / wasm.first).toFixed(2)}× the wasm floor's`,
    `- wasm compiled on first call (V8's --trace-wasm-compilation-times, ${cold.samples} more fresh isolates each, medians): for its first token m2m-edge has V8 compile ${ours.compiled.functions} functions, ${kib(ours.compiled)} of code, in ${f1(ours.compiled.ms)} ms; the wasm floor ${wasm.compiled.functions}, ${kib(wasm.compiled)}, ${f1(wasm.compiled.ms)} ms`,
    headroom(floor, wasm, ours),
    `- where m2m-edge's first token goes inside the isolate (means; the second token in brackets): storage ${f1(first.storage)} ms (${f1(second.storage)}), key import ${f1(first.keyImport)} (${f1(second.keyImport)}), signature ${f1(first.signature)} (${f1(second.signature)}), the worker's own work ${f1(first.worker)} (${f1(second.worker)}) — of which ${f1(firstRun)} ms is first-run only: compiling wasm ${f1(ours.compiled.ms)} ms (above), the rest ${f1(firstRun - ours.compiled.ms)} ms (JS glue compiled on first call, wasm run for the first time, settings read); in all ${f1(first.total)} ms (${f1(second.total)}). The floor's first token inside: storage ${f1(floorFirst.storage)}, key import ${f1(floorFirst.keyImport)}, signature ${f1(floorFirst.signature)}, the rest ${f1(floorFirst.worker)}; in all ${f1(floorFirst.total)} ms`,
  ];
}
