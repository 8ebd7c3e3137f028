// The edge budget for the token service's wasm (part of `make test`): gzip -9 of
// build/index_bg.wasm, in KiB as wrangler reports upload sizes, against
// BUDGET_KIB. Script size is what a fresh isolate compiles before its first
// request, so it sets the cold start; one line says where it stands, and a
// change that crosses the budget fails the build's tests.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const BUDGET_KIB = 300;
const wasm = readFileSync(new URL("../build/index_bg.wasm", import.meta.url));
const gzip = gzipSync(wasm, { level: 9 }).length / 1024;
// The admin Worker's, for the record: it serves no token, so it has no
// budget of its own beyond Cloudflare's script size limit.
const admin = gzipSync(readFileSync(new URL("../build/admin/index_bg.wasm", import.meta.url)), { level: 9 }).length / 1024;
const line = `wasm: ${gzip.toFixed(1)} KiB gzip (budget ${BUDGET_KIB} KiB), ${(wasm.length / 1024).toFixed(1)} KiB raw; the admin Worker's ${admin.toFixed(1)} KiB gzip`;
if (gzip > BUDGET_KIB) {
  console.error(`${line}: over the budget by ${(gzip - BUDGET_KIB).toFixed(1)} KiB (twiggy top on target/wasm32-unknown-unknown/release/m2m_edge_worker.wasm shows what is large)`);
  process.exit(1);
}
console.log(line);
