// `make bench`: the runtime's floor for verifying a token — a plain JS
// worker that only splits the token and makes one WebCrypto ES256
// verification with a key imported once (no claim checks). Its
// verify − /health gap is the least any verifier can spend here.
let key;
const bytes = (b64url) => Uint8Array.from(atob(b64url.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));

export default {
  async fetch(request, env) {
    if (new URL(request.url).pathname === "/health") return new Response("ok");
    key ??= env.AUTH.fetch(`${env.ISSUER}/.well-known/jwks.json`)
      .then((r) => r.json())
      .then(({ keys: [k] }) =>
        crypto.subtle.importKey("jwk", { kty: "EC", crv: "P-256", x: k.x, y: k.y }, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]),
      );
    const [h, p, s] = (request.headers.get("authorization") ?? "").slice(7).split(".");
    const ok = await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, await key, bytes(s), new TextEncoder().encode(`${h}.${p}`));
    return new Response(ok ? "ok" : "no", { status: ok ? 200 : 401 });
  },
};
