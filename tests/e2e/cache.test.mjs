// Ring 2: the isolate-level client cache (CLIENT_CACHE_TTL). A change made
// elsewhere — written straight to storage here, as another isolate would —
// is seen after at most the TTL; with the cache off, at once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { clientFor, startWorker } from "./harness.mjs";

const STORAGE = process.env.M2M_STORAGE ?? "d1";

/** Deactivate a client behind the worker's back. */
async function deactivateInStorage(w, id) {
  await (await w.mf.getD1Database("DB")).prepare("UPDATE clients SET status = 'inactive' WHERE id = ?").bind(id).run();
}

for (const ttl of ["2", "0"]) {
  test(`CLIENT_CACHE_TTL=${ttl}: an outside deactivation is seen within the TTL (${STORAGE})`, async () => {
    const w = await startWorker({ bindings: { STORAGE, CLIENT_CACHE_TTL: ttl } });
    try {
      const api = clientFor(w);
      const c = await api.createClient();
      const ask = async () => (await api.token({ basic: [c.client_id, c.client_secret], form: "grant_type=client_credentials" })).status;
      assert.equal(await ask(), 200);
      await deactivateInStorage(w, c.client_id);
      if (ttl === "0") {
        assert.equal(await ask(), 401, "no cache: refused at once");
      } else {
        assert.equal(await ask(), 200, "cached record still used within the TTL");
        await new Promise((r) => setTimeout(r, 3100));
        assert.equal(await ask(), 401, "refused once the TTL has passed");
      }
    } finally {
      await w.close();
    }
  });
}
