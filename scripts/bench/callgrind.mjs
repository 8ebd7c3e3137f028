// Instruction counts for `make bench`: a cargo bench binary run under
// callgrind, where this machine's neighbours cannot move a figure (its
// CPU times move by ±20 % from one second to the next). Without valgrind
// the timed figures stand alone.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Whether valgrind runs here. */
export function hasValgrind() {
  const r = spawnSync("valgrind", ["--version"], { encoding: "utf8" });
  return !r.error && r.status === 0;
}

/** The executable cargo builds for bench target `bench` of package `pkg` (built now if stale). */
export function benchBinary(root, pkg, bench) {
  const executable = execFileSync("cargo", ["bench", "-q", "-p", pkg, "--bench", bench, "--no-run", "--message-format", "json"], { cwd: root, encoding: "utf8" })
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .find((m) => m.reason === "compiler-artifact" && m.target?.name === bench && m.executable)?.executable;
  if (!executable) throw new Error(`no bench executable for ${pkg} --bench ${bench}`);
  return executable;
}

/** `binary` under callgrind with `env` added; callgrind's output file, if `out`. */
function underCallgrind(binary, env, out = "/dev/null") {
  const r = spawnSync("valgrind", ["--tool=callgrind", `--callgrind-out-file=${out}`, binary], { encoding: "utf8", env: { ...process.env, ...env } });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`callgrind ${binary}: exit ${r.status}\n${r.stderr}`);
  return r.stderr;
}

/** Instructions `binary` ran in all, with `env` added. */
export function instructions(binary, env) {
  const n = Number(/Collected : (\d+)/.exec(underCallgrind(binary, env))?.[1]);
  if (!Number.isFinite(n)) throw new Error(`callgrind ${binary}: no instruction count`);
  return n;
}

/**
 * Instructions `binary` ran inside each function, callees included
 * (`callgrind_annotate --inclusive=yes`), by name, with `env` added. A
 * function whose code the compiler inlined into its callers has no entry.
 */
export function inclusiveByFunction(binary, env) {
  const dir = mkdtempSync(join(tmpdir(), "m2m-bench-callgrind-"));
  try {
    const out = join(dir, "callgrind.out");
    underCallgrind(binary, env, out);
    const annotated = execFileSync("callgrind_annotate", ["--inclusive=yes", "--auto=no", "--threshold=100", out], { encoding: "utf8", maxBuffer: 64 << 20 });
    const by = new Map();
    for (const line of annotated.split("\n")) {
      // "1,234 (5.67%)  file:function [object]"; the percentage is optional.
      const m = /^\s*([\d,]+)\s+(?:\(\s*-?[\d.]+%\)\s+)?(.*?)(?:\s+\[[^\]]*\])?$/.exec(line);
      if (!m) continue;
      // The file is "???" when unknown; a Rust path holds "::", a file name no ":".
      const name = m[2].replace(/^[^:\s]*:(?!:)/, "").replace(/::h[0-9a-f]{16}/g, "");
      // One function's lines may come from several files (inlined code): summed.
      by.set(name, (by.get(name) ?? 0) + Number(m[1].replaceAll(",", "")));
    }
    return by;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
