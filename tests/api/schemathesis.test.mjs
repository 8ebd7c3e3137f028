// Ring 2: schemathesis (PyPI, installed in .venv by `make test`) generates
// requests from the OpenAPI document the worker serves — examples, coverage,
// property-based fuzzing with schema-violating data, and stateful sequences
// following the document's links — against the built worker in workerd
// with real local D1, with a fixed seed. Every check schemathesis has must
// pass: no 5xx, responses match the document, status codes documented.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startWorker, clientFor } from "../e2e/harness.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "../..");
const st = join(root, ".venv/bin/st");

test("schemathesis finds nothing the document does not describe", { timeout: 20 * 60_000 }, async () => {
  // No rate limits: thousands of requests from one address would trip them
  // (429 is documented, and tested in tests/e2e/limits.test.mjs).
  const w = await startWorker({ bindings: { STORAGE: "d1" }, ratelimits: {}, assets: true });
  try {
    const api = clientFor(w);
    const client = await api.createClient({ name: "schemathesis", grants: [{ audience: "https://api.example.com", scopes: ["read", "write"] }] });
    const report = join(root, "target/schemathesis");
    const run = spawnSync(st, [
      "--config-file", join(here, "schemathesis.toml"),
      "run", `${w.base}/openapi.json`, "--url", w.base,
      "--report", "junit", "--report-dir", report,
    ], {
      cwd: root,
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, NO_COLOR: "1", M2M_ADMIN_KEY: w.secrets.ADMIN_API_KEY, M2M_CLIENT_ID: client.client_id, M2M_CLIENT_SECRET: client.client_secret },
    });
    const out = `${run.stdout}\n${run.stderr}`;
    mkdirSync(report, { recursive: true });
    writeFileSync(join(report, "output.txt"), out);
    // The summary, for the log of `make test`.
    const summary = out.split("\n").filter((l) => /passed|failed|Test cases|generated|API probing|Seed|Elapsed|^\s*(Examples|Coverage|Fuzzing|Stateful)/i.test(l));
    console.log(summary.join("\n"));
    assert.equal(run.status, 0, `schemathesis failed; its whole report: ${join(report, "output.txt")}\n${out.slice(-20000)}`);
  } finally {
    await w.close();
  }
});
