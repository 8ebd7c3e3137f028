// `make bench`'s arithmetic, one home for it: the middle value, the mean,
// the split of the in-isolate clocks (cold-probe.mjs, cold-floor.js), and
// the interval of a figure taken over rounds (bootstrap).

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
export const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** The standard error of `xs`'s mean (sample standard deviation over √n). */
export function standardError(xs) {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1) / xs.length);
}

/** What a request awaited, as the probes name it. */
const AWAITED = ["storage", "keyImport", "signature", "verification"];

/**
 * The mean of each awaited part and of the total over `requests` (as the
 * probes report them, ms), and `worker`: the rest of the total, the
 * worker's own work.
 */
export function meanSplit(requests) {
  const parts = Object.fromEntries([...AWAITED, "total"].map((p) => [p, mean(requests.map((r) => r[p] ?? 0))]));
  parts.worker = parts.total - AWAITED.reduce((sum, p) => sum + parts[p], 0);
  return parts;
}

/**
 * `statistic(rounds)` and its 95 % interval from resampling the rounds
 * with replacement (a percentile bootstrap, `resamples` times): for a
 * figure taken over rounds of slices whose CPU moves from slice to slice
 * by more than the differences measured, the interval says how far one
 * run's figure can be trusted. The resampling is seeded, so one run's
 * report reads the same every time it is computed.
 */
export function bootstrap(rounds, statistic, resamples = 2000) {
  let seed = 0x2545f491;
  // mulberry32: a small, good-enough generator for picking rounds.
  const next = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const values = [];
  for (let i = 0; i < resamples; i++) {
    values.push(statistic(rounds.map(() => rounds[Math.floor(next() * rounds.length)])));
  }
  // A resample may have no figure (a ratio over nothing): it widens nothing.
  const finite = values.filter(Number.isFinite).sort((a, b) => a - b);
  const tail = Math.floor(finite.length * 0.025);
  return { value: statistic(rounds), low: finite[tail] ?? NaN, high: finite[finite.length - 1 - tail] ?? NaN };
}
