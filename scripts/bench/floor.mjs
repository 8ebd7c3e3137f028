// The runtime's own floor for the token endpoint's work, measured by
// `make bench` beside m2m-edge: a plain JS worker (no wasm) in the same
// workerd that does only what the runtime must do for a token: read a small
// POST body and make one ES256 signature with an imported WebCrypto key,
// then answer ~700 bytes of JSON. Its GET answers a small JSON document, as
// the JWKS does. The gap between its two requests is the least any worker
// can spend on a token here; m2m-edge's own gap is compared against it.
// `POST /exchange` adds what a token exchange adds for any worker: one
// WebCrypto RS256 verification (a platform token's, the key imported once),
// against a token exchange's body (EXCHANGE_BODY, the size of the bench's).
export const script = `
const JSON_HEADERS = { "content-type": "application/json" };
const ALGORITHM = { name: "ECDSA", hash: "SHA-256" };
const RS256 = "RSASSA-PKCS1-v1_5";
const INPUT = new TextEncoder().encode("e".repeat(480));
const BODY = JSON.stringify({ access_token: "e".repeat(566), token_type: "Bearer", expires_in: 3600 });
let key;
let platform;
async function platformToken() {
  if (!platform) {
    const pair = await crypto.subtle.generateKey({ name: RS256, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" }, false, ["sign", "verify"]);
    const input = new TextEncoder().encode("p".repeat(900));
    platform = { key: pair.publicKey, input, signature: await crypto.subtle.sign(RS256, pair.privateKey, input) };
  }
  if (!(await crypto.subtle.verify(RS256, platform.key, platform.signature, platform.input))) throw new Error("floor: RS256 refused");
}
export default {
  async fetch(request) {
    if (request.method === "GET") return new Response('{"keys":[]}', { headers: JSON_HEADERS });
    await request.arrayBuffer();
    if (new URL(request.url).pathname === "/exchange") await platformToken();
    key ??= (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign"])).privateKey;
    await crypto.subtle.sign(ALGORITHM, key, INPUT);
    return new Response(BODY, { headers: { ...JSON_HEADERS, "cache-control": "no-store" } });
  },
};
`;

/** A token exchange's form, the size of the one the bench sends m2m-edge (a GitHub-style platform token). */
export const EXCHANGE_BODY = new URLSearchParams({
  grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
  subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
  subject_token: `${"h".repeat(100)}.${"p".repeat(700)}.${"s".repeat(342)}`,
  client_id: "m2m_floor",
}).toString();
