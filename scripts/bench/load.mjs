// Load from oha, the generator `make bench` (run.mjs) and the side-by-side
// A/B (ab.mjs) both use.
import { execFileSync } from "node:child_process";

const oha = process.env.OHA ?? "oha";

/**
 * `connections` connections for `seconds` against one request: how many
 * were answered, req/s, p50 and p99 in ms, and the errors (answers other
 * than 200, failures other than the deadline's cut-off).
 */
export function load({ url, connections, seconds, method = "GET", headers = {}, body }) {
  const args = ["-z", `${seconds}s`, "-c", String(connections), "--no-tui", "--output-format", "json", "-m", method];
  for (const [k, v] of Object.entries(headers)) args.push("-H", `${k}: ${v}`);
  if (body !== undefined) args.push("-d", body);
  args.push(url);
  const out = JSON.parse(execFileSync(oha, args, { encoding: "utf8", maxBuffer: 64 << 20 }));
  const codes = out.statusCodeDistribution ?? {};
  const ok = codes["200"] ?? 0;
  const bad = Object.entries(codes).filter(([c]) => c !== "200").reduce((s, [, n]) => s + n, 0);
  // The few requests cut off by the deadline are not errors of the server.
  const failed = Object.entries(out.errorDistribution ?? {}).filter(([e]) => !/deadline/.test(e)).reduce((s, [, n]) => s + n, 0);
  return {
    requests: ok + bad,
    rps: (ok + bad) / out.summary.total,
    p50: (out.latencyPercentiles.p50 ?? NaN) * 1000,
    p99: (out.latencyPercentiles.p99 ?? NaN) * 1000,
    errors: bad + failed,
  };
}
