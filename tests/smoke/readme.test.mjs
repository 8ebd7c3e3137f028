// Ring 3: the README's shell examples, as written and in order, in one
// bash session against a fresh `wrangler dev` started as `make dev` starts
// it (local D1, one ISSUER). A README sentence is a promise: every ```sh
// block is either run here or named below with the reason it cannot run
// on a local machine, so a new example cannot go untested.
//
// Two things a reader does by hand are done for them: the README's
// `http://127.0.0.1:8787` is the port this test's wrangler dev got, and
// after each `curl` the `client_id` and `client_secret` it printed are
// exported as the README's next commands name them (CLIENT_ID,
// CLIENT_SECRET, SECRET) — by a `curl` function that also records each
// response's status, so that a 4xx anywhere fails the test.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startWranglerDev } from "../../scripts/wrangler-dev.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const README_PORT = "http://127.0.0.1:8787";

/** The README's ```sh blocks, in order. */
function shellBlocks() {
  const text = readFileSync(join(root, "README.md"), "utf8");
  return [...text.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
}

// Blocks that cannot run here, each found by a phrase of its own, with why.
const NOT_RUN_HERE = [
  ["make dev    #", "the two commands themselves: this test runs under `make test`, after `make dev`'s build"],
  ["--example verify", "verifies a token of https://auth.example.com, a deployment on the Internet"],
  ['"x":"…"', "a template: the reader puts their own public key where the README writes …"],
  ["m2m-edge login", "run as written, in order, by tests/e2e/cli.test.mjs (the CLI binary and its config directory)"],
  ["wrangler login", "deploys to a Cloudflare account"],
];

// The reader's hands: run curl, show its output, and keep what the README
// tells them to copy from it. Every response status is recorded.
const PRELUDE = [
  "set -u",
  "curl() {",
  "  local out status id secret",
  "  out=$(command curl -w '\\n%{http_code}' \"$@\") || return $?",
  "  status=${out##*$'\\n'}",
  "  out=${out%$'\\n'*}",
  "  echo \"$status $(printf '%s ' \"$@\" | tr '\\n' ' ')\" >> \"$STATUS_LOG\"",
  "  printf '%s\\n' \"$out\"",
  "  id=$(printf '%s' \"$out\" | jq -er '.client_id // empty' 2>/dev/null) && export CLIENT_ID=\"$id\"",
  "  secret=$(printf '%s' \"$out\" | jq -er '.client_secret // empty' 2>/dev/null) && export CLIENT_SECRET=\"$secret\" SECRET=\"$secret\"",
  "  return 0",
  "}",
  "",
].join("\n");

test("the README's shell examples run as written, in order, on a fresh wrangler dev (D1)", async () => {
  const blocks = shellBlocks();
  const skipped = new Set();
  for (const [phrase] of NOT_RUN_HERE) {
    const i = blocks.findIndex((b) => b.includes(phrase));
    assert.ok(i >= 0, `no README block holds ${JSON.stringify(phrase)}: update NOT_RUN_HERE`);
    skipped.add(i);
  }
  const run = blocks.filter((_, i) => !skipped.has(i));
  assert.ok(run.length >= 5, `the README's runnable examples were found: ${run.length}`);

  const dev = await startWranglerDev({ storage: "d1", keyMode: "byok" });
  try {
    const dir = mkdtempSync(join(tmpdir(), "m2m-readme-"));
    const statusLog = join(dir, "statuses");
    writeFileSync(statusLog, "");
    const script = PRELUDE + run.map((b) => b.replaceAll(README_PORT, dev.base)).join("\n");
    const r = spawnSync("bash", ["-c", script], {
      cwd: dir,
      encoding: "utf8",
      env: { PATH: process.env.PATH, HOME: dir, ADMIN_API_KEY: dev.secrets.ADMIN_API_KEY, STATUS_LOG: statusLog },
      timeout: 60_000,
    });
    const transcript = `--- script ---\n${script}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
    assert.equal(r.status, 0, transcript);
    const statuses = readFileSync(statusLog, "utf8").trim().split("\n");
    const curls = run.join("\n").match(/^\s*(?:[A-Z_]+=\$\()?curl /gm).length;
    assert.equal(statuses.length, curls, `every curl of the examples ran\n${transcript}`);
    for (const line of statuses) assert.match(line, /^2\d\d /, `a README example failed: ${line}\n${transcript}`);
    // The admin-token example lists clients with acme-ci's own token: acme's only.
    const listings = r.stdout.split("\n").filter((l) => l.startsWith('{"clients":')).map((l) => JSON.parse(l));
    assert.equal(listings.length, 1, transcript);
    const projects = listings[0].clients.map((c) => c.project_id);
    assert.deepEqual([...new Set(projects)], ["acme"], transcript);
  } finally {
    await dev.stop();
  }
});
