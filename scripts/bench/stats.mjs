// `make bench`'s arithmetic, one home for it: the middle value, the mean,
// and the split of the in-isolate clocks (cold-probe.mjs, cold-floor.js).

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
export const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

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
