// Managed-key costs (issue note figures, not a test): the size of an
// encrypted key record, and the first token of a fresh isolate (key set
// read + AES-GCM unseal + WebCrypto import) against warm ones. Each "cold"
// sample starts a new workerd on the same persisted storage.
// Usage: node scripts/key-costs.mjs [samples]
import { mkdtempSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clientFor, startWorker } from "../tests/e2e/harness.mjs";

const samples = Number(process.argv[2] ?? 7);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

for (const mode of ["managed", "byok"]) {
  const persist = mkdtempSync(join(tmpdir(), "m2m-costs-"));
  const bindings = mode === "managed" ? { SIGNING_KEYS: undefined, KEY_ENCRYPTION_KEY: randomBytes(32).toString("base64url") } : {};
  let w = await startWorker({ bindings, persist });
  const client = await clientFor(w).createClient();
  const fixed = w.secrets;
  await clientFor(w).token({ basic: [client.client_id, client.client_secret], form: "grant_type=client_credentials" });
  if (mode === "managed") {
    const row = await (await w.mf.getD1Database("DB")).prepare("SELECT keys FROM key_set WHERE id = 1").first();
    const keys = JSON.parse(row.keys);
    const one = JSON.stringify(keys[0]);
    console.log(`managed key record: ${one.length} bytes of JSON per key (sealed d: ${keys[0].sealed_d.length} chars = 12 B IV + 32 B ciphertext + 16 B tag, base64url); key set of ${keys.length}: ${row.keys.length} bytes`);
  }
  await w.close();
  const cold = [];
  const warm = [];
  for (let i = 0; i < samples; i++) {
    w = await startWorker({ bindings: { ...fixed, ...bindings }, persist, migrate: false });
    const api = clientFor(w);
    const time = async () => {
      const t0 = process.hrtime.bigint();
      const r = await api.token({ basic: [client.client_id, client.client_secret], form: "grant_type=client_credentials" });
      if (r.status !== 200) throw new Error(`token: ${r.status}`);
      return Number(process.hrtime.bigint() - t0) / 1e6;
    };
    cold.push(await time());
    for (let j = 0; j < 5; j++) warm.push(await time());
    await w.close();
  }
  console.log(`${mode}: first token in a fresh isolate median ${median(cold).toFixed(2)} ms; warm tokens median ${median(warm).toFixed(2)} ms (${samples} isolates, Miniflare on loopback)`);
}
