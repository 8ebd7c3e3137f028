// The runtime's own floor for the token endpoint's work, measured by
// `make bench` beside m2m-edge: a plain JS worker (no wasm) in the same
// workerd that does only what the runtime must do for a token: read a small
// POST body and make one ES256 signature with an imported WebCrypto key,
// then answer ~700 bytes of JSON. Its GET answers a small JSON document, as
// the JWKS does. The gap between its two requests is the least any worker
// can spend on a token here; m2m-edge's own gap is compared against it.
export const script = `
const JSON_HEADERS = { "content-type": "application/json" };
const ALGORITHM = { name: "ECDSA", hash: "SHA-256" };
const INPUT = new TextEncoder().encode("e".repeat(480));
const BODY = JSON.stringify({ access_token: "e".repeat(566), token_type: "Bearer", expires_in: 3600 });
let key;
export default {
  async fetch(request) {
    if (request.method === "GET") return new Response('{"keys":[]}', { headers: JSON_HEADERS });
    await request.arrayBuffer();
    key ??= (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign"])).privateKey;
    await crypto.subtle.sign(ALGORITHM, key, INPUT);
    return new Response(BODY, { headers: { ...JSON_HEADERS, "cache-control": "no-store" } });
  },
};
`;
