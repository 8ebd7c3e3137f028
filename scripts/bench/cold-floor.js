// Test-only (make bench, scripts/bench/cold.mjs): the runtime's floor for
// a token in a fresh isolate — what any worker must do for its first token
// here, and nothing else: read the body, read one client row from D1,
// import the signing key from the SIGNING_KEYS secret (once per isolate, as
// m2m-edge does), make one ES256 signature, answer ~700 bytes of JSON. Run
// with m2m-edge's own bindings, so the two start alike. `GET /__cold` has
// the same split as cold-probe.mjs, so the two isolates are read alike.
const ALGORITHM = { name: "ECDSA", hash: "SHA-256" };
const INPUT = new TextEncoder().encode("e".repeat(480));
const BODY = JSON.stringify({ access_token: "e".repeat(566), token_type: "Bearer", expires_in: 3600 });
const requests = [];
let key;

export default {
  async fetch(request, env) {
    if (new URL(request.url).pathname === "/__cold") return new Response(JSON.stringify({ requests }));
    const t = performance.now();
    const split = { path: "/oauth2/token" };
    await request.arrayBuffer();
    let at = performance.now();
    await env.DB.prepare("SELECT id, secret_hash, status FROM clients WHERE id = ?").bind("m2m_floor").first();
    split.storage = performance.now() - at;
    if (!key) {
      at = performance.now();
      const jwk = JSON.parse(env.SIGNING_KEYS).keys[0];
      key = await crypto.subtle.importKey("jwk", { ...jwk, ext: true }, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
      split.keyImport = performance.now() - at;
    }
    at = performance.now();
    await crypto.subtle.sign(ALGORITHM, key, INPUT);
    split.signature = performance.now() - at;
    split.total = performance.now() - t;
    split.status = 200;
    requests.push(split);
    return new Response(BODY, { headers: { "content-type": "application/json", "cache-control": "no-store" } });
  },
};
